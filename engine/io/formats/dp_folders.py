"""Layout ``dp-folders``: left and right images in sibling folders with the same file names (DPDD
``test_l/source``, ``test_r/source``, RGB ``test_c/source``; Restormer ``inputL``/``inputR``/``inputC``;
``left``/``right``); ``view=`` picks the set when there are several."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from engine.io.formats.files import IMAGE_EXTS, SIDECAR, natural_key, suffix
from engine.io.formats.pairs import open_pairs
from engine.io.formats.registry import COMMON_OPTIONS, InputFormat
from engine.io.formats.sequence import RawSequence

# Sibling folders: (set name, side). DPDD test_l/test_r/test_c, Restormer inputL/inputR/inputC, plain left/right(/rgb).
_SIDE_DIRS = (re.compile(r"^(?P<set>.+)_(?P<side>l|r|c|left|right|center|centre|rgb)$", re.IGNORECASE),
              re.compile(r"^(?P<set>.*[a-z])(?P<side>L|R|C)$"),
              re.compile(r"^(?P<set>)(?P<side>left|right|center|centre|rgb)$", re.IGNORECASE))
_SIDE_NAMES = {"l": "left", "left": "left", "r": "right", "right": "right",
               "c": "rgb", "center": "rgb", "centre": "rgb", "rgb": "rgb"}


def folder_sets(src: Path) -> dict[str, dict[str, Path]]:
    """{set name: {"left": dir, "right": dir[, "rgb": dir]}} of the sibling folders in SRC (dp-folders)."""
    sets: dict[str, dict[str, Path]] = {}
    for d in sorted(p for p in src.iterdir() if p.is_dir()):
        for pattern in _SIDE_DIRS:
            m = pattern.match(d.name)
            if m:
                sets.setdefault(m["set"], {})[_SIDE_NAMES[m["side"].lower()]] = d
                break
    return {k: v for k, v in sets.items() if "left" in v and "right" in v}


def detect(src: Path) -> bool:
    return src.is_dir() and bool(folder_sets(src))


def _side_images(d: Path) -> dict[str, Path]:
    """{stem: path} of the images of one dp-folders side (in ``source/`` when there is one, as in DPDD)."""
    d = d / "source" if (d / "source").is_dir() else d
    out: dict[str, Path] = {}
    for p in sorted(d.iterdir(), key=lambda p: natural_key(p.name)):
        if p.is_file() and suffix(p) in IMAGE_EXTS:
            if p.stem in out:
                raise ValueError(f"{d}: two images for frame {p.stem!r} ({out[p.stem].name}, {p.name}); keep one")
            out[p.stem] = p
    return out


def open_dp_folders(src: Path, *, view: str | None = None, fps=None, black_level=None,
                    white_level=None) -> RawSequence:
    sets = folder_sets(src) if src.is_dir() else {}
    if not sets:
        raise ValueError(f"{src}: no left/right folders (e.g. test_l/ + test_r/, inputL/ + inputR/, left/ + right/) "
                         f"for layout dp-folders")
    label = {k: (k or "(none)") for k in sets}
    if view is None:
        if len(sets) > 1:
            raise ValueError(f"{src}: holds several left/right folder sets ({', '.join(label.values())}); pick one "
                             f"with --view NAME")
        view = next(iter(sets))
    if view not in sets:
        raise ValueError(f"{src}: no left/right folder set {view!r}; found {', '.join(label.values())}")
    dirs = sets[view]
    lefts, rights = _side_images(dirs["left"]), _side_images(dirs["right"])
    rgbs = _side_images(dirs["rgb"]) if "rgb" in dirs else {}
    for have, other, side in ((lefts, rights, "right"), (rights, lefts, "left")):
        extra = [s for s in have if s not in other]
        if extra:
            raise ValueError(f"{have[extra[0]]}: DP pair is incomplete (no {side} image {extra[0]}.* in "
                             f"{dirs[side]}); add it or remove this file")
    stems = sorted(lefts, key=natural_key)
    use_rgb = bool(rgbs) and all(s in rgbs for s in stems)
    pairs = [{"stem": s, "left": lefts[s], "right": rights[s], "rgb": rgbs[s] if use_rgb else None} for s in stems]
    seq = open_pairs(src, "dp-folders", fps, black_level, white_level, pairs=pairs, sidecar_path=src / SIDECAR,
                      name=src.name if not view else f"{src.name}-{view}")
    tags = {**seq.header.tags, "view": view, "left_dir": str(dirs["left"]), "right_dir": str(dirs["right"])}
    if use_rgb:
        tags["rgb_dir"] = str(dirs["rgb"])
    seq.header = replace(seq.header, tags=tags)
    return seq


FORMAT = InputFormat("dp-folders", detect, open_dp_folders, COMMON_OPTIONS | {"view"})

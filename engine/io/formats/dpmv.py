"""Layout ``dpmv``: a dpMV 3-view capture root (``dp_data/{A,B,C}/image_NNN_left.*`` or ``dp_data/image_NNN_*``,
rectified views in ``rectified/``). ``view=`` picks the phone (default B, the centre phone whose DP data the
students train on); ``frame_offset=`` / ``frame_offsets.json`` line the phones' sequences up.

The public helpers (``is_capture_root``, ``phone_folder``, ``phone_offset``, ``open_dpmv``) are also how
models.dpmv reads the DP side of a capture, so training and ``dplf convert`` see the same frames.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from engine.io.formats.files import read_sidecar
from engine.io.formats.pairs import open_pairs
from engine.io.formats.registry import COMMON_OPTIONS, InputFormat
from engine.io.formats.sequence import RawSequence

VIEWS = ("A", "B", "C")  # left, centre (the DP camera the students train on), right phone
FRAME_OFFSETS = "frame_offsets.json"


def is_capture_root(src: Path) -> bool:
    return src.is_dir() and ((src / "dp_data").is_dir() or (src / "rectified").is_dir())


def explain(src: Path) -> str | None:
    """A folder of capture roots is not one: say so (convert one root at a time)."""
    if not src.is_dir():
        return None
    roots = [p.name for p in sorted(src.iterdir()) if is_capture_root(p)]
    if not roots:
        return None
    return (f"{src}: holds {len(roots)} dpMV capture root(s) ({', '.join(roots[:3])}"
            f"{', ...' if len(roots) > 3 else ''}); convert one root at a time: dplf convert {src / roots[0]} OUT.dp")


def frame_number(stem: str) -> int | None:
    m = re.search(r"(\d+)$", stem)
    return int(m.group(1)) if m else None


def read_frame_offsets(root: Path) -> dict[str, int]:
    path = root / FRAME_OFFSETS
    if not path.exists():
        return {}
    side = read_sidecar(path)
    bad = [k for k in side if k not in VIEWS]
    if bad:
        raise ValueError(f"{path}: unknown view(s) {bad}; write {{\"A\": 0, \"B\": 2, \"C\": 1}} (frames to skip at "
                         f"the start of each phone's sequence)")
    for k, v in side.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{path}: offset of view {k} must be an integer >= 0 (frames to skip), got {v!r}")
    return side


def phone_folder(src: Path, view: str | None = None) -> tuple[str, Path]:
    """(view, folder of that phone's DP pairs) of a capture root: dp_data/{A,B,C}/, or dp_data/ itself (one
    camera, taken as the centre phone B). ``view`` defaults to B. One-line ValueError when it is missing."""
    dp_root = src / "dp_data"
    if not dp_root.is_dir():
        raise ValueError(f"{dp_root}: missing folder; a dpMV capture root keeps its DP pairs in "
                         f"dp_data/{{A,B,C}}/image_NNN_left.*/_right.* (or dp_data/ directly for one camera)")
    view = "B" if view is None else str(view).upper()
    if view not in VIEWS:
        raise ValueError(f"{src}: --view {view!r} is not a dpMV phone; use A (left), B (centre) or C (right)")
    subs = [v for v in VIEWS if (dp_root / v).is_dir()]
    if subs:
        if view not in subs:
            raise ValueError(f"{dp_root / view}: no such folder; this capture has DP data for view(s) "
                             f"{', '.join(subs)}: pick one with --view")
        return view, dp_root / view
    if view != "B":
        raise ValueError(f"{dp_root}: holds one camera's DP pairs directly (no A/B/C sub-folders), taken as "
                         f"the centre phone B; drop --view {view} or move them to dp_data/{view}/")
    return view, dp_root


def phone_offset(src: Path, view: str, frame_offset: int | None = None) -> tuple[int, str]:
    """(frames to skip at the start of VIEW's sequence, where that came from): ``frame_offset`` when given,
    else the root's frame_offsets.json, else 0."""
    if frame_offset is not None:
        if isinstance(frame_offset, bool) or int(frame_offset) != frame_offset or frame_offset < 0:
            raise ValueError(f"{src}: --frame-offset must be an integer >= 0 (frames to skip), got {frame_offset!r}")
        return int(frame_offset), "--frame-offset"
    offsets = read_frame_offsets(src)
    return offsets.get(view, 0), FRAME_OFFSETS if view in offsets else "none (0)"


def open_dpmv(src: Path, *, view: str | None = None, frame_offset: int | None = None, fps=None,
              black_level=None, white_level=None) -> RawSequence:
    """One phone of a dpMV capture root as a RawSequence, lined up on the common timeline:
    timestamp = (NNN - offset) / fps for image_NNN; frames with NNN < offset are dropped (also from
    ``seq.pairs``, the frames' files)."""
    view, dp_dir = phone_folder(src, view)
    offset, offset_from = phone_offset(src, view, frame_offset)
    seq = open_pairs(dp_dir, "dpmv", fps, black_level, white_level, name=f"{src.name}-{view}")
    numbers = [frame_number(s) for s in seq.stems]
    if any(n is None for n in numbers):
        if offset:
            bad = seq.stems[numbers.index(None)]
            raise ValueError(f"{dp_dir}: frame {bad!r} has no frame number; a frame offset needs dpMV names "
                             f"image_NNN_left.*/image_NNN_right.*")
        numbers = list(range(len(seq.stems)))
    keep = [k for k, n in enumerate(numbers) if n >= offset]
    if not keep:
        raise ValueError(f"{dp_dir}: frame offset {offset} skips every frame (the last is number {max(numbers)}); "
                         f"check {FRAME_OFFSETS} or --frame-offset")
    fps_ = seq.header.fps
    seq.loaders = [seq.loaders[k] for k in keep]
    seq.stems = [seq.stems[k] for k in keep]
    seq.pairs = [seq.pairs[k] for k in keep]
    seq.timestamps = [(numbers[k] - offset) / fps_ for k in keep]
    tags = {**seq.header.tags, "source": str(src), "layout": "dpmv", "view": view, "dp_folder": str(dp_dir),
            "frame_offset": offset, "frame_offset_from": offset_from,
            "source_frames": [numbers[keep[0]], numbers[keep[-1]]],
            "timestamps": "(NNN - frame_offset) / fps for image_NNN: the three phones' files share one timeline"}
    camera = seq.header.camera or f"dpMV phone {view}"
    seq.header = replace(seq.header, tags=tags, camera=camera)
    return seq


FORMAT = InputFormat("dpmv", is_capture_root, open_dpmv, COMMON_OPTIONS | {"view", "frame_offset"},
                     explain=explain)

"""`dplf convert SRC DST`: DP image sequences, DP GIFs, side-by-side videos and light fields -> .dp, and
.dp -> PNGs (SPEC §3). The user-facing description (layouts, detection, options) is docs/dp-format.md,
"Converters and the PNG export".

Layouts (detected from SRC, or forced with ``layout=`` / ``--layout``):
  hci         HCI LF folder ``input_CamNNN.png``      -> one frame, DP synthesised (SPEC §2)
  lytro       Lytro LF folder ``*_RR_CC.png``          -> one frame, DP synthesised
  pixel4      ``NNN_left.png``/``NNN_right.png`` 16-bit (Google Pixel 4 / PdCapture; black 1024, white 16383)
  dp-pairs    ``*_left.*``/``*_right.*`` or ``*_L.*``/``*_R.*`` (Canon DPDD); optional RGB ``STEM.*`` (dpMV
              ``image_NNN.jpg``), ``STEM_rgb.*`` or ``STEM_C.*``; a ``dp_header.json`` sidecar (written by the
              PNG export) supplies the metadata
  dp-folders  left and right images in sibling folders with the same file names (DPDD ``test_l/source``,
              ``test_r/source``, RGB ``test_c/source``; Restormer ``inputL``/``inputR``/``inputC``;
              ``left``/``right``); ``view=`` picks the set when there are several
  dpmv        a dpMV 3-view capture root (``dp_data/{A,B,C}/image_NNN_left.*`` or ``dp_data/image_NNN_*``);
              ``view=`` picks the phone (default B), ``frame_offset=`` / ``frame_offsets.json`` line the
              phones' sequences up
  dp-gif      two-frame DP GIFs (frame 0 = left, frame 1 = right): one file, a folder or a glob
  sbs-video   a side-by-side video (each frame [left | right]) through ``engine.io.video.iter_sbs_video``
  dp          a .dp file -> folder of ``NNNNNN_left.png``/``_right.png``/``_rgb.png`` + ``dp_header.json``
Every non-LF layout takes ``rotate=`` (0/90/180/270 clockwise, or "auto"): the stored planes must have
horizontal DP parallax (SPEC §3); the header's ``orientation`` records how to turn them back for display.
The layout readers (``open_layout``) are shared with ``engine.io.sources``.
"""
from __future__ import annotations

import glob
import json
import os
import re
import time
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Callable, Iterator, Optional

import cv2
import numpy as np
import typer

from engine.conventions import dp_gray, half_aperture_centroid
from engine.io.dpfile import FILE_MAGIC, DPHeader, DPReader, DPWriter
from engine.io.lightfield import central_slice, lf_view_files, read_rgb, synthesize_dp

LAYOUTS = ("hci", "lytro", "pixel4", "dp-pairs", "dp-folders", "dpmv", "dp-gif", "sbs-video", "dp")
LF_LAYOUTS = ("hci", "lytro")
SIDECAR = "dp_header.json"
FRAME_OFFSETS = "frame_offsets.json"
IMAGE_EXTS = ("png", "jpg", "jpeg", "tif", "tiff", "bmp")
VIDEO_EXTS = ("mp4", "avi", "mov", "mkv", "m4v", "webm", "mpg", "mpeg", "wmv")
ROTATIONS = (0, 90, 180, 270)
DPMV_VIEWS = ("A", "B", "C")  # left, centre (the DP camera the students train on), right phone
_EXT = "|".join(IMAGE_EXTS)
_PAIR_NAMES = (re.compile(rf"^(?P<stem>.+)_(?P<side>left|right)\.(?P<ext>{_EXT})$", re.IGNORECASE),
               re.compile(rf"^(?P<stem>.+)_(?P<side>L|R)\.(?P<ext>(?i:{_EXT}))$"))
_PAIR_STYLE = ("*_left.*/*_right.*", "*_L.*/*_R.*")
_RGB_SUFFIXES = ("", "_rgb", "_C", "_center")
# Sibling folders of the dp-folders layout: (set name, side). DPDD test_l/test_r/test_c, Restormer
# inputL/inputR/inputC, plain left/right(/rgb).
_SIDE_DIRS = (re.compile(r"^(?P<set>.+)_(?P<side>l|r|c|left|right|center|centre|rgb)$", re.IGNORECASE),
              re.compile(r"^(?P<set>.*[a-z])(?P<side>L|R|C)$"),
              re.compile(r"^(?P<set>)(?P<side>left|right|center|centre|rgb)$", re.IGNORECASE))
_SIDE_NAMES = {"l": "left", "left": "left", "r": "right", "right": "right",
               "c": "rgb", "center": "rgb", "centre": "rgb", "rgb": "rgb"}
PIXEL4_BLACK, PIXEL4_WHITE = 1024, 16383
AUTO_ROTATION = 270  # vertical parallax -> turn 90 deg counter-clockwise (a portrait phone/DSLR frame -> sensor)


def _unknown_layout(src, why: str) -> ValueError:
    return ValueError(f"{src}: {why}; known layouts: {', '.join(LAYOUTS)} (force one with --layout NAME)")


class RawSequence:
    """A source's frames in stored form (left/right uint16|uint8 [H, W], rgb uint8 [H, W, 3] or None)
    plus the metadata a .dp header needs. ``load(i)`` reads frame i (random access), ``frames(n)`` streams
    the first n as ``(i, timestamp, left, right, rgb)``; ``header`` describes them (after any rotation)."""

    def __init__(self, layout: str, name: str, header: DPHeader, loaders: list[Callable[[], tuple]],
                 timestamps: list[float] | None = None, stems: list[str] | None = None):
        self.layout, self.name, self.header = layout, name, header
        self.loaders = loaders
        self.timestamps = timestamps
        self.stems = stems
        self.transform: Callable | None = None     # applied to every (left, right, rgb), e.g. a rotation
        self.warnings: list[str] = []
        # what the source's own metadata says about orientation (sidecar); resolved by _orient()
        self.source_orientation = header.orientation
        self.sidecar_rotate = None
        self.exported = False   # a PNG export of a .dp (dp_header.json with "format": "dplf-dp")
        self._first = None

    def __len__(self) -> int:
        return len(self.loaders)

    def _raw(self, i: int) -> tuple:
        if i == 0 and self._first is not None:
            first, self._first = self._first, None
            return first
        return self.loaders[i]()

    def first_raw(self) -> tuple:
        """Frame 0 before ``transform`` (cached for the next ``load(0)``)."""
        if self._first is None:
            self._first = self.loaders[0]()
        return self._first

    def _out(self, frame: tuple) -> tuple:
        return frame if self.transform is None else self.transform(*frame)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self._out(self._raw(i))

    def timestamp(self, i: int) -> float:
        return self.timestamps[i] if self.timestamps else i / self.header.fps

    def frames(self, n: int | None = None) -> Iterator[tuple]:
        """(i, timestamp, left, right, rgb) for the first n frames (all by default), in order."""
        n = len(self) if n is None else min(n, len(self))
        for i in range(n):
            yield (i, self.timestamp(i)) + tuple(self.load(i))


class _StreamSequence(RawSequence):
    """A sequential source (video): ``frames()`` streams with constant memory; ``len()`` and ``load(i)`` work
    (for engine.io.sources) but decode from the start when needed."""

    def __init__(self, layout: str, name: str, header: DPHeader, iterate: Callable, first: tuple,
                 fixed_fps: bool):
        super().__init__(layout, name, header, [])
        self._iterate = iterate          # max_frames -> iterator of (timestamp, left, right, rgb)
        self._first = first
        self._fixed_fps = fixed_fps      # timestamps are i / fps (--fps given) instead of the video's
        self._count: int | None = None
        self._cursor = None
        self._pos = 0
        self._stamps: dict[int, float] = {}

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(1 for _ in self._iterate(None))
        return self._count

    def first_raw(self) -> tuple:
        return self._first[1:]

    def _raw(self, i: int) -> tuple:
        if self._cursor is None or i < self._pos:
            self._cursor, self._pos = self._iterate(None), 0
        for ts, left, right, rgb in self._cursor:
            self._pos += 1
            if self._pos - 1 == i:
                self._stamps[i] = ts
                return left, right, rgb
        raise IndexError(f"{self.name}: frame {i} is past the end of the video")

    def timestamp(self, i: int) -> float:
        if self._fixed_fps:
            return i / self.header.fps
        return self._stamps.get(i, i / self.header.fps)

    def frames(self, n: int | None = None) -> Iterator[tuple]:
        for i, (ts, left, right, rgb) in enumerate(self._iterate(n)):
            ts = i / self.header.fps if self._fixed_fps else ts
            yield (i, ts) + tuple(self._out((left, right, rgb)))


# ---------------------------------------------------------------- detection

def _natural_key(s: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def _is_glob(src) -> bool:
    return any(ch in str(src) for ch in "*?[")


def _list_files(src: Path) -> list[Path]:
    if src.is_dir():
        return sorted((p for p in src.iterdir() if p.is_file()), key=lambda p: _natural_key(p.name))
    if _is_glob(src):
        return _glob_files(str(src))
    return []


def _glob_files(pattern: str) -> list[Path]:
    """Files matching a glob, plus their pair partners / RGB / sidecar in the same folders
    (so ``dir/*_left.png`` selects whole pairs)."""
    matches = {Path(p) for p in glob.glob(pattern) if Path(p).is_file()}
    stems = {m["stem"] for p in matches for pat in _PAIR_NAMES if (m := pat.match(p.name))}
    out = set(matches)
    for folder in {p.parent for p in matches}:
        for p in folder.iterdir():
            if p.is_file() and (p.name == SIDECAR or any(p.name.startswith((s + "_", s + ".")) for s in stems)):
                out.add(p)
    return sorted(out, key=lambda p: _natural_key(p.name))


def _is_dp_file(src: Path) -> bool:
    if not src.is_file():
        return False
    with open(src, "rb") as f:
        return f.read(len(FILE_MAGIC)) == FILE_MAGIC


def _suffix(p: Path) -> str:
    return p.suffix[1:].lower()


def _pairs(files: list[Path]) -> list[dict]:
    """Group DP pair files by stem: [{stem, left, right, rgb}] in natural order. One clear ValueError for a
    pair with a side missing, two files for one side, or a folder that mixes the two naming styles."""
    by_name = {p.name: p for p in files}
    groups: dict[str, dict] = {}
    styles: dict[int, Path] = {}
    for p in files:
        for k, pattern in enumerate(_PAIR_NAMES):
            m = pattern.match(p.name)
            if m:
                side = "left" if m["side"].lower() in ("left", "l") else "right"
                g = groups.setdefault(m["stem"], {"stem": m["stem"]})
                if side in g:
                    raise ValueError(f"{p.parent}: two {side} images for frame {m['stem']!r} ({g[side].name}, "
                                     f"{p.name}); keep one of them")
                g[side] = p
                styles.setdefault(k, p)
                break
    if len(styles) > 1:
        raise ValueError(f"{styles[0].parent}: mixes {_PAIR_STYLE[0]} names ({styles[0].name}) with "
                         f"{_PAIR_STYLE[1]} names ({styles[1].name}); keep one naming style per folder")
    out = []
    for stem in sorted(groups, key=_natural_key):
        g = groups[stem]
        if "left" not in g or "right" not in g:
            have = g.get("left") or g.get("right")
            missing = "right" if "left" in g else "left"
            raise ValueError(f"{have}: DP pair is incomplete (no {missing} image for frame {stem!r}); add it or "
                             f"remove this file")
        g["rgb"] = next((by_name[f"{stem}{suf}.{ext}"] for suf in _RGB_SUFFIXES for ext in IMAGE_EXTS
                         if f"{stem}{suf}.{ext}" in by_name), None)
        out.append(g)
    return out


def _is_dpmv_root(src: Path) -> bool:
    return src.is_dir() and ((src / "dp_data").is_dir() or (src / "rectified").is_dir())


def _dp_folder_sets(src: Path) -> dict[str, dict[str, Path]]:
    """{set name: {"left": dir, "right": dir[, "rgb": dir]}} of the sibling folders in SRC (dp-folders)."""
    sets: dict[str, dict[str, Path]] = {}
    for d in sorted(p for p in src.iterdir() if p.is_dir()):
        for pattern in _SIDE_DIRS:
            m = pattern.match(d.name)
            if m:
                sets.setdefault(m["set"], {})[_SIDE_NAMES[m["side"].lower()]] = d
                break
    return {k: v for k, v in sets.items() if "left" in v and "right" in v}


def detect_layout(src: str | os.PathLike) -> str:
    """Layout name of SRC (one of LAYOUTS); ValueError with one clear line when none fits."""
    src = Path(src)
    if src.is_file():
        if _is_dp_file(src):
            return "dp"
        if _suffix(src) == "gif":
            return "dp-gif"
        if _suffix(src) in VIDEO_EXTS:
            return "sbs-video"
        raise _unknown_layout(src, "is a file but not a .dp file, a DP GIF or a side-by-side video "
                                   f"(.{'/.'.join(VIDEO_EXTS[:3])}...); for image pairs pass their folder or a "
                                   f"glob like DIR/*_left.png")
    if src.is_dir():
        if _is_dpmv_root(src):
            return "dpmv"
        found = lf_view_files(src)
        if found is not None:
            return found[0]
    files = _list_files(src)
    if not files and not src.is_dir():
        raise ValueError(f"{src}: no such file, folder or matching files")
    pairs = _pairs(files)
    if pairs:
        first = pairs[0]["left"]
        if (not any(p.name == SIDECAR for p in files) and all(g["stem"].isdigit() for g in pairs)
                and _is_16bit_png(first)):
            return "pixel4"
        return "dp-pairs"
    if src.is_dir() and _dp_folder_sets(src):
        return "dp-folders"
    if any(_suffix(p) == "gif" for p in files):
        return "dp-gif"
    if src.is_dir():
        roots = [p.name for p in sorted(src.iterdir()) if _is_dpmv_root(p)]
        if roots:
            raise ValueError(f"{src}: holds {len(roots)} dpMV capture root(s) ({', '.join(roots[:3])}"
                             f"{', ...' if len(roots) > 3 else ''}); convert one root at a time: "
                             f"dplf convert {src / roots[0]} OUT.dp")
    raise _unknown_layout(src, "found no light-field views, DP pairs (*_left.*/*_right.*, *_L.*/*_R.*), "
                               "left/right folders, dpMV dp_data/ or DP GIFs")


# ---------------------------------------------------------------- readers

def _read_plane(path: Path) -> np.ndarray:
    """A DP plane as stored: [H, W] uint8 or uint16 (a colour image becomes its channel mean)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if Path(path).is_file() else None
    if img is None:
        raise ValueError(f"{path}: cannot read this image (missing, empty, truncated or not an image); "
                         f"replace the file or remove its frame")
    if img.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: {img.dtype} images are not supported; DP planes must be 8- or 16-bit")
    if img.ndim == 3:
        img = img[..., :3]
        img = img[..., 0] if (img == img[..., :1]).all() else np.rint(img.mean(axis=-1)).astype(img.dtype)
    return img


def _read_rgb(path: Path) -> np.ndarray:
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such RGB image; restore it or remove its frame")
    try:
        return read_rgb(path)
    except ValueError as e:
        raise ValueError(f"{e} (missing, empty, truncated or not an image); replace the file or remove its "
                         f"frame") from None


def _header_size(path: Path) -> tuple[int, int, str] | None:
    """(width, height, kind) from a PNG (IHDR: size and bit depth) or GIF (logical screen) header without
    decoding it; None for other formats or unreadable headers (the decoder reports those)."""
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"), f"{head[24]}-bit PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little"), "GIF"
    return None


def _is_16bit_png(path: Path) -> bool:
    got = _header_size(path)
    if got is None:
        return _suffix(path) == "png" and _read_plane(path).dtype == np.uint16
    return got[2] == "16-bit PNG"


def _check_sizes(paths: list[Path], what: str = "frame") -> None:
    """Fail early (before anything is written) when PNG/GIF headers show files of different size or bit
    depth than the first such file; other formats are checked as they are decoded."""
    ref = None
    for p in paths:
        got = _header_size(p)
        if got is None:
            continue
        if ref is None:
            ref = (p, got)
        elif got != ref[1]:
            (w0, h0, k0), (w, h, k) = ref[1], got
            raise ValueError(f"{p}: {w}x{h} {k} differs from the first {what} ({ref[0].name}: {w0}x{h0} {k0}); "
                             f"all frames of a .dp have one size and bit depth, so convert the others separately")


def _colour_pair_planes(left: np.ndarray, right: np.ndarray):
    """uint8 RGB halves [H, W, 3] -> (left plane, right plane, rgb): planes = engine.conventions.dp_gray
    (channel mean) rounded to uint8; rgb = the rounded mean of the two halves (the full-aperture image is
    the sum of the two DP halves)."""
    lf, rf = left.astype(np.float32), right.astype(np.float32)
    q = lambda x: np.rint(x).astype(np.uint8)  # noqa: E731
    return q(dp_gray(lf)), q(dp_gray(rf)), q((lf + rf) * np.float32(0.5))


def _pair_loader(g: dict, shape: tuple, dtype: np.dtype, with_rgb: bool):
    def load():
        left, right = _read_plane(g["left"]), _read_plane(g["right"])
        if left.shape != right.shape or left.dtype != right.dtype:
            raise ValueError(f"{g['right']}: {right.shape[1]}x{right.shape[0]} {right.dtype} does not match its "
                             f"left image {g['left'].name} ({left.shape[1]}x{left.shape[0]} {left.dtype}); "
                             f"both halves of a DP pair must have the same size and bit depth")
        for p, a in ((g["left"], left), (g["right"], right)):
            if a.shape != shape or a.dtype != dtype:
                raise ValueError(f"{p}: {a.shape[1]}x{a.shape[0]} {a.dtype} differs from the first frame "
                                 f"({shape[1]}x{shape[0]} {dtype}); all frames must match")
        rgb = None
        if with_rgb:
            rgb = _read_rgb(g["rgb"])
            if rgb.shape[:2] != shape:
                raise ValueError(f"{g['rgb']}: RGB size {rgb.shape[1]}x{rgb.shape[0]} differs from the DP "
                                 f"planes ({shape[1]}x{shape[0]})")
        return left, right, rgb
    return load


def _read_sidecar(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        side = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: invalid JSON ({e}); fix or delete the file") from None
    if not isinstance(side, dict):
        raise ValueError(f"{path}: must be a JSON object (like the dp_header.json that `dplf convert X.dp DIR` "
                         f"writes)")
    return side


def _open_pairs(src: Path, layout: str, fps, black_level, white_level, *, pairs: list[dict] | None = None,
                sidecar_path: Path | None = None, name: str | None = None) -> RawSequence:
    """A RawSequence over DP pairs ({stem, left, right, rgb}); by default those of the files of SRC."""
    files = _list_files(src) if pairs is None else []
    if pairs is None:
        pairs = _pairs(files)
        sidecar_path = next((p for p in files if p.name == SIDECAR), None)
    if not pairs:
        raise ValueError(f"{src}: no DP pairs found (*_left.*/*_right.*, *_L.*/*_R.*) for layout {layout}")
    _check_sizes([p for g in pairs for p in (g["left"], g["right"])])
    first = _read_plane(pairs[0]["left"])
    shape, dtype = first.shape, first.dtype
    bit_depth = 16 if dtype == np.uint16 else 8
    if layout == "pixel4" and bit_depth != 16:
        raise ValueError(f"{pairs[0]['left']}: the pixel4 layout expects 16-bit PNGs, this one is 8-bit; use "
                         f"--layout dp-pairs (or give --black-level/--white-level)")
    with_rgb = [g["rgb"] is not None for g in pairs]
    if any(with_rgb) and not all(with_rgb):
        missing = next(g for g in pairs if g["rgb"] is None)
        have = next(g for g in pairs if g["rgb"] is not None)
        raise ValueError(f"{src}: RGB images exist for some frames ({have['rgb'].name}) but not for "
                         f"{missing['stem']!r}; add the missing ones or remove them all")
    sidecar = _read_sidecar(sidecar_path)
    if layout == "pixel4":
        defaults = dict(black_level=PIXEL4_BLACK, white_level=PIXEL4_WHITE, camera="Google Pixel 4")
    else:
        defaults = dict(black_level=0, white_level=(1 << bit_depth) - 1, camera="")
    meta = {**defaults, **{k: sidecar[k] for k in ("black_level", "white_level", "camera", "fps", "orientation",
                                                   "calibration") if k in sidecar}}
    for key, value in (("fps", fps), ("black_level", black_level), ("white_level", white_level)):
        if value is not None:
            meta[key] = value
    # A sidecar (PNG export of a .dp) keeps the data's original source/layout tags.
    tags = {"source": str(src), "layout": layout, **sidecar.get("tags", {})}
    try:
        header = DPHeader(width=shape[1], height=shape[0], fps=float(meta.get("fps", 30.0)), bit_depth=bit_depth,
                          black_level=int(meta["black_level"]), white_level=int(meta["white_level"]),
                          orientation=int(meta.get("orientation", 0)), camera=str(meta["camera"]),
                          calibration=meta.get("calibration"), tags=tags, has_rgb=all(with_rgb))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{sidecar_path or src}: bad metadata value ({e})") from None
    stamps = sidecar.get("timestamps")
    stamps = stamps if isinstance(stamps, list) and len(stamps) == len(pairs) and fps is None else None
    name = name or (src.name if src.is_dir() else src.parent.name)
    seq = RawSequence(layout, name, header, [_pair_loader(g, shape, dtype, header.has_rgb) for g in pairs],
                      stamps, [g["stem"] for g in pairs])
    seq.exported = sidecar.get("format") == "dplf-dp"
    seq.sidecar_rotate = sidecar.get("rotate")
    if seq.sidecar_rotate is not None:
        seq.sidecar_rotate = _parse_rotate(seq.sidecar_rotate, f"{sidecar_path}: \"rotate\"")
    return seq


def _frame_number(stem: str) -> int | None:
    m = re.search(r"(\d+)$", stem)
    return int(m.group(1)) if m else None


def _read_frame_offsets(root: Path) -> dict[str, int]:
    path = root / FRAME_OFFSETS
    if not path.exists():
        return {}
    side = _read_sidecar(path)
    bad = [k for k in side if k not in DPMV_VIEWS]
    if bad:
        raise ValueError(f"{path}: unknown view(s) {bad}; write {{\"A\": 0, \"B\": 2, \"C\": 1}} (frames to skip at "
                         f"the start of each phone's sequence)")
    for k, v in side.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{path}: offset of view {k} must be an integer >= 0 (frames to skip), got {v!r}")
    return side


def _open_dpmv(src: Path, view: str | None, frame_offset: int | None, fps, black_level,
               white_level) -> RawSequence:
    """One phone of a dpMV capture root as a RawSequence, lined up on the common timeline:
    timestamp = (NNN - offset) / fps for image_NNN; frames with NNN < offset are dropped."""
    dp_root = src / "dp_data"
    if not dp_root.is_dir():
        raise ValueError(f"{dp_root}: missing folder; a dpMV capture root keeps its DP pairs in "
                         f"dp_data/{{A,B,C}}/image_NNN_left.*/_right.* (or dp_data/ directly for one camera)")
    view = "B" if view is None else str(view).upper()
    if view not in DPMV_VIEWS:
        raise ValueError(f"{src}: --view {view!r} is not a dpMV phone; use A (left), B (centre) or C (right)")
    subs = [v for v in DPMV_VIEWS if (dp_root / v).is_dir()]
    if subs:
        if view not in subs:
            raise ValueError(f"{dp_root / view}: no such folder; this capture has DP data for view(s) "
                             f"{', '.join(subs)}: pick one with --view")
        dp_dir = dp_root / view
    else:
        if view != "B":
            raise ValueError(f"{dp_root}: holds one camera's DP pairs directly (no A/B/C sub-folders), taken as "
                             f"the centre phone B; drop --view {view} or move them to dp_data/{view}/")
        dp_dir = dp_root
    if frame_offset is not None:
        if isinstance(frame_offset, bool) or int(frame_offset) != frame_offset or frame_offset < 0:
            raise ValueError(f"{src}: --frame-offset must be an integer >= 0 (frames to skip), got {frame_offset!r}")
        offset, offset_from = int(frame_offset), "--frame-offset"
    else:
        offsets = _read_frame_offsets(src)
        offset = offsets.get(view, 0)
        offset_from = FRAME_OFFSETS if view in offsets else "none (0)"
    seq = _open_pairs(dp_dir, "dpmv", fps, black_level, white_level, name=f"{src.name}-{view}")
    numbers = [_frame_number(s) for s in seq.stems]
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
    seq.timestamps = [(numbers[k] - offset) / fps_ for k in keep]
    tags = {**seq.header.tags, "source": str(src), "layout": "dpmv", "view": view, "dp_folder": str(dp_dir),
            "frame_offset": offset, "frame_offset_from": offset_from,
            "source_frames": [numbers[keep[0]], numbers[keep[-1]]],
            "timestamps": "(NNN - frame_offset) / fps for image_NNN: the three phones' files share one timeline"}
    camera = seq.header.camera or f"dpMV phone {view}"
    seq.header = replace(seq.header, tags=tags, camera=camera)
    return seq


def _side_images(d: Path) -> dict[str, Path]:
    """{stem: path} of the images of one dp-folders side (in ``source/`` when there is one, as in DPDD)."""
    d = d / "source" if (d / "source").is_dir() else d
    out: dict[str, Path] = {}
    for p in sorted(d.iterdir(), key=lambda p: _natural_key(p.name)):
        if p.is_file() and _suffix(p) in IMAGE_EXTS:
            if p.stem in out:
                raise ValueError(f"{d}: two images for frame {p.stem!r} ({out[p.stem].name}, {p.name}); keep one")
            out[p.stem] = p
    return out


def _open_dp_folders(src: Path, view: str | None, fps, black_level, white_level) -> RawSequence:
    sets = _dp_folder_sets(src) if src.is_dir() else {}
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
    stems = sorted(lefts, key=_natural_key)
    use_rgb = bool(rgbs) and all(s in rgbs for s in stems)
    pairs = [{"stem": s, "left": lefts[s], "right": rights[s], "rgb": rgbs[s] if use_rgb else None} for s in stems]
    seq = _open_pairs(src, "dp-folders", fps, black_level, white_level, pairs=pairs, sidecar_path=src / SIDECAR,
                      name=src.name if not view else f"{src.name}-{view}")
    tags = {**seq.header.tags, "view": view, "left_dir": str(dirs["left"]), "right_dir": str(dirs["right"])}
    if use_rgb:
        tags["rgb_dir"] = str(dirs["rgb"])
    seq.header = replace(seq.header, tags=tags)
    return seq


def _read_gif(path: Path) -> list[np.ndarray]:
    """Every frame of a GIF as uint8 RGB [H, W, 3] (OpenCV VideoCapture; imreadmulti as a fallback)."""
    frames: list[np.ndarray] = []
    cap = cv2.VideoCapture(str(path))
    try:
        while cap.isOpened():
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
    finally:
        cap.release()
    if len(frames) < 2:
        ok, multi = cv2.imreadmulti(str(path), flags=cv2.IMREAD_COLOR)
        if ok and len(multi) > len(frames):
            frames = list(multi)
    out = []
    for f in frames:
        if f.ndim == 2:
            f = cv2.cvtColor(f, cv2.COLOR_GRAY2BGR)
        out.append(cv2.cvtColor(f[..., :3], cv2.COLOR_BGR2RGB))
    return out


def _gif_pair(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) uint8 RGB of a DP GIF: frame 0 = left, frame 1 = right; further frames must repeat them."""
    frames = _read_gif(path) if path.is_file() else []
    if len(frames) < 2:
        raise ValueError(f"{path}: decoded {len(frames)} frame(s); a DP GIF holds the left (frame 0) and right "
                         f"(frame 1) image; the file is unreadable, truncated or not a DP GIF")
    left, right = frames[0], frames[1]
    if left.shape != right.shape:
        raise ValueError(f"{path}: frame 0 is {left.shape[1]}x{left.shape[0]} but frame 1 is "
                         f"{right.shape[1]}x{right.shape[0]}; the two DP halves must have one size")
    for k in range(2, len(frames)):
        if not np.array_equal(frames[k], frames[k % 2]):
            raise ValueError(f"{path}: frame {k} is not a repeat of frame {k % 2}; dplf reads one DP pair per GIF "
                             f"(frame 0 = left, 1 = right), so split it into one GIF per pair")
    return left, right


def _open_gifs(src: Path, fps, black_level, white_level) -> RawSequence:
    files = [src] if src.is_file() else [p for p in _list_files(src) if _suffix(p) == "gif"]
    if not files:
        raise ValueError(f"{src}: no .gif files for layout dp-gif")
    _check_sizes(files, "GIF")
    first = _colour_pair_planes(*_gif_pair(files[0]))
    shape = first[0].shape

    def loader(k: int, path: Path):
        def load():
            out = first if k == 0 else _colour_pair_planes(*_gif_pair(path))
            if out[0].shape != shape:
                raise ValueError(f"{path}: {out[0].shape[1]}x{out[0].shape[0]} differs from the first GIF "
                                 f"{files[0].name} ({shape[1]}x{shape[0]}); all frames of a .dp have one size, so "
                                 f"convert GIFs of other sizes separately")
            return out
        return load

    tags = {"source": str(src), "layout": "dp-gif", "files": len(files),
            "note": "palette-quantised 8-bit GIF (display-encoded, not linear); planes = channel mean of frame 0 "
                    "(left) and frame 1 (right), rgb = their mean"}
    black = 0 if black_level is None else int(black_level)
    white = 255 if white_level is None else int(white_level)
    header = DPHeader(width=shape[1], height=shape[0], fps=float(fps or 30.0), bit_depth=8, black_level=black,
                      white_level=white, tags=tags, has_rgb=True)
    name = src.stem if src.is_file() else src.parent.name if _is_glob(src) else src.name
    seq = RawSequence("dp-gif", name, header,
                      [loader(k, p) for k, p in enumerate(files)], stems=[p.stem for p in files])
    return seq


def _open_sbs_video(src: Path, fps, black_level, white_level) -> RawSequence:
    """A side-by-side [left | right] video through engine.io.video.iter_sbs_video (imported lazily)."""
    if not src.is_file():
        raise ValueError(f"{src}: no such video file")
    try:
        from engine.io.video import iter_sbs_video
    except ImportError as e:
        raise ValueError(f"{src}: side-by-side video needs engine.io.video.iter_sbs_video, which is not "
                         f"available here ({e}); update dplf or extract the frames to *_left.png/*_right.png") from None

    state: dict = {}

    def iterate(max_frames):
        for index, ts, left, right in iter_sbs_video(src, max_frames=max_frames):
            for side, a in (("left", left), ("right", right)):
                if not (isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3):
                    raise ValueError(f"{src}: frame {index}: the {side} half is not uint8 [H, W, 3]")
            if left.shape != right.shape:
                raise ValueError(f"{src}: frame {index}: left half {left.shape[1]}x{left.shape[0]} and right half "
                                 f"{right.shape[1]}x{right.shape[0]} differ")
            shape = state.setdefault("shape", left.shape)
            if left.shape != shape:
                raise ValueError(f"{src}: frame {index} is {left.shape[1]}x{left.shape[0]} per half, the first "
                                 f"frame {shape[1]}x{shape[0]}; the video changes size")
            yield (float(ts),) + _colour_pair_planes(left, right)

    peek = list(islice(iterate(2), 2))
    if not peek:
        raise ValueError(f"{src}: no frames could be decoded; is it a readable side-by-side video?")
    if fps is None:
        dt = peek[1][0] - peek[0][0] if len(peek) > 1 else 0.0
        fps_, fps_from = (1.0 / dt, "timestamps") if dt > 0 else (30.0, "default")
    else:
        fps_, fps_from = float(fps), "--fps"
    h, w = peek[0][1].shape
    tags = {"source": str(src), "layout": "sbs-video", "fps_from": fps_from,
            "note": "frames split into [left | right] halves; planes = channel mean of each half "
                    "(engine.conventions.dp_gray), rgb = mean of the two halves; 8-bit display-encoded video"}
    header = DPHeader(width=w, height=h, fps=fps_, bit_depth=8,
                      black_level=0 if black_level is None else int(black_level),
                      white_level=255 if white_level is None else int(white_level), tags=tags, has_rgb=True)
    return _StreamSequence("sbs-video", src.stem, header, iterate, peek[0], fixed_fps=fps is not None)


def quantise_dp(left: np.ndarray, right: np.ndarray, rgb: np.ndarray):
    """float [0, 1] planes -> (uint16 round(x * 65535), uint16, uint8 round(rgb * 255))."""
    def q(x, top, dtype):
        return np.rint(np.clip(x, 0.0, 1.0) * top).astype(dtype)
    return q(left, 65535, np.uint16), q(right, 65535, np.uint16), q(rgb, 255, np.uint8)


def _open_light_field(src: Path, layout: str, fps, aperture) -> RawSequence:
    from engine.io.lightfield import load_light_field

    found = lf_view_files(src) if src.is_dir() else None
    if found is None or found[0] != layout:
        raise ValueError(f"{src}: no {layout} light-field views found "
                         f"({'input_CamNNN.png' if layout == 'hci' else '*_RR_CC.png'})")
    k = len(found[1])
    a = k if aperture is None else int(aperture)
    central_slice(k, a)  # validates the aperture before any heavy work
    first = read_rgb(found[1][0][0])
    cbar = half_aperture_centroid(a)
    tags = {"source": str(src), "layout": layout, "aperture": a, "grid": k, "cbar": round(cbar, 6),
            "protocol": "full" if a == k else f"{a}x{a} central views",
            "view_u": f"GT view column offset k (from the centre) sits at u = k / (2 cbar) = k * {1 / (2 * cbar):.6f}",
            "dp_synthesis": "SPEC 2: left/right = half-aperture column means of the channel-mean views, rgb = mean"}
    header = DPHeader(width=first.shape[1], height=first.shape[0], fps=float(fps or 30.0), bit_depth=16,
                      black_level=0, white_level=65535, camera=f"{layout} light field (synthetic DP)",
                      tags=tags, has_rgb=True)

    def load():
        lf = load_light_field(src, grid=k)
        return quantise_dp(*synthesize_dp(lf.views, a))

    return RawSequence(layout, src.name, header, [load])


# ---------------------------------------------------------------- orientation

def parallax_axis(left: np.ndarray, right: np.ndarray, max_side: int = 512) -> tuple[float, float]:
    """Which way the DP parallax of a pair runs: (horizontal share, fit R^2).

    Per 16x16 tile, ``left - right`` is fitted by ``a * dI/dx + b * dI/dy`` of the mean image (the first-order
    effect of a small shift, whatever its sign); the horizontal share is the energy explained by the x terms
    over that of both (1 = horizontal parallax, 0 = vertical), R^2 how much of ``left - right`` the fit explains
    (near 0: no measurable parallax, the share means nothing). Images are reduced to ``max_side`` first.
    """
    lf, rf = np.asarray(left, np.float32), np.asarray(right, np.float32)
    if lf.ndim == 3:
        lf, rf = dp_gray(lf), dp_gray(rf)
    s = min(1.0, max_side / max(lf.shape))
    if s < 1.0:
        size = (max(1, round(lf.shape[1] * s)), max(1, round(lf.shape[0] * s)))
        lf, rf = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (lf, rf))
    lf, rf = (cv2.GaussianBlur(x, (0, 0), 1.0) for x in (lf, rf))
    mean, diff = 0.5 * (lf + rf), lf - rf
    ix = cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=3)
    iy = cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=3)
    t = 16
    hh, ww = (diff.shape[0] // t) * t, (diff.shape[1] // t) * t
    if hh == 0 or ww == 0:
        return 0.5, 0.0

    def tiles(a):
        a = a[:hh, :ww].reshape(hh // t, t, ww // t, t).transpose(0, 2, 1, 3).reshape(-1, t * t).astype(np.float64)
        return a - a.mean(axis=1, keepdims=True)

    d, x, y = tiles(diff), tiles(ix), tiles(iy)
    sxx, syy, sxy = (x * x).sum(1), (y * y).sum(1), (x * y).sum(1)
    sxd, syd, sdd = (x * d).sum(1), (y * d).sum(1), (d * d).sum(1)
    det = sxx * syy - sxy ** 2
    ok = det > 1e-6 * sxx * syy + 1e-20
    safe = np.where(ok, det, 1.0)
    a = np.where(ok, (syy * sxd - sxy * syd) / safe, 0.0)
    b = np.where(ok, (sxx * syd - sxy * sxd) / safe, 0.0)
    ex, ey = float((a * a * sxx).sum()), float((b * b * syy).sum())
    r2 = float((a * sxd + b * syd).sum() / max(float(sdd.sum()), 1e-20))
    return (ex / (ex + ey) if ex + ey > 0 else 0.5), max(0.0, r2)


def parallax_verdict(share: float, r2: float) -> str:
    """'horizontal', 'vertical' or 'unclear' from ``parallax_axis``."""
    if r2 < 0.2:
        return "unclear"
    return "horizontal" if share >= 0.7 else "vertical" if share <= 0.3 else "unclear"


def _parse_rotate(value, where: str = "--rotate"):
    if isinstance(value, str):
        v = value.strip().lower()
        if v == "auto":
            return "auto"
        try:
            value = int(v)
        except ValueError:
            value = v
    if isinstance(value, bool) or value not in ROTATIONS:
        raise ValueError(f"{where} must be 0, 90, 180, 270 (degrees clockwise) or auto, got {value!r}")
    return int(value)


def rotate_planes(deg: int):
    """(left, right, rgb) -> the same turned ``deg`` degrees clockwise (contiguous copies)."""
    k = -(deg // 90)

    def turn(left, right, rgb):
        r = (lambda a: None if a is None else np.ascontiguousarray(np.rot90(a, k)))  # noqa: E731
        return r(left), r(right), r(rgb)
    return turn


def _orient(seq: RawSequence, rotate) -> RawSequence:
    """Resolve the rotation (given, sidecar ``rotate``, or auto), install it and record it in the header."""
    if rotate is not None:
        spec, given = _parse_rotate(rotate), "--rotate"
    elif seq.sidecar_rotate is not None:
        spec, given = seq.sidecar_rotate, f"{SIDECAR} rotate"
    else:
        # the PNG export of a .dp holds planes already stored the dplf way: keep them
        spec, given = (0, f"{SIDECAR} of a .dp export") if seq.exported else ("auto", "auto")
    left, right, _ = seq.first_raw()
    share, r2 = parallax_axis(left, right)
    verdict = parallax_verdict(share, r2)
    deg = (AUTO_ROTATION if verdict == "vertical" else 0) if spec == "auto" else spec
    if deg:
        seq.transform = rotate_planes(deg)
    swap = deg in (90, 270)
    stored = {"horizontal": "vertical", "vertical": "horizontal"}.get(verdict, verdict) if swap else verdict
    h = seq.header
    tags = {**h.tags, "rotate": deg, "rotate_from": given,
            "parallax_check": {"horizontal_share": round(share if not swap else 1.0 - share, 3),
                               "fit_r2": round(r2, 3), "stored": stored}}
    seq.header = replace(h, width=h.height if swap else h.width, height=h.width if swap else h.height,
                         orientation=(seq.source_orientation - deg) % 360, tags=tags)
    if stored == "vertical":
        seq.warnings.append(f"{seq.name}: DP parallax looks vertical in the stored planes (horizontal share "
                            f"{tags['parallax_check']['horizontal_share']:.2f}); dplf needs it horizontal: pass "
                            f"--rotate 90 or 270")
    return seq


def open_layout(src: str | os.PathLike, layout: str | None = None, *, fps: float | None = None,
                black_level: int | None = None, white_level: int | None = None,
                aperture: int | None = None, view: str | None = None, frame_offset: int | None = None,
                rotate: int | str | None = None) -> RawSequence:
    """Open an image-sequence, GIF, video or light-field source as a RawSequence (not the .dp layout).

    ``rotate``: degrees clockwise (0/90/180/270) applied before storing, ``"auto"`` (turn 90 deg
    counter-clockwise when the parallax measures vertical), or None: a sidecar's ``rotate``, else 0 for the
    PNG export of a .dp (dp_header.json with "format": "dplf-dp"), else auto."""
    src = Path(src)
    layout = layout or detect_layout(src)
    if layout not in LAYOUTS:
        raise ValueError(f"{src}: unknown layout {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    if layout == "dp":
        raise ValueError(f"{src}: open .dp files with engine.io.dpfile.DPReader")
    if view is not None and layout not in ("dpmv", "dp-folders"):
        raise ValueError(f"{src}: --view applies to dpmv (phone A/B/C) and dp-folders (folder set) sources, "
                         f"not {layout}")
    if frame_offset is not None and layout != "dpmv":
        raise ValueError(f"{src}: --frame-offset applies to dpMV capture roots (layout dpmv), not {layout}")
    if layout in LF_LAYOUTS:
        if black_level is not None or white_level is not None:
            raise ValueError(f"{src}: --black-level/--white-level do not apply to a light field "
                             f"(synthesised planes are stored 0..65535)")
        if rotate not in (None, 0, "0"):
            raise ValueError(f"{src}: --rotate does not apply to a light field (its DP parallax is horizontal by "
                             f"construction)")
        return _open_light_field(src, layout, fps, aperture)
    if aperture is not None:
        raise ValueError(f"{src}: --aperture applies only to light-field sources (hci, lytro), not {layout}")
    if rotate is not None:
        _parse_rotate(rotate)  # fail before reading anything
    if layout == "dpmv":
        seq = _open_dpmv(src, view, frame_offset, fps, black_level, white_level)
    elif layout == "dp-folders":
        seq = _open_dp_folders(src, view, fps, black_level, white_level)
    elif layout == "dp-gif":
        seq = _open_gifs(src, fps, black_level, white_level)
    elif layout == "sbs-video":
        seq = _open_sbs_video(src, fps, black_level, white_level)
    else:
        seq = _open_pairs(src, layout, fps, black_level, white_level)
    return _orient(seq, rotate)


# ---------------------------------------------------------------- convert

@dataclass
class ConvertReport:
    src: Path
    dst: Path
    layout: str
    frames: int
    width: int
    height: int
    seconds: float
    bytes_written: int
    tags: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def summary(self) -> str:
        rot = self.tags.get("rotate", 0) if isinstance(self.tags, dict) and self.layout != "dp" else 0
        turned = f", planes turned {rot} deg clockwise" if rot else ""
        return (f"dplf convert: {self.frames} frame(s) {self.width}x{self.height} [{self.layout}{turned}] "
                f"{self.src} -> {self.dst} ({self.bytes_written / 1e6:.1f} MB, {self.seconds:.1f} s)")


def _export_png(src: Path, dst: Path, max_frames: int | None) -> tuple[DPHeader, int, int]:
    """.dp -> NNNNNN_left.png / _right.png / _rgb.png + dp_header.json. Writes intact frames before any damage."""
    if dst.suffix.lower() == ".dp" or (dst.exists() and not dst.is_dir()):
        raise ValueError(f"{dst}: exporting a .dp file needs an output folder as DST")
    dst.mkdir(parents=True, exist_ok=True)
    written, total = 0, 0
    with DPReader(src) as reader:
        h = reader.header
        n = len(reader) if max_frames is None else min(len(reader), max_frames)
        stamps = []
        try:
            for i in range(n):
                f = reader[i]
                for plane, arr in (("left", f.left), ("right", f.right)) + ((("rgb", f.rgb[..., ::-1]),)
                                                                            if f.rgb is not None else ()):
                    path = dst / f"{i:06d}_{plane}.png"
                    if not cv2.imwrite(str(path), np.ascontiguousarray(arr)):
                        raise OSError(f"{path}: cannot write PNG (is the folder writable and the disk not full?)")
                    total += path.stat().st_size
                stamps.append(f.timestamp)
                written += 1
            if n == len(reader) and reader.damage is not None:
                raise reader.damage
        finally:
            side = {**h.to_json(), "timestamps": stamps, "source": str(src)}
            (dst / SIDECAR).write_text(json.dumps(side, indent=1))
    return h, written, total


def convert(src: str | os.PathLike, dst: str | os.PathLike, *, layout: str | None = None,
            fps: float | None = None, black_level: int | None = None, white_level: int | None = None,
            aperture: int | None = None, max_frames: int | None = None, view: str | None = None,
            frame_offset: int | None = None, rotate: int | str | None = None) -> ConvertReport:
    """Convert SRC (any layout in LAYOUTS) into DST (.dp, or a PNG folder when SRC is a .dp file)."""
    src, dst = Path(src), Path(dst)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    t0 = time.perf_counter()
    layout = layout or detect_layout(src)
    if layout not in LAYOUTS:
        raise ValueError(f"{src}: unknown layout {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    if layout == "dp":
        if any(v is not None for v in (fps, black_level, white_level, aperture, view, frame_offset, rotate)):
            raise ValueError(f"{src}: --fps/--black-level/--white-level/--aperture/--view/--frame-offset/--rotate "
                             f"do not apply to a .dp export")
        h, n, size = _export_png(src, dst, max_frames)
        return ConvertReport(src, dst, layout, n, h.width, h.height, time.perf_counter() - t0, size, h.tags)
    if dst.suffix.lower() != ".dp":
        raise ValueError(f"{dst}: DST must be a .dp file (e.g. out.dp)")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: DST is the same as SRC")
    seq = open_layout(src, layout, fps=fps, black_level=black_level, white_level=white_level, aperture=aperture,
                      view=view, frame_offset=frame_offset, rotate=rotate)
    dst.parent.mkdir(parents=True, exist_ok=True)
    h = seq.header
    written = 0
    with DPWriter(dst, width=h.width, height=h.height, fps=h.fps, bit_depth=h.bit_depth,
                  black_level=h.black_level, white_level=h.white_level, camera=h.camera,
                  orientation=h.orientation, calibration=h.calibration, tags=h.tags, has_rgb=h.has_rgb) as w:
        try:
            for _, ts, left, right, rgb in seq.frames(max_frames):
                w.write(left, right, rgb=rgb, timestamp=ts)
                written += 1
        except ValueError as e:
            if written:
                raise ValueError(f"{e} [frame {written}; the {written} frame(s) before it are in {dst}]") from None
            raise
    return ConvertReport(src, dst, layout, written, h.width, h.height, time.perf_counter() - t0,
                         dst.stat().st_size, h.tags, list(seq.warnings))


def convert_command(
    src: Path = typer.Argument(..., help="source: LF folder, DP-pair folder or glob, dpMV capture root, DP GIF(s), "
                                         "side-by-side video, or a .dp file"),
    dst: Path = typer.Argument(..., help="output .dp file (or a folder when SRC is a .dp file)"),
    layout: Optional[str] = typer.Option(None, "--layout", help=f"force the layout: {' | '.join(LAYOUTS)}"),
    fps: Optional[float] = typer.Option(None, "--fps", help="frame rate when the source does not say (default 30)"),
    black_level: Optional[int] = typer.Option(None, "--black-level", help="sensor black level (pixel4: 1024)"),
    white_level: Optional[int] = typer.Option(None, "--white-level", help="sensor white level (pixel4: 16383)"),
    aperture: Optional[int] = typer.Option(None, "--aperture", help="LF sources: the central AxA views (default "
                                           "K, full aperture; phone-like: 3 for odd K, 4 for even K)"),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="convert at most this many frames"),
    view: Optional[str] = typer.Option(None, "--view", help="dpmv: phone A | B | C (default B); dp-folders: the "
                                       "folder set (e.g. test for test_l/test_r) when there are several"),
    frame_offset: Optional[int] = typer.Option(None, "--frame-offset", help="dpmv: frames to skip at the start "
                                               "of this phone's sequence (overrides frame_offsets.json)"),
    rotate: Optional[str] = typer.Option(None, "--rotate", help="turn the DP planes 0 | 90 | 180 | 270 degrees "
                                         "clockwise before storing, or auto (default: a sidecar's rotate, else "
                                         "auto: 270 when the parallax measures vertical)"),
) -> None:
    """Convert DP image sequences, DP GIFs, side-by-side videos or a light-field folder to .dp, or a .dp file
    to PNGs (SPEC §3; docs/dp-format.md)."""
    try:
        report = convert(src, dst, layout=layout, fps=fps, black_level=black_level, white_level=white_level,
                         aperture=aperture, max_frames=max_frames, view=view, frame_offset=frame_offset,
                         rotate=rotate)
    except (ValueError, OSError) as e:
        typer.echo(f"dplf convert: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
        raise typer.Exit(2)
    for warning in report.warnings:
        typer.echo(f"dplf convert: warning: {warning}", err=True)
    typer.echo(report.summary())

"""Shared reading helpers of the input formats: file listing (folders and globs, natural order), DP pair
matching by file name, plane / RGB reading, header-only size checks and the sidecar JSON.

Every input layout (engine/io/formats/*.py) and models.dpmv read files through these, so one rule decides
what a pair, a plane or a sidecar is.
"""
from __future__ import annotations

import glob
import json
import re
from pathlib import Path

import cv2
import numpy as np

from engine.conventions import dp_gray
from engine.io.lightfield import read_rgb

IMAGE_EXTS = ("png", "jpg", "jpeg", "tif", "tiff", "bmp")
#: side-by-side video extensions, for `dplf convert` and `dplf run` alike
VIDEO_EXTS = ("mp4", "avi", "mov", "mkv", "m4v", "webm", "mpg", "mpeg", "wmv", "ts", "flv")
SIDECAR = "dp_header.json"
_EXT = "|".join(IMAGE_EXTS)
PAIR_NAMES = (re.compile(rf"^(?P<stem>.+)_(?P<side>left|right)\.(?P<ext>{_EXT})$", re.IGNORECASE),
              re.compile(rf"^(?P<stem>.+)_(?P<side>L|R)\.(?P<ext>(?i:{_EXT}))$"))
PAIR_STYLES = ("*_left.*/*_right.*", "*_L.*/*_R.*")
RGB_SUFFIXES = ("", "_rgb", "_C", "_center")


def natural_key(s: str) -> list:
    """Sort key: digit runs compare as numbers ("f2" < "f10")."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def is_glob(src) -> bool:
    return any(ch in str(src) for ch in "*?[")


def suffix(p: Path) -> str:
    """The extension without the dot, lower case."""
    return p.suffix[1:].lower()


def is_video_path(path) -> bool:
    """True for a file name with a side-by-side video extension (VIDEO_EXTS)."""
    return suffix(Path(path)) in VIDEO_EXTS


def list_files(src: Path) -> list[Path]:
    """The files of a folder, or those a glob selects (see glob_files), in natural order; [] otherwise."""
    if src.is_dir():
        return sorted((p for p in src.iterdir() if p.is_file()), key=lambda p: natural_key(p.name))
    if is_glob(src):
        return glob_files(str(src))
    return []


def glob_files(pattern: str) -> list[Path]:
    """Files matching a glob, plus their pair partners / RGB / sidecar in the same folders
    (so ``dir/*_left.png`` selects whole pairs)."""
    matches = {Path(p) for p in glob.glob(pattern) if Path(p).is_file()}
    stems = {m["stem"] for p in matches for pat in PAIR_NAMES if (m := pat.match(p.name))}
    out = set(matches)
    for folder in {p.parent for p in matches}:
        for p in folder.iterdir():
            if p.is_file() and (p.name == SIDECAR or any(p.name.startswith((s + "_", s + ".")) for s in stems)):
                out.add(p)
    return sorted(out, key=lambda p: natural_key(p.name))


def pair_files(files: list[Path]) -> list[dict]:
    """Group DP pair files by stem: [{stem, left, right, rgb}] in natural order. One clear ValueError for a
    pair with a side missing, two files for one side, or a folder that mixes the two naming styles."""
    by_name = {p.name: p for p in files}
    groups: dict[str, dict] = {}
    styles: dict[int, Path] = {}
    for p in files:
        for k, pattern in enumerate(PAIR_NAMES):
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
        raise ValueError(f"{styles[0].parent}: mixes {PAIR_STYLES[0]} names ({styles[0].name}) with "
                         f"{PAIR_STYLES[1]} names ({styles[1].name}); keep one naming style per folder")
    out = []
    for stem in sorted(groups, key=natural_key):
        g = groups[stem]
        if "left" not in g or "right" not in g:
            have = g.get("left") or g.get("right")
            missing = "right" if "left" in g else "left"
            raise ValueError(f"{have}: DP pair is incomplete (no {missing} image for frame {stem!r}); add it or "
                             f"remove this file")
        g["rgb"] = next((by_name[f"{stem}{suf}.{ext}"] for suf in RGB_SUFFIXES for ext in IMAGE_EXTS
                         if f"{stem}{suf}.{ext}" in by_name), None)
        out.append(g)
    return out


def read_plane(path: Path) -> np.ndarray:
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


def read_frame_rgb(path: Path) -> np.ndarray:
    """A frame's RGB image, uint8 [H, W, 3]; one-line ValueError naming the file when it cannot be read."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such RGB image; restore it or remove its frame")
    try:
        return read_rgb(path)
    except ValueError as e:
        raise ValueError(f"{e} (missing, empty, truncated or not an image); replace the file or remove its "
                         f"frame") from None


def header_size(path: Path) -> tuple[int, int, str] | None:
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


def is_16bit_png(path: Path) -> bool:
    got = header_size(path)
    if got is None:
        return suffix(path) == "png" and read_plane(path).dtype == np.uint16
    return got[2] == "16-bit PNG"


def check_sizes(paths: list[Path], what: str = "frame") -> None:
    """Fail early (before anything is written) when PNG/GIF headers show files of different size or bit
    depth than the first such file; other formats are checked as they are decoded."""
    ref = None
    for p in paths:
        got = header_size(p)
        if got is None:
            continue
        if ref is None:
            ref = (p, got)
        elif got != ref[1]:
            (w0, h0, k0), (w, h, k) = ref[1], got
            raise ValueError(f"{p}: {w}x{h} {k} differs from the first {what} ({ref[0].name}: {w0}x{h0} {k0}); "
                             f"all frames of a .dp have one size and bit depth, so convert the others separately")


def colour_pair_planes(left: np.ndarray, right: np.ndarray):
    """uint8 RGB halves [H, W, 3] -> (left plane, right plane, rgb): planes = engine.conventions.dp_gray
    (channel mean) rounded to uint8; rgb = the rounded mean of the two halves (the full-aperture image is
    the sum of the two DP halves)."""
    lf, rf = left.astype(np.float32), right.astype(np.float32)
    q = lambda x: np.rint(x).astype(np.uint8)  # noqa: E731
    return q(dp_gray(lf)), q(dp_gray(rf)), q((lf + rf) * np.float32(0.5))


def read_sidecar(path: Path | None) -> dict:
    """A JSON object file (dp_header.json, frame_offsets.json); {} when there is none."""
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

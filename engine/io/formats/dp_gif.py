"""Layout ``dp-gif``: two-frame DP GIFs (frame 0 = left, frame 1 = right): one file, a folder or a glob."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from engine.io.dpfile import DPHeader
from engine.io.formats.files import check_sizes, colour_pair_planes, is_glob, list_files, suffix
from engine.io.formats.registry import InputFormat
from engine.io.formats.sequence import RawSequence


def detect(src: Path) -> bool:
    """A .gif file, or a folder / glob holding GIFs (checked after the pair layouts)."""
    if src.is_file():
        return suffix(src) == "gif"
    return any(suffix(p) == "gif" for p in list_files(src))


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


def open_gifs(src: Path, *, fps=None, black_level=None, white_level=None) -> RawSequence:
    files = [src] if src.is_file() else [p for p in list_files(src) if suffix(p) == "gif"]
    if not files:
        raise ValueError(f"{src}: no .gif files for layout dp-gif")
    check_sizes(files, "GIF")
    first = colour_pair_planes(*_gif_pair(files[0]))
    shape = first[0].shape

    def loader(k: int, path: Path):
        def load():
            out = first if k == 0 else colour_pair_planes(*_gif_pair(path))
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
    name = src.stem if src.is_file() else src.parent.name if is_glob(src) else src.name
    seq = RawSequence("dp-gif", name, header,
                      [loader(k, p) for k, p in enumerate(files)], stems=[p.stem for p in files])
    return seq


FORMAT = InputFormat("dp-gif", detect, open_gifs)

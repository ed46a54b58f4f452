"""Layout ``pixel4``: Google Pixel 4 / PdCapture DP pairs ``NNN_left.png`` / ``NNN_right.png``, 16-bit
(black level 1024, white level 16383)."""
from __future__ import annotations

from pathlib import Path

from engine.io.formats.files import SIDECAR, is_16bit_png, list_files, pair_files
from engine.io.formats.pairs import open_pairs
from engine.io.formats.registry import InputFormat

PIXEL4_BLACK, PIXEL4_WHITE = 1024, 16383


def detect(src: Path) -> bool:
    """Numbered pairs, no sidecar, 16-bit PNG planes."""
    files = list_files(src)
    pairs = pair_files(files)
    return bool(pairs) and (not any(p.name == SIDECAR for p in files) and all(g["stem"].isdigit() for g in pairs)
                            and is_16bit_png(pairs[0]["left"]))


def _defaults(first: Path, bit_depth: int) -> dict:
    if bit_depth != 16:
        raise ValueError(f"{first}: the pixel4 layout expects 16-bit PNGs, this one is 8-bit; use "
                         f"--layout dp-pairs (or give --black-level/--white-level)")
    return dict(black_level=PIXEL4_BLACK, white_level=PIXEL4_WHITE, camera="Google Pixel 4")


def open_pixel4(src: Path, *, fps=None, black_level=None, white_level=None):
    return open_pairs(src, "pixel4", fps, black_level, white_level, defaults=_defaults)


FORMAT = InputFormat("pixel4", detect, open_pixel4)

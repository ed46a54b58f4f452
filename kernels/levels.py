"""Plane normalisation: raw sensor codes -> float32 [0, 1]. The one definition the CPU and GPU paths share.

An integer plane (uint8 or uint16) becomes clip((x - black) / (white - black), 0, 1); `white` defaults to the
dtype's maximum. The result is defined by a table with one float32 entry per code (`levels_table`): the CPU
path indexes it with numpy, the GPU path uploads the same table and indexes it in `preprocess.cu`, so both
give the same bits. Rounding inside the table is kept exactly as dplf has always computed it, because the
shipped networks' outputs move by up to pixels when an input value moves by one float32 step: 8-bit codes
multiply by the float32 reciprocal of the range, 16-bit codes divide by the range in float32.
"""
from __future__ import annotations

import functools
import math

import numpy as np

INTEGER_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def check_levels(dtype, black_level: float = 0.0, white_level: float | None = None,
                 name: str = "plane") -> tuple[float, float]:
    """(black, white) for a plane of `dtype`; one-line ValueError when they are not finite or white <= black."""
    white = float(np.iinfo(dtype).max) if white_level is None else float(white_level)
    black = float(black_level)
    if not (math.isfinite(black) and math.isfinite(white)):
        raise ValueError(f"{name}: black level {black} and white level {white} must be finite numbers")
    if white <= black:
        raise ValueError(f"{name}: white level {white} must exceed black level {black}")
    return black, white


@functools.lru_cache(maxsize=32)
def _table(dtype_str: str, black: float, white: float) -> np.ndarray:
    dtype = np.dtype(dtype_str)
    codes = np.arange(np.iinfo(dtype).max + 1, dtype=np.float32) - np.float32(black)
    if dtype == np.uint8:
        table = codes * np.float32(1.0 / (white - black))
    else:
        table = codes / np.float32(white - black)
    table = np.clip(table, 0.0, 1.0).astype(np.float32)
    table.setflags(write=False)
    return table


def levels_table(dtype, black_level: float = 0.0, white_level: float | None = None,
                 name: str = "plane") -> np.ndarray:
    """float32 [2**bits]: the normalised value of every code of an integer `dtype` (read-only, cached)."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype not in INTEGER_DTYPES:
        raise ValueError(f"{name} has dtype {dtype}; integer planes must be uint8 or uint16")
    black, white = check_levels(dtype, black_level, white_level, name)
    return _table(dtype.str, black, white)


def normalise_codes(plane: np.ndarray, black_level: float = 0.0, white_level: float | None = None,
                    name: str = "plane", out: np.ndarray | None = None) -> np.ndarray:
    """uint8/uint16 array of any shape -> float32 in [0, 1] by `levels_table` (into `out` when given)."""
    table = levels_table(plane.dtype, black_level, white_level, name)
    plane = plane if plane.dtype.isnative else plane.astype(plane.dtype.newbyteorder("="))
    return np.take(table, plane, out=out)

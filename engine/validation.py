"""Input checks for user-facing entry points: one clear line (what, where, what to do) per problem.

Used by `engine.Pipeline` (CPU and GPU paths). The cases and their messages are listed in docs/bad-input.md.
"""
from __future__ import annotations

import math

import numpy as np

from .kernel_package import load as _load_kernels

normalise_codes = _load_kernels("levels").normalise_codes

MIN_SIDE = 8
MAX_BASELINE = 100.0   # grid half-extent in aperture units; beyond this the views are mostly smear
_FLOATS = (np.float16, np.float32, np.float64)


def _native(arr: np.ndarray) -> np.ndarray:
    """Big-endian (non-native) uint16/float planes, e.g. from a FITS or raw reader, in native byte order."""
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def check_pair(left, right, rgb=None) -> None:
    """Shapes: left, right [H, W] (at least MIN_SIDE x MIN_SIDE; any H, W: odd sizes are padded internally);
    rgb [H, W, 3] or None. left and right must share an integer dtype (the bit depth decides the scaling)."""
    for name, arr in (("left", left), ("right", right)):
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"{name} must be a numpy array, got {type(arr).__name__}")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D [H, W] plane, got shape {arr.shape}; pass one channel per DP view")
    if left.shape != right.shape:
        raise ValueError(f"left {left.shape} and right {right.shape} differ in size; pass a matching DP pair")
    if min(left.shape) < MIN_SIDE:
        raise ValueError(f"DP planes of {left.shape} are too small; need at least {MIN_SIDE}x{MIN_SIDE} pixels")
    lt, rt = left.dtype.newbyteorder("="), right.dtype.newbyteorder("=")
    if lt != rt and (lt.kind in "ui" or rt.kind in "ui"):
        raise ValueError(f"left is {lt} but right is {rt}; pass both DP planes with the same dtype (bit depth)")
    if rgb is not None:
        if not isinstance(rgb, np.ndarray) or rgb.shape != left.shape + (3,):
            shape = getattr(rgb, "shape", type(rgb).__name__)
            raise ValueError(f"rgb must be [H, W, 3] = {left.shape + (3,)} to match the DP pair, got {shape}")


def check_baseline(baseline, flag: str = "--baseline") -> float:
    """A view-grid baseline: finite and in (0, MAX_BASELINE] (a negative one would mirror the grid)."""
    try:
        value = float(baseline)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a number, got {baseline!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{flag} must be a finite number, got {baseline}")
    if not 0.0 < value <= MAX_BASELINE:
        raise ValueError(f"{flag} must be > 0 and <= {MAX_BASELINE:g} (the grid's half-extent in aperture units, "
                         f"1 = the physical aperture), got {value:g}")
    return value


def as_unit_plane(arr: np.ndarray, name: str, black_level: float = 0.0, white_level: float | None = None) -> np.ndarray:
    """Normalise a plane (or an [H, W, 3] image) to float32 [0, 1]. uint8 / uint16: clip((x - black) / (white - black),
    0, 1) with white defaulting to the dtype's maximum (`kernels.levels`, shared with the GPU path); floats must be
    finite and in [0, 1] (values within 1e-3 outside are clipped)."""
    arr = _native(arr)
    if arr.dtype in (np.uint8, np.uint16):
        return normalise_codes(arr, black_level, white_level, name)
    if arr.dtype in _FLOATS:
        out = np.asarray(arr, dtype=np.float32)
        if not np.isfinite(out).all():
            bad = np.argwhere(~np.isfinite(out))[0]
            where = f"row {bad[0]}, col {bad[1]}" + (f", channel {bad[2]}" if len(bad) > 2 else "")
            raise ValueError(f"{name} has NaN/Inf values (first at {where}); clean the input")
        lo, hi = float(out.min()), float(out.max())
        if lo < -1e-3 or hi > 1.0 + 1e-3:
            raise ValueError(f"{name}: float input must be in [0, 1], got [{lo:.3g}, {hi:.3g}]; "
                             f"normalise it or pass uint8/uint16")
        if lo < 0.0 or hi > 1.0:   # rounding noise: clip a copy, never the caller's array
            out = np.clip(out, 0.0, 1.0)
        return out
    raise ValueError(f"{name} has dtype {arr.dtype}; pass uint8, uint16 or float in [0, 1]")

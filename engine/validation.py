"""Input checks for user-facing entry points: one clear line (what, where, what to do) per problem."""
from __future__ import annotations

import numpy as np

MIN_SIDE = 8


def check_pair(left, right, rgb=None) -> None:
    """Shapes: left, right [H, W]; rgb [H, W, 3] or None."""
    for name, arr in (("left", left), ("right", right)):
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"{name} must be a numpy array, got {type(arr).__name__}")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D [H, W] plane, got shape {arr.shape}; pass one channel per DP view")
    if left.shape != right.shape:
        raise ValueError(f"left {left.shape} and right {right.shape} differ in size; pass a matching DP pair")
    if min(left.shape) < MIN_SIDE:
        raise ValueError(f"DP planes of {left.shape} are too small; need at least {MIN_SIDE}x{MIN_SIDE} pixels")
    if rgb is not None:
        if not isinstance(rgb, np.ndarray) or rgb.shape != left.shape + (3,):
            shape = getattr(rgb, "shape", type(rgb).__name__)
            raise ValueError(f"rgb must be [H, W, 3] = {left.shape + (3,)} to match the DP pair, got {shape}")


def as_unit_plane(arr: np.ndarray, name: str, black_level: float = 0.0, white_level: float | None = None) -> np.ndarray:
    """Normalise a plane (or an [H, W, 3] image) to float32 [0, 1]. uint8 /255; uint16 by (x - black) / (white - black) (white
    defaults to 65535); floats must already be in [0, 1] and finite."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1 / 255)
    if arr.dtype == np.uint16:
        white = 65535.0 if white_level is None else float(white_level)
        if white <= black_level:
            raise ValueError(f"{name}: white level {white} must exceed black level {black_level}")
        out = (arr.astype(np.float32) - black_level) / np.float32(white - black_level)
        return np.clip(out, 0.0, 1.0, out=out)
    if arr.dtype in (np.float32, np.float64, np.float16):
        out = np.asarray(arr, dtype=np.float32)
        if not np.isfinite(out).all():
            bad = np.argwhere(~np.isfinite(out))[0]
            raise ValueError(f"{name} has NaN/Inf values (first at row {bad[0]}, col {bad[1]}); clean the input")
        if out.min() < -1e-3 or out.max() > 1.0 + 1e-3:
            raise ValueError(f"{name}: float input must be in [0, 1], got [{out.min():.3g}, {out.max():.3g}]; "
                             f"normalise it or pass uint8/uint16")
        return out
    raise ValueError(f"{name} has dtype {arr.dtype}; pass uint8, uint16 or float in [0, 1]")


"""Raw DP/RGB -> normalised, padded NCHW model inputs, and the crop back.

Normalisation of the DP planes: float input is taken as already in [0, 1] (copied as is); integer input
(uint8 / uint16) becomes clip((x - black_level) / (white_level - black_level), 0, 1), white_level
defaulting to the dtype's maximum. RGB: float as is, uint8 / 255, uint16 / 65535. With no RGB the
model gets (left + right) / 2 on all three channels (docs/architecture.md). Padding replicates the last
row / column up to the next multiple of `multiple` (bottom and right only, so crop is a plain slice).
"""
from __future__ import annotations

import numpy as np

from .levels import normalise_codes

_INT_TYPES = (np.uint8, np.uint16)


def padded_size(height: int, width: int, multiple: int = 16) -> tuple[int, int]:
    """(Hp, Wp): height and width rounded up to a multiple of `multiple`."""
    if multiple < 1:
        raise ValueError(f"preprocess: multiple must be >= 1, got {multiple}")
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def _normalise(plane: np.ndarray, name: str, black: float, white: float | None) -> np.ndarray:
    if plane.dtype in _INT_TYPES:
        return normalise_codes(plane, black, white, f"preprocess: {name}")
    if plane.dtype in (np.float32, np.float16, np.float64):
        plane = plane.astype(np.float32, copy=False)
        if not np.isfinite(plane).all():
            raise ValueError(f"preprocess: {name} contains NaN/Inf; fix the source frame")
        return plane
    raise ValueError(f"preprocess: {name} must be uint8, uint16 or float, got {plane.dtype}")


def _pad_into(dst: np.ndarray, src: np.ndarray) -> None:
    """dst [..., Hp, Wp] <- src [..., H, W] with edge replication on the bottom / right."""
    H, W = src.shape[-2:]
    dst[..., :H, :W] = src
    dst[..., H:, :W] = src[..., H - 1:H, :]
    dst[..., :, W:] = dst[..., :, W - 1:W]


def _buffers(out, Hp, Wp):
    shapes = ((1, 2, Hp, Wp), (1, 3, Hp, Wp))
    if out is None:
        return tuple(np.empty(s, np.float32) for s in shapes)
    if len(out) != 2 or any(o.shape != s or o.dtype != np.float32 for o, s in zip(out, shapes)):
        raise ValueError(f"preprocess: out must be (dp float32 {shapes[0]}, rgb float32 {shapes[1]})")
    return out


def preprocess(left: np.ndarray, right: np.ndarray, rgb: np.ndarray | None = None, multiple: int = 16,
               out: tuple[np.ndarray, np.ndarray] | None = None, black_level: float = 0.0,
               white_level: float | None = None):
    """Normalise and pad one frame for the students.

    Args:
        left, right: [H, W] uint8 / uint16 (with black/white level) or float in [0, 1].
        rgb: [H, W, 3] uint8 / uint16 / float in [0, 1], or None.
        multiple: pad H and W up to a multiple of this (models.registry.STRIDE = 16).
        out: optional (dp [1, 2, Hp, Wp], rgb [1, 3, Hp, Wp]) float32 buffers to reuse.

    Returns:
        (dp float32 [1, 2, Hp, Wp], rgb float32 [1, 3, Hp, Wp], (H, W)).
    """
    left, right = np.asarray(left), np.asarray(right)
    if left.ndim != 2:
        raise ValueError(f"preprocess: left must be [H, W], got shape {left.shape}")
    if right.shape != left.shape:
        raise ValueError(f"preprocess: right {right.shape} must match left {left.shape}")
    if min(left.shape) < 1:
        raise ValueError(f"preprocess: empty frame of shape {left.shape}")
    H, W = left.shape
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.shape != (H, W, 3):
            raise ValueError(f"preprocess: rgb must be [H, W, 3] = {(H, W, 3)}, got {rgb.shape}")
    Hp, Wp = padded_size(H, W, multiple)
    dp_out, rgb_out = _buffers(out, Hp, Wp)
    lf = _normalise(left, "left", black_level, white_level)
    rf = _normalise(right, "right", black_level, white_level)
    _pad_into(dp_out[0, 0], lf)
    _pad_into(dp_out[0, 1], rf)
    if rgb is None:
        mean = (dp_out[0, 0] + dp_out[0, 1]) * np.float32(0.5)
        rgb_out[0] = mean
    else:
        if rgb.dtype not in _INT_TYPES and rgb.dtype.kind != "f":
            raise ValueError(f"preprocess: rgb must be uint8, uint16 or float, got {rgb.dtype}")
        if rgb.dtype in _INT_TYPES:
            chw = normalise_codes(rgb, 0.0, None, "preprocess: rgb").transpose(2, 0, 1)
        else:
            chw = rgb.transpose(2, 0, 1).astype(np.float32)
        if rgb.dtype not in _INT_TYPES and not np.isfinite(chw).all():
            raise ValueError("preprocess: rgb contains NaN/Inf; fix the source frame")
        _pad_into(rgb_out[0], chw)
    return dp_out, rgb_out, (H, W)


def crop(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Undo the padding: arr [..., Hp, Wp] -> [..., H, W] (a view)."""
    H, W = size
    if arr.ndim < 2 or arr.shape[-2] < H or arr.shape[-1] < W:
        raise ValueError(f"crop: array of shape {arr.shape} is smaller than the target size {(H, W)}")
    return arr[..., :H, :W]


def preprocess_reference(left, right, rgb=None, multiple=16, black_level=0.0, white_level=None):
    """Plain version of :func:`preprocess` (per-pixel loops for the padding; small inputs)."""
    left, right = np.asarray(left), np.asarray(right)
    H, W = left.shape
    Hp, Wp = padded_size(H, W, multiple)

    def norm(x, black, white):
        if x.dtype.kind == "f":
            return x.astype(np.float64)
        white = np.iinfo(x.dtype).max if white is None else white
        return np.clip((x.astype(np.float64) - black) / (white - black), 0, 1)

    planes = [norm(left, black_level, white_level), norm(right, black_level, white_level)]
    rgb_planes = [(planes[0] + planes[1]) / 2] * 3 if rgb is None else [norm(rgb[..., c], 0, None) for c in range(3)]
    dp = np.zeros((1, 2, Hp, Wp), np.float32)
    rgb_out = np.zeros((1, 3, Hp, Wp), np.float32)
    for y in range(Hp):
        for x in range(Wp):
            sy, sx = min(y, H - 1), min(x, W - 1)
            for c in range(2):
                dp[0, c, y, x] = planes[c][sy, sx]
            for c in range(3):
                rgb_out[0, c, y, x] = rgb_planes[c][sy, sx]
    return dp, rgb_out, (H, W)

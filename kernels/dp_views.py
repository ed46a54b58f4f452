"""Views from the DP halves (renderer "dibr-dp", issue 17): each half-aperture image is already a view at
u = -1/2 (left) or +1/2 (right) in the engine's units, blurred only by half the aperture along x. Both halves are
sharpened by kernels/deblur.py with the half aperture's box (R/2, R): half the aperture's width along x, all of
its height. A view at offset s = baseline * (u, v) is warped from the left half (by s_u + 1/2) where s_u <= -1/2,
from the right half (by s_u - 1/2) where s_u >= 1/2, and in between is the linear blend of both warps, with the
right half's weight t = s_u + 1/2 (the centre view: half of each). The full-aperture image is not warped: the two
sharpened halves, registered by D, beat it on every dev row (docs/kernels.md, "dp_views"). The engine passes
kernels.dibr.render_disparity(D), as to every DIBR renderer.

The DP planes are single-channel, so a half's colour comes from the full-aperture RGB, re-lit by that half's
share of the light: rgb * 2L / (L + R) (gain-invariant, so DP planes and RGB may come from different pipelines;
with no RGB, rgb = (L + R) / 2 and this is the half itself), after the two planes' frame means are equalised
(`dp_balance`: a sensor's global left / right gain imbalance is not parallax).

    half_aperture_rgb(rgb f32 [H,W,3], left f32 [H,W], right f32 [H,W]) -> f32 [2,H,W,3] (left, right)
    view_weights(positions [P,2], baseline) -> (offsets s f32 [P,2], right-half weights t f32 [P])
    render_from_halves(halves [2,H,W,3], disparity [H,W], positions [P,2], baseline, out, out_dtype) -> [P,H,W,3]
kernels/cuda.py has the same functions for CuPy arrays.
"""
from __future__ import annotations

import numpy as np

from .dibr import dibr_warp

try:
    from . import dp_views_numba
except ImportError:   # numba missing: the numpy blend (same results)
    dp_views_numba = None

HALF_U = 0.5     # the DP half-aperture centroids sit at u = -1/2 (left) and +1/2 (right)
EPS = 1e-3       # floor of L + R (black pixels keep the full-aperture colour: gain 1)
BALANCE_FREE = 1.03   # a DP plane ratio within 3 % of 1 is left alone (dp_balance)


def dp_balance(sum_left, sum_right, pixels: int, xp=np):
    """The factor b that evens out a global gain between the DP planes (L / b, R * b): a real DP sensor's halves
    differ by one (Pixel 4: L/R = 1.18-1.23) that is not parallax and would brighten the views on one side. Only
    the part of the ratio r = sum L / sum R beyond BALANCE_FREE is removed, b = sqrt(r / BALANCE_FREE) (or the
    same below 1 / BALANCE_FREE), so a ratio that merely wanders with the content from frame to frame (light
    fields: within 0.3 % of 1) leaves b = 1 instead of flickering the views; 1 for a (nearly) black frame.
    xp: numpy or cupy (the sums stay on the device). -> 0-d float64 array."""
    sums = xp.stack([xp.asarray(sum_left, dtype=xp.float64), xp.asarray(sum_right, dtype=xp.float64)])
    lit = sums.min() > EPS * pixels
    excess = xp.log(xp.where(lit, sums[0] / xp.where(lit, sums[1], 1.0), 1.0))
    excess = xp.sign(excess) * xp.maximum(xp.abs(excess) - np.log(BALANCE_FREE), 0.0)
    return xp.exp(0.5 * excess)


def half_aperture_rgb(rgb, left, right, out=None, xp=np):
    """The full-aperture RGB re-lit by each DP half's share (after `dp_balance`), clipped to [0, 1].
    rgb float32 [H, W, 3], left / right float32 [H, W] (same units) -> float32 [2, H, W, 3].
    xp: numpy, or cupy for kernels.cuda.half_aperture_rgb (the same operations in the same order)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or left.shape != rgb.shape[:2] or right.shape != rgb.shape[:2]:
        raise ValueError(f"half_aperture_rgb: rgb must be [H, W, 3] and left / right [H, W], got {rgb.shape}, "
                         f"{left.shape}, {right.shape}")
    if out is None:
        out = xp.empty((2,) + rgb.shape, xp.float32)
    balance = dp_balance(left.sum(dtype=xp.float64), right.sum(dtype=xp.float64), left.size, xp).astype(xp.float32)
    left = left.astype(xp.float32) / balance
    right = right.astype(xp.float32) * balance
    total = left + right
    gain_left = xp.where(total < EPS, xp.float32(1.0), 2.0 * left / xp.maximum(total, xp.float32(EPS)))
    gain_left = gain_left.astype(xp.float32, copy=False)
    xp.multiply(rgb, gain_left[..., None], out=out[0])
    xp.multiply(rgb, (xp.float32(2.0) - gain_left)[..., None], out=out[1])
    return xp.clip(out, 0.0, 1.0, out=out)


def view_weights(positions: np.ndarray, baseline: float) -> tuple[np.ndarray, np.ndarray]:
    """Each view's offset s = baseline * (u, v) float32 [P, 2] and its right half's weight
    t = clip(s_u + 1/2, 0, 1) float32 [P] (0: the left half alone, 1: the right half alone)."""
    offsets = np.float32(baseline) * np.asarray(positions, np.float32).reshape(-1, 2)
    return offsets, np.clip(offsets[:, 0] + np.float32(HALF_U), 0.0, 1.0).astype(np.float32)


def half_offsets(offsets: np.ndarray, half: int) -> np.ndarray:
    """The offsets [P, 2] to warp half 0 (left, at u = -1/2) or 1 (right, at u = +1/2) by."""
    shifted = offsets.copy()
    shifted[:, 0] += np.float32(HALF_U if half == 0 else -HALF_U)
    return shifted


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the blend, so that no frame pays for it."""
    if dp_views_numba is not None:
        dp_views_numba.warm_up()


def blend_into(left: np.ndarray, right: np.ndarray, t: np.ndarray, views: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[views] = left + t * (right - left) (float32 [M, H, W, 3] each, t [M]); uint8 out takes
    clip(rint(255 * colour)), dibr_warp's rounding. Compiled when numba imports, numpy otherwise (bit-identical)."""
    if dp_views_numba is not None:
        return dp_views_numba.blend_into(left, right, t, views, out)
    colour = left + t[:, None, None, None] * (right - left)
    if out.dtype == np.uint8:
        colour = np.clip(np.rint(colour * np.float32(255.0)), 0, 255)
    out[views] = colour
    return out


def _scratch(scratch: dict | None, key: str, shape: tuple, dtype=np.float32) -> np.ndarray:
    buf = None if scratch is None else scratch.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = np.empty(shape, dtype)
        if scratch is not None:
            scratch[key] = buf
    return buf


def render_from_halves(halves: np.ndarray, disparity: np.ndarray, positions: np.ndarray, baseline: float = 1.0,
                       out: np.ndarray | None = None, out_dtype=np.float32, scratch: dict | None = None) -> np.ndarray:
    """Every view from the two half-aperture sources halves [2, H, W, 3] (float32 in [0, 1]): kernels.dibr.dibr_warp
    of the left / right half, or the blend of both (`view_weights`). Arguments and result as dibr_warp's;
    scratch: a dict kept between frames for the blended views' float32 warps (no per-frame allocation)."""
    offsets, t = view_weights(positions, baseline)
    shape = (len(offsets),) + disparity.shape + (3,)
    if out is None:
        out = np.empty(shape, out_dtype)
    for half, views in ((0, np.flatnonzero(t == 0)), (1, np.flatnonzero(t == 1))):
        if views.size == len(offsets):
            return dibr_warp(halves[half], disparity, half_offsets(offsets, half), 1.0, out=out, out_dtype=out.dtype)
        if views.size:
            alone = _scratch(scratch, f"alone{half}", (views.size,) + shape[1:], out.dtype)
            out[views] = dibr_warp(halves[half], disparity, half_offsets(offsets[views], half), 1.0, out=alone,
                                   out_dtype=out.dtype)
    mixed = np.flatnonzero((t > 0) & (t < 1))
    if mixed.size:
        warps = [dibr_warp(halves[half], disparity, half_offsets(offsets[mixed], half), 1.0,
                           out=_scratch(scratch, f"mixed{half}", (mixed.size,) + shape[1:]))
                 for half in (0, 1)]
        blend_into(warps[0], warps[1], t[mixed], mixed, out)
    return out

"""Views from the DP halves (renderer "dibr-dp", issue 17): each half-aperture image is already a view at
u = -1/2 (left) or +1/2 (right) in the engine's units, blurred only by half the aperture along x. Views left of
the centre column are warped from the left half, views right of it from the right half, the centre column from
the full-aperture image; each source is first sharpened by kernels/deblur.py (a half's box is (R/2, R): half
the aperture's width along x, all of its height). The engine passes kernels.dibr.render_disparity(D), as to
every DIBR renderer.

The DP planes are single-channel, so a half's colour comes from the full-aperture RGB, re-lit by that half's
share of the light: rgb * 2L / (L + R) (gain-invariant, so DP planes and RGB may come from different pipelines;
with no RGB, rgb = (L + R) / 2 and this is the half itself).

    half_aperture_rgb(rgb f32 [H,W,3], left f32 [H,W], right f32 [H,W]) -> f32 [2,H,W,3] (left, right)
    render_from_halves(centre [H,W,3], halves [2,H,W,3], disparity [H,W], positions [P,2], baseline, out, out_dtype)
        -> out [P,H,W,3]
kernels/cuda.py has the same functions for CuPy arrays.
"""
from __future__ import annotations

import numpy as np

from .dibr import dibr_warp

HALF_U = 0.5     # the DP half-aperture centroids sit at u = -1/2 (left) and +1/2 (right)
EPS = 1e-3       # floor of L + R (black pixels keep the full-aperture colour: gain 1)


def half_aperture_rgb(rgb: np.ndarray, left: np.ndarray, right: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The full-aperture RGB re-lit by each DP half's share, clipped to [0, 1].
    rgb float32 [H, W, 3], left / right float32 [H, W] (same units) -> float32 [2, H, W, 3]."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or left.shape != rgb.shape[:2] or right.shape != rgb.shape[:2]:
        raise ValueError(f"half_aperture_rgb: rgb must be [H, W, 3] and left / right [H, W], got {rgb.shape}, "
                         f"{left.shape}, {right.shape}")
    if out is None:
        out = np.empty((2,) + rgb.shape, np.float32)
    total = left.astype(np.float32) + right.astype(np.float32)
    dark = total < EPS
    gain_left = np.where(dark, np.float32(1.0), 2.0 * left / np.maximum(total, EPS)).astype(np.float32)
    np.multiply(rgb, gain_left[..., None], out=out[0])
    np.multiply(rgb, (np.float32(2.0) - gain_left)[..., None], out=out[1])
    return np.clip(out, 0.0, 1.0, out=out)


def source_groups(positions: np.ndarray, baseline: float) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """[(source, view indices, positions to warp that source to)] for source 0 = centre, 1 = left, 2 = right.
    A half at u0 = -/+ 1/2 seen from the grid position p (su = baseline * p_u) warps by su - u0."""
    positions = np.asarray(positions, np.float32).reshape(-1, 2)
    u = positions[:, 0]
    if baseline == 0:
        return [(0, np.arange(len(positions)), positions)]
    groups = []
    for source, mask, u0 in ((0, u == 0, 0.0), (1, u < 0, -HALF_U), (2, u > 0, HALF_U)):
        idx = np.flatnonzero(mask)
        if idx.size:
            shifted = positions[idx].copy()
            shifted[:, 0] -= np.float32(u0 / baseline)
            groups.append((source, idx, shifted))
    return groups


def render_from_halves(centre: np.ndarray, halves: np.ndarray, disparity: np.ndarray, positions: np.ndarray,
                       baseline: float = 1.0, out: np.ndarray | None = None, out_dtype=np.float32) -> np.ndarray:
    """DIBR of each view from its source (centre column: `centre`, left of it: halves[0], right: halves[1]).
    Same arguments and result as kernels.dibr.dibr_warp, plus the two half-aperture sources [2, H, W, 3]."""
    positions = np.asarray(positions, np.float32).reshape(-1, 2)
    shape = (len(positions),) + disparity.shape + (3,)
    if out is None:
        out = np.empty(shape, out_dtype)
    sources = (centre, halves[0], halves[1])
    for source, idx, shifted in source_groups(positions, baseline):
        if idx.size == len(positions):
            return dibr_warp(sources[source], disparity, shifted, baseline, out=out, out_dtype=out_dtype)
        out[idx] = dibr_warp(sources[source], disparity, shifted, baseline, out_dtype=out_dtype)
    return out

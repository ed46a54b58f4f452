"""Classical baselines: SGBM disparity on the DP pair + DIBR, and the `copy` light field.

- ``sgbm_disparity``: OpenCV semi-global matching on the DP pair, in the units of D (
  D = x_left - x_right, signed). DP disparities are small and fractional, so the pair is upsampled
  horizontally by ``upscale`` before matching and the result divided back ("rescaled").
- ``dibr_views``: backward warp of the centre image with D (``kernels.dibr.dibr_warp``, occlusion-aware;
  a plain cv2.remap backward warp if that kernel is absent).
- ``copy_views``: the full-aperture RGB copied to every view (the no-parallax floor).
Runtime-style code: numpy + OpenCV only.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.conventions import grid_positions


def _to_u8_pair(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint 1st-99th percentile stretch of the two planes to uint8 (DP planes are dim and low-contrast)."""
    both = np.concatenate([left.ravel(), right.ravel()])
    lo, hi = np.percentile(both, [1, 99])
    scale = 255.0 / max(hi - lo, 1e-6)
    cvt = lambda p: np.clip((p - lo) * scale, 0, 255).astype(np.uint8)  # noqa: E731
    return cvt(left), cvt(right)


def _fill_invalid_rows(d: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid pixels by the nearest valid one to their left in the row (else to the right, else 0)."""
    h, w = d.shape
    idx = np.where(valid, np.arange(w)[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = np.take_along_axis(d, idx, axis=1)
    left_missing = ~np.maximum.accumulate(valid, axis=1)  # no valid pixel yet from the left
    if left_missing.any():
        ridx = np.where(valid, np.arange(w)[None, :], w - 1)
        ridx = np.minimum.accumulate(ridx[:, ::-1], axis=1)[:, ::-1]
        filled = np.where(left_missing, np.take_along_axis(d, ridx, axis=1), filled)
    filled[~valid.any(axis=1)] = 0.0
    return filled


def sgbm_disparity(left: np.ndarray, right: np.ndarray, max_disparity: float = 16.0, upscale: int = 2,
                   block: int = 5) -> np.ndarray:
    """D [H, W] float32 (pixels, D = x_left - x_right) from a DP pair [H, W] float in [0, 1].

    Searches D in [-max_disparity, max_disparity); invalid matches are filled from their row neighbours.
    """
    if left.shape != right.shape or left.ndim != 2:
        raise ValueError(f"sgbm_disparity: left/right must be [H, W] of one shape, got {left.shape}, {right.shape}")
    h, w = left.shape
    l8, r8 = _to_u8_pair(left.astype(np.float32), right.astype(np.float32))
    if upscale > 1:
        l8 = cv2.resize(l8, (w * upscale, h), interpolation=cv2.INTER_CUBIC)
        r8 = cv2.resize(r8, (w * upscale, h), interpolation=cv2.INTER_CUBIC)
    reach = int(np.ceil(max_disparity * upscale / 16.0)) * 16
    matcher = cv2.StereoSGBM_create(minDisparity=-reach, numDisparities=2 * reach, blockSize=block,
                                    P1=8 * block * block, P2=32 * block * block, uniquenessRatio=5,
                                    disp12MaxDiff=2, speckleWindowSize=50, speckleRange=2,
                                    mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    raw = matcher.compute(l8, r8)  # int16, 16 x disparity; left(x) matches right(x - d)
    valid = raw >= (-reach) * 16
    d = raw.astype(np.float32) / (16.0 * upscale)
    d = _fill_invalid_rows(d, valid)
    if upscale > 1:
        d = cv2.resize(d, (w, h), interpolation=cv2.INTER_AREA)
    return cv2.medianBlur(d, 5)


def remap_warper(disparity: np.ndarray, positions: np.ndarray, out: np.ndarray):
    """warp(rgb) -> out [P, H, W, 3]: one plain cv2.remap backward warp per (u, v) position, rgb(x + D*u, y + D*v),
    bilinear, border replicate, no occlusion handling: the cost floor of any per-view warp. Grids and maps are
    allocated here, once, so a timed warp() does only the per-view work."""
    h, w = disparity.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    mx, my = np.empty_like(xs), np.empty_like(ys)

    def warp(rgb: np.ndarray) -> np.ndarray:
        for p, (u, v) in enumerate(positions):
            cv2.scaleAdd(disparity, float(u), xs, dst=mx)
            cv2.scaleAdd(disparity, float(v), ys, dst=my)
            cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, dst=out[p], borderMode=cv2.BORDER_REPLICATE)
        return out

    return warp


def _remap_views(rgb: np.ndarray, disparity: np.ndarray, positions: np.ndarray, baseline: float) -> np.ndarray:
    h, w = disparity.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((len(positions), h, w, 3), np.float32)
    for i, (u, v) in enumerate(positions):
        out[i] = cv2.remap(rgb, xs + baseline * u * disparity, ys + baseline * v * disparity,
                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def dibr_views(rgb: np.ndarray, disparity: np.ndarray, positions: np.ndarray, baseline: float = 1.0,
               dtype=np.float32) -> np.ndarray:
    """Views [P, H, W, 3] in `dtype` (float32 in [0, 1] or uint8): rgb [H, W, 3] (float in [0, 1] or uint8)
    warped with D [H, W] to (u, v) positions [P, 2].

    view(x, y) = rgb(x + b*D*u, y + b*D*v), via kernels.dibr.dibr_warp (occlusion-aware) when present.
    """
    disparity = np.ascontiguousarray(disparity, np.float32)
    positions = np.asarray(positions, np.float32).reshape(-1, 2)
    try:
        from kernels.dibr import dibr_warp   # takes uint8 or float rgb
    except ImportError:
        rgb = rgb.astype(np.float32) / np.float32(255.0) if rgb.dtype == np.uint8 else rgb.astype(np.float32)
        views = _remap_views(rgb, disparity, positions, baseline)
        return to_u8(views) if np.dtype(dtype) == np.uint8 else views
    return dibr_warp(rgb, disparity, positions, baseline, out_dtype=dtype)


def dibr_kernel_name() -> str:
    try:
        import kernels.dibr  # noqa: F401
    except ImportError:
        return "cv2.remap backward warp (kernels.dibr absent)"
    return "kernels.dibr.dibr_warp"


def copy_views(rgb: np.ndarray, views: int) -> np.ndarray:
    """The full-aperture rgb [H, W, 3] repeated as every view of an N x N grid: [N, N, H, W, 3] (a view)."""
    return np.broadcast_to(rgb, (views, views) + rgb.shape)


def to_u8(img: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8 (round half to even, clipped)."""
    return np.clip(np.rint(np.asarray(img, np.float32) * 255.0), 0, 255).astype(np.uint8)


class SgbmDibr:
    """The disparity+DIBR baseline as one callable: (left, right, rgb) -> (D [H, W], views [N, N, H, W, 3]).

    timings (ms) of the last call: disparity, render, total.
    """

    def __init__(self, views: int = 7, baseline: float = 1.0, max_disparity: float = 16.0, upscale: int = 2,
                 dtype=np.float32):
        self.views, self.baseline, self.dtype = views, baseline, np.dtype(dtype)
        self.max_disparity, self.upscale = max_disparity, upscale
        self.positions = grid_positions(views, 1.0).reshape(-1, 2)
        self.timings: dict[str, float] = {}

    def __call__(self, left, right, rgb):
        import time

        t0 = time.perf_counter()
        d = sgbm_disparity(left, right, self.max_disparity, self.upscale)
        t1 = time.perf_counter()
        views = dibr_views(rgb, d, self.positions, self.baseline, self.dtype)
        t2 = time.perf_counter()
        self.timings = {"disparity": (t1 - t0) * 1e3, "render": (t2 - t1) * 1e3, "total": (t2 - t0) * 1e3}
        n = self.views
        return d, views.reshape(n, n, *views.shape[1:])

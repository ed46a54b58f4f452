"""Stereo teacher: disparity D from a 3-camera rig (pinhole views at u = -s, 0, +s), OpenCV SGBM.

A point with DP disparity D sits at x + D*s in the camera at u = -s and at x - D*s in the one at +s
(x in the centre camera), so each side pair gives a standard stereo disparity D*s on the centre grid.
Pure numpy + OpenCV.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.conventions import dp_gray


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def _sgbm(min_disp: int, num_disp: int, block: int) -> cv2.StereoSGBM:
    return cv2.StereoSGBM_create(minDisparity=min_disp, numDisparities=num_disp, blockSize=block,
                                 P1=8 * block * block, P2=32 * block * block, disp12MaxDiff=1,
                                 uniquenessRatio=5, speckleWindowSize=50, speckleRange=2,
                                 mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)


def _pair_disparity(ref: np.ndarray, other: np.ndarray, min_disp: int, num_disp: int, block: int,
                    lr_tol: float) -> np.ndarray:
    """Disparity on the `ref` grid (ref(x) ~ other(x - d)), NaN where invalid or failing an explicit
    left-right check. Both uint8 [H, W]; d range [min_disp, min_disp + num_disp)."""
    h, w = ref.shape
    matcher = _sgbm(min_disp, num_disp, block)
    pad = num_disp + abs(min_disp) + block  # SGBM leaves the first columns unmatched: pad and crop
    ref_p = cv2.copyMakeBorder(ref, 0, 0, pad, pad, cv2.BORDER_REFLECT)
    oth_p = cv2.copyMakeBorder(other, 0, 0, pad, pad, cv2.BORDER_REFLECT)
    d_ref = matcher.compute(ref_p, oth_p).astype(np.float32) / 16.0
    # the other camera's disparity on its own grid: flipped, other(x) ~ ref(x + d) becomes a standard pair
    d_oth = np.fliplr(matcher.compute(np.fliplr(oth_p).copy(), np.fliplr(ref_p).copy()).astype(np.float32) / 16.0)
    invalid_ref = d_ref < min_disp
    invalid_oth = d_oth < min_disp
    d_ref[invalid_ref] = np.nan
    d_oth[invalid_oth] = np.nan
    xs = np.arange(ref_p.shape[1], dtype=np.float32)[None, :]
    x_other = np.clip(np.round(xs - np.nan_to_num(d_ref)), 0, ref_p.shape[1] - 1).astype(np.int64)
    back = np.take_along_axis(d_oth, x_other, axis=1)
    d_ref[~(np.abs(back - d_ref) <= lr_tol)] = np.nan
    return d_ref[:, pad:pad + w]


def _refine(ref: np.ndarray, other: np.ndarray, d: np.ndarray, window: int, iters: int = 3) -> np.ndarray:
    """Sub-pixel Lucas-Kanade refinement of d (ref(x) ~ other(x - d)) on float images; SGBM's own
    sub-pixel step is biased toward integers. NaNs stay NaN.  [H, W] -> [H, W]"""
    h, w = ref.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = cv2.Sobel(other, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    ok = np.isfinite(d)
    d = np.where(ok, d, 0.0).astype(np.float32)
    for _ in range(iters):
        mx = xs - d
        warped = cv2.remap(other, mx, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        g = cv2.remap(grad, mx, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        r = ref - warped
        num = cv2.boxFilter(r * g, -1, (window, window), normalize=False)
        den = cv2.boxFilter(g * g, -1, (window, window), normalize=False)
        step = np.clip(-num / np.maximum(den, 1e-6), -0.5, 0.5)
        d = d + np.where(den > 1e-5, step, 0.0).astype(np.float32)
    return np.where(ok, d, np.nan).astype(np.float32)


def _fill_holes(d: np.ndarray) -> np.ndarray:
    """Fill NaNs along each row with the farther (smaller D) of the nearest valid neighbours: holes
    are mostly occlusions, which belong to the background. Rows with no valid pixel take the median."""
    h, w = d.shape
    valid = np.isfinite(d)
    if valid.all():
        return d
    if not valid.any():
        return np.zeros_like(d)
    idx = np.where(valid, np.arange(w)[None, :], 0)
    left_idx = np.maximum.accumulate(idx, axis=1)
    idx_r = np.where(valid, np.arange(w)[None, :], w - 1)
    right_idx = np.minimum.accumulate(idx_r[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(h)[:, None]
    left_val = np.where(valid[rows, left_idx], d[rows, left_idx], np.nan)
    right_val = np.where(valid[rows, right_idx], d[rows, right_idx], np.nan)
    fill = np.fmin(left_val, right_val)
    out = np.where(valid, d, fill)
    out[~np.isfinite(out)] = np.nanmedian(d)
    return out.astype(np.float32)


def sgbm_teacher(views3: np.ndarray, baseline_u: float, d_range: tuple[float, float] = (-16.0, 16.0),
                 block_size: int = 5, lr_tol: float = 1.0, min_texture: float = 0.0,
                 return_valid: bool = False):
    """Teacher disparity from a 3-view rig.

    views3: float [3, H, W, 3] (or [3, H, W]) in [0, 1], pinhole views at u = -s, 0, +s (v = 0).
    baseline_u: s. d_range: expected (min, max) of D in D units.
    min_texture: pixels whose mean |dI/dx| (over the block) is below this are not trusted.
    Returns D float32 [H, W] on the centre view (holes filled), and with return_valid=True also the
    bool [H, W] mask of trusted pixels: textured, and both side pairs agree, or one pair alone matched
    consistently (occlusions). Train on the mask: filled holes are guesses.
    """
    views3 = np.asarray(views3, np.float32)
    if views3.ndim not in (3, 4) or views3.shape[0] != 3 or (views3.ndim == 4 and views3.shape[-1] != 3):
        raise ValueError(f"views3 must be [3, H, W, 3] or [3, H, W] (cameras at u = -s, 0, +s); got {views3.shape}")
    if not baseline_u > 0:
        raise ValueError(f"baseline_u={baseline_u} must be > 0 (camera offset in aperture units)")
    if not np.isfinite(views3).all():
        raise ValueError("views3 contains NaN/Inf; pass finite images in [0, 1]")
    lo, hi = sorted(d_range)
    gray_f = [np.ascontiguousarray(dp_gray(v) if v.ndim == 3 else v, dtype=np.float32) for v in views3]
    gray = [_to_u8(g) for g in gray_f]
    s = float(baseline_u)
    min_disp = int(np.floor(lo * s)) - 2
    num_disp = int(np.ceil(((hi * s + 2) - min_disp) / 16.0)) * 16
    # centre vs right camera (+s): centre(x) ~ right(x - D s)
    d_right = _pair_disparity(gray[1], gray[2], min_disp, num_disp, block_size, lr_tol)
    d_right = _refine(gray_f[1], gray_f[2], d_right, block_size)
    # centre vs left camera (-s): mirrored, flip(centre)(x') ~ flip(left)(x' - D s)
    flip_c, flip_l = np.fliplr(gray_f[1]).copy(), np.fliplr(gray_f[0]).copy()
    d_left = _pair_disparity(np.fliplr(gray[1]).copy(), np.fliplr(gray[0]).copy(),
                             min_disp, num_disp, block_size, lr_tol)
    d_left = np.fliplr(_refine(flip_c, flip_l, d_left, block_size))
    both = np.isfinite(d_right) & np.isfinite(d_left)
    agree = both & (np.abs(d_right - d_left) <= 2.0 * lr_tol)
    d = np.full(d_right.shape, np.nan, np.float32)
    d[agree] = 0.5 * (d_right[agree] + d_left[agree])
    only_r = np.isfinite(d_right) & ~np.isfinite(d_left)
    only_l = np.isfinite(d_left) & ~np.isfinite(d_right)
    d[only_r] = d_right[only_r]
    d[only_l] = d_left[only_l]
    # SGBM "matches" flat regions arbitrarily: no horizontal texture there, no evidence
    centre = gray_f[1]
    texture = cv2.blur(np.abs(cv2.Sobel(centre, cv2.CV_32F, 1, 0, ksize=3)) / 8.0, (block_size + 2, block_size + 2))
    d[texture < min_texture] = np.nan
    valid = np.isfinite(d)
    d = _fill_holes(d)
    d = cv2.medianBlur(d, 3) / s
    return (d.astype(np.float32), valid) if return_valid else d.astype(np.float32)

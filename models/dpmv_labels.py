"""Teacher labels of real dpMV captures in D units (models.dpmv): the rectified -> DP pixel map, and the
self-calibration D = gain * t + offset of the teacher's rectified-pixel disparity t against the fixed
defocus-matching estimate of the DP pair, for captures without calibration.json."""
from __future__ import annotations

import cv2
import numpy as np

#: the optional per-root calibration file (models.dpmv)
CALIBRATION = "calibration.json"
#: D range of the defocus-matching estimate used for self-calibration (that of the DP student)
SELF_CAL_MAX_D = 16.0


def _rect_to_dp_matrix(cal: dict, rect_hw: tuple, dp_hw: tuple, name: str) -> tuple[np.ndarray | None, str]:
    """3x3 map from rectified-B pixel coordinates to DP pixel coordinates (None = identity) and how it was set."""
    if "rectified_to_dp" in cal:
        m = np.asarray(cal["rectified_to_dp"], np.float64)
        return (np.vstack([m, [0, 0, 1]]) if m.shape == (2, 3) else m), "calibration.json rectified_to_dp"
    if "rectified_to_dp_scale" in cal:
        s, how = cal["rectified_to_dp_scale"], "calibration.json rectified_to_dp_scale"
    elif tuple(rect_hw) == tuple(dp_hw):
        return None, "same size"
    else:
        s = dp_hw[1] / rect_hw[1]
        if abs(rect_hw[0] * s - dp_hw[0]) > 1.0:
            raise ValueError(f"{name}: rectified B is {rect_hw[1]}x{rect_hw[0]} but the DP planes are "
                             f"{dp_hw[1]}x{dp_hw[0]} (another aspect ratio); set 'rectified_to_dp_scale' or "
                             f"'rectified_to_dp' in {CALIBRATION}")
        how = f"inferred from the widths ({rect_hw[1]} -> {dp_hw[1]})"
    # pixel centres: x_dp + 0.5 = s (x_rect + 0.5), as cv2.resize
    return np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1]], np.float64), how


def _warp_to_dp(t: np.ndarray, valid: np.ndarray, m: np.ndarray | None, dp_hw: tuple):
    if m is None:
        return t, valid
    h, w = dp_hw
    size = (w, h)
    flags = cv2.INTER_LINEAR
    if np.allclose(m[2], [0, 0, 1]):
        def warp(x):
            return cv2.warpAffine(x, m[:2], size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    else:
        def warp(x):
            return cv2.warpPerspective(x, m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    t_dp = warp(np.where(valid, t, 0).astype(np.float32))
    v_dp = warp(valid.astype(np.float32))
    ok = v_dp >= 0.5                     # normalised interpolation: mostly trusted rectified pixels, inside
    return np.where(ok, t_dp / np.maximum(v_dp, 1e-6), 0).astype(np.float32), ok


def defocus_estimate(dp: np.ndarray, max_disparity: float = SELF_CAL_MAX_D, band: int = 96):
    """Fixed defocus-matching estimate D0 of a DP pair and its confidence (cost-curve curvature).
    dp float32 [2, H, W] -> (D0 [H, W], curvature [H, W]); computed in row bands to bound memory."""
    import torch

    from models.defocus_matching import DefocusCostVolume

    cv = DefocusCostVolume(max_disparity)
    half = cv.window // 2 + 1
    h = dp.shape[1]
    d0 = np.empty(dp.shape[1:], np.float32)
    curv = np.empty_like(d0)
    x = torch.from_numpy(np.ascontiguousarray(dp, np.float32))[None]
    scale = float(x.mean()) + 0.02
    with torch.no_grad():
        for y0 in range(0, h, band):
            a, b = max(0, y0 - half), min(h, y0 + band + half)
            part = x[:, :, a:b]
            d, feats = cv(part)
            # costs scale with 1 / (band mean + 0.02): rescale the curvature to the frame's normalisation
            k = (float(part.mean()) + 0.02) / scale
            d0[y0:y0 + band] = d[0, 0, y0 - a:y0 - a + min(band, h - y0)].numpy()
            curv[y0:y0 + band] = feats[0, 1, y0 - a:y0 - a + min(band, h - y0)].numpy() * (k / 10.0)
    return d0, curv


def robust_affine_fit(t: np.ndarray, d: np.ndarray, seed: int = 0, threshold: float = 1.0, bins: int = 32,
                      min_count: int = 20, iterations: int = 400) -> dict:
    """Robust line d ~ gain * t + offset between the teacher's t (reliable) and a noisy estimate d.

    Pixels are grouped into `bins` bins of t (1st-99th percentile); each bin with >= min_count pixels gives
    (median t, median d) and a weight sqrt(count), so the background plane, usually most pixels, cannot
    decide the slope alone. RANSAC over bin pairs (inlier: |residual| < threshold) picks the line with the
    largest inlier weight, refined by weighted least squares on the inlier bins (twice).
    -> {gain, offset, bins (used), inlier_bins, inlier_pixels (mask over the inputs)}"""
    lo, hi = np.percentile(t, [1, 99])
    edges = np.linspace(lo, hi + 1e-6, bins + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    inside = (t >= lo) & (t <= hi)
    bt, bd, bw = [], [], []
    for k in range(bins):
        sel = inside & (idx == k)
        if sel.sum() >= min_count:
            bt.append(np.median(t[sel]))
            bd.append(np.median(d[sel]))
            bw.append(np.sqrt(sel.sum()))
    bt, bd, bw = np.array(bt), np.array(bd), np.array(bw)
    out = {"gain": 0.0, "offset": float(np.median(d)), "bins": int(len(bt)), "inlier_bins": 0,
           "inlier_pixels": np.zeros(len(t), bool)}
    if len(bt) < 3:
        return out
    rng = np.random.default_rng(seed)
    best, best_score = None, -1.0
    pairs = [(i, j) for i in range(len(bt)) for j in range(i + 1, len(bt))]
    if len(pairs) > iterations:
        pairs = [pairs[k] for k in rng.choice(len(pairs), iterations, replace=False)]
    for i, j in pairs:
        g = (bd[i] - bd[j]) / (bt[i] - bt[j])
        o = bd[i] - g * bt[i]
        score = bw[np.abs(g * bt + o - bd) < threshold].sum()
        if score > best_score:
            best, best_score = (g, o), score
    g, o = best
    for _ in range(2):
        inl = np.abs(g * bt + o - bd) < threshold
        if inl.sum() < 2:
            break
        g, o = np.polyfit(bt[inl], bd[inl], 1, w=bw[inl])
    inl = np.abs(g * bt + o - bd) < threshold
    out.update(gain=float(g), offset=float(o), inlier_bins=int(inl.sum()),
               inlier_pixels=np.abs(g * t + o - d) < threshold)
    return out


def self_calibrate(dp: np.ndarray, t: np.ndarray, t_valid: np.ndarray, name: str = "", seed: int = 0) -> dict:
    """(gain, offset) with D = gain * t + offset, fitted robustly between the teacher's t and the fixed
    defocus-matching D0 of the DP pair over pixels where both are confident. Raises ValueError (one line)
    when the frame cannot support a fit."""
    d0, curv = defocus_estimate(dp)
    h, w = d0.shape
    inner = np.zeros_like(t_valid)
    m = 12
    inner[m:h - m, m:w - m] = True
    cand = t_valid & inner & (np.abs(d0) < SELF_CAL_MAX_D - 1.0) & np.isfinite(d0)
    if cand.sum() >= 100:
        cand &= curv >= np.quantile(curv[cand], 0.5)   # the sharper half of the cost minima
    ys, xs = np.nonzero(cand)
    if len(ys) > 20000:
        keep = np.random.default_rng(seed).choice(len(ys), 20000, replace=False)
        ys, xs = ys[keep], xs[keep]
    tt, dd = t[ys, xs].astype(np.float64), d0[ys, xs].astype(np.float64)
    how = f"{name}: cannot self-calibrate"
    fix = f"write {CALIBRATION} with {{\"gain\": g, \"offset\": o}} (D = g * t + o) in the capture root"
    if len(tt) < 200:
        raise ValueError(f"{how}: only {len(tt)} pixels where both the teacher and the DP matching are confident; {fix}")
    fit = robust_affine_fit(tt, dd, seed)
    gain, offset, inl = fit["gain"], fit["offset"], fit["inlier_pixels"]
    frac = float(inl.mean())
    if fit["inlier_bins"] < 3 or frac < 0.25 or gain == 0:
        raise ValueError(f"{how}: the DP matching does not follow the teacher on a line ({fit['inlier_bins']} of "
                         f"{fit['bins']} depth bins agree, {frac:.0%} of the pixels); {fix}")
    spread = abs(gain) * float(np.percentile(tt[inl], 99) - np.percentile(tt[inl], 1))
    if spread < 1.5:
        raise ValueError(f"{how}: the scene has too little depth range for a fit (D spans {spread:.1f} px over the "
                         f"confident pixels, need 1.5); {fix}")
    return {"gain": gain, "offset": offset, "fit_pixels": int(len(tt)), "inlier_fraction": round(frac, 4),
            "fit_bins": f"{fit['inlier_bins']}/{fit['bins']}",
            "residual_px": round(float(np.median(np.abs(gain * tt[inl] + offset - dd[inl]))), 4)}

"""Quality metrics for benchmarks/quality.py. Pure numpy + OpenCV.

Image metrics take uint8 images (both sides quantised, as files would be). Disparity metrics follow the
HCI 4D LF benchmark: MSE x 100 and BadPix(0.07) in percent, over the image minus a 15-pixel border.
"""
from __future__ import annotations

import cv2
import numpy as np

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
HCI_BORDER = 15


def _check_same(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {a.shape} vs {b.shape}; pass arrays of the same shape")


def psnr(pred: np.ndarray, ref: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of two images of the same shape (uint8: peak 255). Identical images give inf."""
    _check_same(pred, ref, "psnr")
    mse = np.mean((pred.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def _ssim_plane(x: np.ndarray, y: np.ndarray, peak: float) -> float:
    blur = lambda a: cv2.GaussianBlur(a, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA)  # noqa: E731
    c1, c2 = (SSIM_K1 * peak) ** 2, (SSIM_K2 * peak) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    pad = SSIM_WINDOW // 2  # drop the band where the window leaves the image (as scikit-image does)
    return float(s[pad:-pad, pad:-pad].mean())


def ssim(pred: np.ndarray, ref: np.ndarray, peak: float = 255.0) -> float:
    """SSIM (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, population statistics.

    pred, ref: [H, W] or [H, W, C]; colour images are scored per channel and averaged (as scikit-image's
    ``structural_similarity(..., channel_axis=-1, gaussian_weights=True)``).
    """
    _check_same(pred, ref, "ssim")
    if min(pred.shape[:2]) <= SSIM_WINDOW:
        raise ValueError(f"ssim: image {pred.shape[:2]} is smaller than the {SSIM_WINDOW}-pixel window")
    x, y = pred.astype(np.float64), ref.astype(np.float64)
    if x.ndim == 2:
        return _ssim_plane(x, y, peak)
    return float(np.mean([_ssim_plane(x[..., c], y[..., c], peak) for c in range(x.shape[-1])]))


def lf_scores(pred: np.ndarray, ref: np.ndarray) -> dict:
    """PSNR/SSIM per view of two light fields [K, K, H, W, 3] uint8; mean and worst exclude the centre view.

    The centre view exists for odd K only (even K: every view counts). Returns
    {"psnr_mean", "psnr_worst", "ssim_mean", "ssim_worst", "psnr_per_view" [K][K], "ssim_per_view" [K][K]}.
    """
    _check_same(pred, ref, "lf_scores")
    k = ref.shape[0]
    p = np.array([[psnr(pred[r, c], ref[r, c]) for c in range(k)] for r in range(k)])
    s = np.array([[ssim(pred[r, c], ref[r, c]) for c in range(k)] for r in range(k)])
    mask = np.ones((k, k), bool)
    if k % 2:
        mask[k // 2, k // 2] = False
    return {"psnr_mean": float(p[mask].mean()), "psnr_worst": float(p[mask].min()),
            "ssim_mean": float(s[mask].mean()), "ssim_worst": float(s[mask].min()),
            "psnr_per_view": np.round(p, 3).tolist(), "ssim_per_view": np.round(s, 4).tolist()}


def interior(a: np.ndarray, border: int = HCI_BORDER) -> np.ndarray:
    """a[border:-border, border:-border] (a itself for border 0)."""
    return a[border:-border, border:-border] if border else a


def mse_x100(pred: np.ndarray, gt: np.ndarray, border: int = HCI_BORDER) -> float:
    """HCI MSE x 100 of disparity maps [H, W] over the interior."""
    _check_same(pred, gt, "mse_x100")
    e = interior(pred.astype(np.float64) - gt.astype(np.float64), border)
    return float(100.0 * np.mean(e**2))


def badpix(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.07, border: int = HCI_BORDER) -> float:
    """HCI BadPix: percent of interior pixels with |pred - gt| > threshold."""
    _check_same(pred, gt, "badpix")
    e = interior(np.abs(pred.astype(np.float64) - gt.astype(np.float64)), border)
    return float(100.0 * np.mean(e > threshold))


def affine_fit(pred: np.ndarray, gt: np.ndarray, border: int = HCI_BORDER) -> tuple[float, float]:
    """Least-squares (gain, offset) with gain * pred + offset ~ gt over the interior (finite pixels only)."""
    _check_same(pred, gt, "affine_fit")
    x, y = interior(pred, border).astype(np.float64).ravel(), interior(gt, border).astype(np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    a = np.stack([x[ok], np.ones(ok.sum())], axis=1)
    (gain, offset), *_ = np.linalg.lstsq(a, y[ok], rcond=None)
    return float(gain), float(offset)


def disparity_scores(pred: np.ndarray, gt: np.ndarray, border: int = HCI_BORDER) -> dict:
    """MSE x 100 and BadPix(0.07), raw and after the affine fit of pred to gt (HCI units, [H, W])."""
    gain, offset = affine_fit(pred, gt, border)
    fitted = gain * pred.astype(np.float64) + offset
    return {"mse_x100": mse_x100(pred, gt, border), "badpix_007": badpix(pred, gt, 0.07, border),
            "mse_x100_affine": mse_x100(fitted, gt, border), "badpix_007_affine": badpix(fitted, gt, 0.07, border),
            "affine_gain": gain, "affine_offset": offset}


def align_crops(frames: list[np.ndarray], offsets: list[tuple[int, int]]) -> np.ndarray:
    """Undo known integer crop motion: frames[t] [h, w, ...] was cut at (y, x) = offsets[t] of a larger image.

    Returns [T, h', w', ...]: every frame's view of the region that all crops share, in scene coordinates.
    """
    if len(frames) != len(offsets) or not frames:
        raise ValueError("align_crops: need one (y, x) offset per frame and at least one frame")
    h, w = frames[0].shape[:2]
    ys, xs = [o[0] for o in offsets], [o[1] for o in offsets]
    y0, y1, x0, x1 = max(ys), min(ys) + h, max(xs), min(xs) + w
    if y1 <= y0 or x1 <= x0:
        raise ValueError("align_crops: the crops share no region; use smaller offsets")
    return np.stack([f[y0 - oy:y1 - oy, x0 - ox:x1 - ox] for f, (oy, ox) in zip(frames, offsets)])


def flicker(aligned: np.ndarray) -> float:
    """Mean absolute difference between consecutive aligned frames [T, ...] (T >= 2), in input units."""
    if aligned.shape[0] < 2:
        raise ValueError("flicker: need at least two frames")
    a = aligned.astype(np.float64)
    return float(np.mean(np.abs(np.diff(a, axis=0))))

"""benchmarks/metrics.py against analytic cases."""
from __future__ import annotations


import numpy as np
import pytest

from benchmarks import metrics as M
from benchmarks.common import synthetic_frame


def _image(seed=0, h=64, w=80):
    _, _, rgb = synthetic_frame(h, w, seed=seed)
    return np.clip(np.rint(rgb * 200 + 20), 0, 255).astype(np.uint8)  # away from 0/255: no clipping below


# ---- PSNR / SSIM -----------------------------------------------------------------------------------------
def test_psnr_of_known_noise_level():
    ref = _image()
    signs = np.random.default_rng(0).choice([-4, 4], size=ref.shape)
    noisy = (ref.astype(int) + signs).astype(np.uint8)  # every error is exactly +-4: MSE = 16
    assert M.psnr(noisy, ref) == pytest.approx(10 * np.log10(255**2 / 16), abs=1e-9)
    assert M.psnr(ref, ref) == float("inf")


def test_ssim_identity_and_constant_images():
    x = _image()
    assert M.ssim(x, x) == pytest.approx(1.0, abs=1e-12)
    # Constant images: no variance, so SSIM is the luminance term (2ab + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 100.0, 140.0, (0.01 * 255) ** 2
    ca, cb = np.full((32, 32), a, np.uint8), np.full((32, 32), b, np.uint8)
    assert M.ssim(ca, cb) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-9)


def test_ssim_drops_with_noise_and_is_symmetric():
    x = _image()
    rng = np.random.default_rng(1)
    scores = [M.ssim(np.clip(x + rng.normal(0, s, x.shape), 0, 255).astype(np.uint8), x) for s in (2, 8, 32)]
    assert scores[0] > scores[1] > scores[2] > 0
    y = np.clip(x + rng.normal(0, 8, x.shape), 0, 255).astype(np.uint8)
    assert M.ssim(x, y) == pytest.approx(M.ssim(y, x), abs=1e-12)


def test_ssim_contrast_inversion_is_negative():
    x = _image()[..., 0].astype(np.float64)
    assert M.ssim(255.0 - x, x) < 0


def test_lf_scores_exclude_the_centre_view():
    k = 3
    ref = np.stack([np.stack([_image(seed=3 * r + c, h=32, w=32) for c in range(k)]) for r in range(k)])
    pred = ref.astype(int).copy()
    pred[1, 1] = 255 - pred[1, 1]                      # terrible centre view: must not count
    pred[0, 0] += 4                                    # one view off by exactly 4 levels everywhere
    s = M.lf_scores(pred.astype(np.uint8), ref)
    assert s["psnr_worst"] == pytest.approx(10 * np.log10(255**2 / 16))
    assert s["ssim_mean"] > 0.99
    assert np.isinf(s["psnr_per_view"][0][1]) and len(s["psnr_per_view"]) == k


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        M.psnr(np.zeros((4, 4)), np.zeros((4, 5)))


# ---- disparity -------------------------------------------------------------------------------------------
def test_badpix_and_mse_of_known_errors():
    gt = np.random.default_rng(0).uniform(-2, 2, (100, 100))
    pred = gt.copy()
    err = np.zeros(4900)                              # the 70 x 70 interior
    err[:490], err[490:980] = 0.1, 0.05               # 10 % bad at 0.07, 10 % below the threshold
    M.interior(pred)[...] += np.random.default_rng(1).permutation(err).reshape(70, 70)
    pred[:5] += 10.0                                  # errors in the 15-px border do not count
    assert M.badpix(pred, gt) == pytest.approx(10.0)
    assert M.mse_x100(pred, gt) == pytest.approx(100 * (490 * 0.01 + 490 * 0.0025) / 4900)
    assert M.badpix(pred, gt, border=0) == pytest.approx(100 * (500 + 490) / 10000)


def test_affine_fit_recovers_gain_and_offset():
    rng = np.random.default_rng(2)
    pred = rng.uniform(-5, 5, (60, 60))
    gt = 0.4 * pred - 1.25
    gain, offset = M.affine_fit(pred, gt)
    assert gain == pytest.approx(0.4) and offset == pytest.approx(-1.25)
    s = M.disparity_scores(pred, gt)
    assert s["mse_x100_affine"] == pytest.approx(0.0, abs=1e-18) and s["badpix_007_affine"] == 0.0
    assert s["mse_x100"] > 100


# ---- temporal --------------------------------------------------------------------------------------------
def test_flicker_after_undoing_known_motion():
    scene = _image(h=80, w=100).astype(np.float64)
    offsets = [(0, 0), (2, 3), (4, 6), (6, 9)]
    crops = [scene[oy:oy + 60, ox:ox + 80] for oy, ox in offsets]
    aligned = M.align_crops(crops, offsets)
    assert aligned.shape == (4, 54, 71, 3)
    assert M.flicker(aligned) == 0.0
    brightened = [c + 2.0 * (t % 2) for t, c in enumerate(crops)]  # alternating +2 levels
    assert M.flicker(M.align_crops(brightened, offsets)) == pytest.approx(2.0)


def test_align_crops_rejects_disjoint_crops():
    with pytest.raises(ValueError, match="share no region"):
        M.align_crops([np.zeros((4, 4)), np.zeros((4, 4))], [(0, 0), (0, 10)])

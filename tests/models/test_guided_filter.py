"""models/guided_filter.py against a direct NumPy implementation of He et al.'s guided filter, and the
DP student's use of it."""
import numpy as np
import pytest
import torch

from models.guided_filter import DPGuidedSmoothing, box_filter, guided_filter

torch.set_num_threads(1)


def _box_reference(x: np.ndarray, r: int) -> np.ndarray:
    """Window mean with edge replication, by explicit summation."""
    p = np.pad(x, r, mode="edge")
    h, w = x.shape
    out = np.zeros_like(x, dtype=np.float64)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out += p[dy:dy + h, dx:dx + w]
    return out / (2 * r + 1) ** 2


def _guided_reference(I: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    mI, mp = _box_reference(I, r), _box_reference(p, r)
    a = (_box_reference(I * p, r) - mI * mp) / (_box_reference(I * I, r) - mI * mI + eps)
    b = mp - a * mI
    return _box_reference(a, r) * I + _box_reference(b, r)


def test_box_filter_matches_the_reference_at_the_borders_too():
    x = np.random.default_rng(0).random((13, 17))
    got = box_filter(torch.from_numpy(x)[None, None], 3)[0, 0].numpy()
    np.testing.assert_allclose(got, _box_reference(x, 3), atol=1e-12)


def test_exact_guided_filter_matches_the_reference():
    rng = np.random.default_rng(1)
    I, p = rng.random((24, 20)), rng.random((24, 20))
    got = guided_filter(torch.from_numpy(I)[None, None], torch.from_numpy(p)[None, None], 4, 1e-2)[0, 0].numpy()
    np.testing.assert_allclose(got, _guided_reference(I, p, 4, 1e-2), atol=1e-10)


def test_guided_filter_keeps_an_edge_of_the_guide_and_flattens_noise():
    """D is a step where the guide is a step; noise on D is averaged away, the step is kept."""
    h, w = 64, 64
    guide = np.where(np.arange(w) < 32, 0.2, 1.0)[None].repeat(h, 0)
    d = np.where(np.arange(w) < 32, -8.0, 6.0)[None].repeat(h, 0)
    noisy = d + np.random.default_rng(2).normal(0, 1.5, (h, w))
    out = guided_filter(torch.from_numpy(guide)[None, None], torch.from_numpy(noisy)[None, None], 16, 1e-3,
                        scale=4)[0, 0].numpy()
    assert np.abs(out - d)[:, 2:30].mean() < 0.25 and np.abs(out - d)[:, 34:-2].mean() < 0.25
    assert np.abs(noisy - d).mean() > 1.0


def test_dp_smoothing_is_exposure_invariant_and_checks_shapes():
    rng = np.random.default_rng(3)
    dp = torch.from_numpy(rng.random((1, 2, 32, 48)).astype(np.float32))
    d = torch.from_numpy(rng.normal(0, 3, (1, 1, 32, 48)).astype(np.float32))
    smooth = DPGuidedSmoothing(16, 1e-3, 4)
    # invariant up to the 0.02 that keeps black frames finite: halving the exposure moves D < 0.1 px
    torch.testing.assert_close(smooth(dp * 0.5, d), smooth(dp, d), atol=0.1, rtol=0)
    assert float((smooth(dp, d) - d).abs().mean()) > 1.0      # it does smooth
    with pytest.raises(ValueError, match="guide must be"):
        guided_filter(dp[:, :1], d[..., :40], 4, 1e-3)


def test_untrained_student_gates_the_filter_by_texture():
    """Zero-initialised refinement: on a flat DP image the student returns the guided filter of the matching
    D, on a strongly textured one the matching D itself."""
    from models.architectures import build

    model = build("dp-disparity-v1").eval()
    rng = np.random.default_rng(4)
    flat = torch.from_numpy(0.5 + 1e-5 * rng.random((1, 2, 32, 48)).astype(np.float32))
    textured = torch.from_numpy(rng.random((1, 2, 32, 48)).astype(np.float32))
    with torch.no_grad():
        d0, _ = model.matching(flat)
        torch.testing.assert_close(model(flat), model.smooth(flat, d0), atol=1e-2, rtol=0)
        d0, _ = model.matching(textured)
        torch.testing.assert_close(model(textured), d0)
        assert float((model.smooth(textured, d0) - d0).abs().mean()) > 0.5   # the two cases differ


def test_local_contrast_is_the_window_standard_deviation():
    from models.guided_filter import local_contrast

    x = np.random.default_rng(5).random((12, 14)) + 100.0       # a large offset must not cost precision
    got = local_contrast(torch.from_numpy(x).float()[None, None], 2)[0, 0].numpy()
    p = np.pad(x, 2, mode="edge")
    want = np.array([[p[i:i + 5, j:j + 5].std() for j in range(14)] for i in range(12)])
    np.testing.assert_allclose(got, want, atol=2e-3)

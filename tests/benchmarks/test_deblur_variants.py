"""benchmarks/deblur_variants.py: the RL-TV variant against the shipped Richardson-Lucy reference, and the
learned variant's starting point (zero head: exactly rl3)."""
import numpy as np
import pytest

from benchmarks.deblur_variants import rl_tv
from kernels.deblur import box_blur, box_corners, deblur_reference


def _scene(seed=0, h=24, w=30):
    rng = np.random.default_rng(seed)
    sharp = (rng.random((h, w, 3)) > 0.5).astype(np.float32) * 0.8 + 0.1
    d = np.full((h, w), 1.5, np.float32)
    blurred = box_blur(sharp, box_corners(d, 0.9)).astype(np.float32)
    return sharp, blurred, d


def test_lam_zero_is_the_shipped_reference():
    _, blurred, d = _scene()
    np.testing.assert_allclose(rl_tv(blurred, d, 4, 0.0), deblur_reference(blurred, d, 4), atol=1e-6)


def test_tv_prior_smooths_where_plain_rl_rings():
    sharp, blurred, d = _scene(1)
    noisy = np.clip(blurred + np.random.default_rng(2).normal(0, 0.02, blurred.shape), 0, 1).astype(np.float32)
    plain, tv = rl_tv(noisy, d, 20, 0.0), rl_tv(noisy, d, 20, 0.02)
    tv_norm = lambda x: np.abs(np.diff(x, axis=0)).sum() + np.abs(np.diff(x, axis=1)).sum()  # noqa: E731
    assert tv_norm(tv) < tv_norm(plain)
    assert np.mean(np.abs(tv - sharp)) < np.mean(np.abs(noisy - sharp))   # still a deblur


def test_untrained_net_returns_rl3():
    torch = pytest.importorskip("torch")
    from benchmarks.deblur_variants import build_net

    net = build_net().eval()
    rgb, rl = torch.rand(1, 3, 16, 20), torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        out = net(rgb, rl, torch.rand(1, 2, 16, 20), torch.randn(1, 1, 16, 20))
    assert torch.equal(out, rl)

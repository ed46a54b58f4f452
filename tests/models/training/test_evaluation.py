"""Dev evaluation helpers (models/training/evaluation.py)."""
import numpy as np
import torch

from engine.io.lightfield import synthesize_dp
from models.training.evaluation import affine_fit_mse

torch.set_num_threads(1)


def test_dp_synthesis_and_affine_fit():
    """Columns left of centre carry the left image: a LF whose views are constant per column."""
    views = np.zeros((9, 9, 4, 4, 3), np.float32)
    for c in range(9):
        views[:, c] = c / 8.0
    left, right, rgb = synthesize_dp(views, 9)
    w = np.array([1, 1, 1, 1, 0.5, 0, 0, 0, 0])
    np.testing.assert_allclose(left, (w * np.arange(9) / 8).sum() / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(right, (w[::-1] * np.arange(9) / 8).sum() / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(rgb, 0.5, rtol=1e-6)
    gt = np.random.default_rng(0).normal(size=(40, 40))
    fit, raw = affine_fit_mse(3.0 * gt + 1.0, gt)
    assert fit < 1e-12 and raw > 1.0

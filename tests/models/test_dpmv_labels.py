"""Teacher labels of real captures (models/dpmv_labels.py): the rectified -> DP map and the robust line fit."""
import numpy as np
import pytest

from models.dpmv_labels import _rect_to_dp_matrix, _warp_to_dp, robust_affine_fit


def test_robust_affine_fit_ignores_outliers_and_a_dominant_plane():
    rng = np.random.default_rng(0)
    t = np.concatenate([rng.uniform(-10, 30, 4000), np.full(20000, 5.0) + rng.normal(0, 0.1, 20000)])
    d = 0.5 * t - 2.0 + rng.normal(0, 0.05, t.size)
    d[:400] = rng.uniform(-16, 16, 400)                       # 10 % of the spread pixels are wrong
    fit = robust_affine_fit(t, d)
    assert abs(fit["gain"] - 0.5) < 0.02 and abs(fit["offset"] + 2.0) < 0.2
    assert fit["inlier_bins"] >= 3 and fit["inlier_pixels"][400:].mean() > 0.95


def test_rect_to_dp_matrix_and_warp():
    assert _rect_to_dp_matrix({}, (40, 60), (40, 60), "x") == (None, "same size")
    m, how = _rect_to_dp_matrix({}, (40, 60), (20, 30), "x")
    assert "inferred" in how and np.allclose(m[:2, :2], 0.5 * np.eye(2))
    with pytest.raises(ValueError, match="aspect ratio"):
        _rect_to_dp_matrix({}, (40, 60), (40, 30), "x")
    t = np.full((40, 60), 3.0, np.float32)
    t_dp, ok = _warp_to_dp(t, np.ones_like(t, bool), m, (20, 30))
    assert t_dp.shape == (20, 30) and ok.all() and np.allclose(t_dp, 3.0)

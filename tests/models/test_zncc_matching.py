"""Whole-image DP matching (models/zncc_matching.py): ZNCC against a numpy reference, gain invariance, the
disparity of analytic scenes, and filling of a textureless region from its surroundings."""
import cv2
import numpy as np
import pytest
import torch

from models.synthetic import SceneConfig, render_scene, scene_from_layers
from models.zncc_matching import CrossScaleAggregation, ZnccDefocusMatching, zncc_cost


def _zncc_reference(a, b, r):
    """Direct window sums, replicate borders. a, b [H, W] float64."""
    pa, pb = np.pad(a, r, mode="edge"), np.pad(b, r, mode="edge")
    out = np.empty_like(a)
    for y in range(a.shape[0]):
        for x in range(a.shape[1]):
            wa, wb = pa[y:y + 2 * r + 1, x:x + 2 * r + 1].ravel(), pb[y:y + 2 * r + 1, x:x + 2 * r + 1].ravel()
            wa, wb = wa - wa.mean(), wb - wb.mean()
            out[y, x] = 1.0 - (wa @ wb / wa.size) / np.sqrt((wa @ wa / wa.size) * (wb @ wb / wb.size) + 1e-12)
    return out


def test_zncc_matches_the_direct_sum_and_ignores_gain_and_offset():
    rng = np.random.default_rng(0)
    a, b = rng.random((20, 24)), rng.random((20, 24))
    t = lambda x: torch.tensor(x, dtype=torch.float64)[None, None]  # noqa: E731
    got = zncc_cost(t(a), t(b), 2)[0, 0].numpy()
    np.testing.assert_allclose(got, _zncc_reference(a, b, 2), atol=1e-6)
    scaled = zncc_cost(t(a), t(3.0 * b + 0.4), 2)[0, 0].numpy()
    np.testing.assert_allclose(scaled, got, atol=1e-5)


def _plane_dp(d, aperture="disc", views=9, size=128, seed=0, flat_centre=0):
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 1.2)
    if flat_centre:
        lo, hi = (size - flat_centre) // 2, (size + flat_centre) // 2
        tex[lo:hi, lo:hi] = 0.5
    scene = scene_from_layers(size, size, [(tex, None, float(d))])
    s = render_scene(scene, SceneConfig(aperture=aperture, aperture_views=views, noise=0.0, bit_depth=0))
    return torch.tensor(np.stack([s.left, s.right]))[None]


@pytest.mark.parametrize("d, aperture, views", [(5.0, "disc", 9), (-3.5, "lf-grid", 9), (2.0, "lf-grid", 3)])
def test_fronto_parallel_plane(d, aperture, views):
    with torch.no_grad():
        est, feats = ZnccDefocusMatching(max_disparity=8.0, hypotheses=33)(_plane_dp(d, aperture, views))
    inner = est[0, 0, 16:-16, 16:-16].numpy()
    # ZNCC slightly prefers the blurrier of two close hypotheses: the fixed matcher over-estimates |D| by up
    # to ~12 % on a disc aperture (the learned refinement corrects the scale)
    assert abs(np.median(inner) - d) < 0.15 * abs(d) + 0.1, np.median(inner)
    assert feats.shape == (1, 3, 128, 128)


def test_a_gain_ramp_between_the_views_does_not_read_as_disparity():
    """Real DP views differ in gain across the frame (vignetting); the estimate must not follow it."""
    dp = _plane_dp(4.0)
    ramp = torch.linspace(0.8, 1.2, dp.shape[-1]).view(1, 1, 1, -1)
    dp[:, 1:2] = dp[:, 1:2] * ramp
    with torch.no_grad():
        est, _ = ZnccDefocusMatching(max_disparity=8.0, hypotheses=33)(dp)
    inner = est[0, 0, 16:-16, 16:-16].numpy()
    with torch.no_grad():
        same, _ = ZnccDefocusMatching(max_disparity=8.0, hypotheses=33)(_plane_dp(4.0))
    assert np.abs(inner - same[0, 0, 16:-16, 16:-16].numpy()).mean() < 0.1


def test_a_textureless_centre_takes_the_disparity_of_its_surroundings():
    dp = _plane_dp(-4.0, flat_centre=48)
    with torch.no_grad():
        aggregated, _ = ZnccDefocusMatching(max_disparity=8.0, hypotheses=33)(dp)
        per_pixel, _ = ZnccDefocusMatching(max_disparity=8.0, hypotheses=33, levels=1)(dp)
    centre = (slice(None), slice(None), slice(52, 76), slice(52, 76))
    assert np.abs(aggregated[centre].numpy() + 4.0).max() < 1.0
    assert np.abs(per_pixel[centre].numpy() + 4.0).mean() > 2.0   # without aggregation it cannot


def test_aggregation_of_a_constant_cost_is_the_sum_of_the_level_weights():
    agg = CrossScaleAggregation(levels=3, coarse_weight=2.0)
    cost = torch.full((1, 4, 32, 48), 0.5)
    guide = torch.rand(1, 1, 32, 48)
    out = agg(cost, guide)
    np.testing.assert_allclose(out.numpy(), 0.5 * (1 + 2 + 4), rtol=1e-5)

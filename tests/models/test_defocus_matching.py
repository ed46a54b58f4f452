"""The defocus-aware DP matching front end recovers the disparity of analytic scenes, in every protocol."""
import numpy as np
import pytest
import torch

from models.defocus_matching import DefocusCostVolume, grid_family, tap_kernels
from models.synthetic import SceneConfig, render_scene, scene_from_layers


def _plane_dp(d, aperture, views=9, size=96, seed=0):
    rng = np.random.default_rng(seed)
    import cv2

    tex = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 1.2)
    scene = scene_from_layers(size, size, [(tex, None, float(d))])
    cfg = SceneConfig(aperture=aperture, aperture_views=views, noise=0.0, bit_depth=0)
    s = render_scene(scene, cfg)
    return torch.tensor(np.stack([s.left, s.right]))[None]


@pytest.mark.parametrize("d, aperture, views", [(6.0, "lf-grid", 9), (-4.5, "lf-grid", 9), (3.0, "lf-grid", 3),
                                                (-2.0, "lf-grid", 4), (5.0, "disc", 9)])
def test_fronto_parallel_plane_disparity(d, aperture, views):
    with torch.no_grad():
        d0, feats = DefocusCostVolume()(_plane_dp(d, aperture, views))
    inner = d0[0, 0, 24:-24, 24:-24].numpy()
    assert abs(np.median(inner) - d) < 0.35, np.median(inner)
    assert feats.shape == (1, 3, 96, 96)


def test_kernels_commute_exactly_at_the_true_disparity():
    """h_R(D) * (h_L(D) * I) == h_L(D) * (h_R(D) * I) and differs at a wrong D."""
    rng = np.random.default_rng(1)
    signal = rng.random(200)
    hyps = np.array([4.0, 7.0])
    kl, kr = tap_kernels(hyps, grid_family(9), 12)
    left, right = np.convolve(signal, kl[0][::-1], "same"), np.convolve(signal, kr[0][::-1], "same")
    good = np.convolve(left, kr[0][::-1], "same") - np.convolve(right, kl[0][::-1], "same")
    bad = np.convolve(left, kr[1][::-1], "same") - np.convolve(right, kl[1][::-1], "same")
    assert np.abs(good[30:-30]).max() < 1e-12 < 1e-3 < np.abs(bad[30:-30]).mean()

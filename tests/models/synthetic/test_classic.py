"""Synthetic engine: the SPEC §2 convention (DP shift = D, views = shifted centre), occlusion, determinism."""

import cv2
import numpy as np
import pytest

from engine.conventions import APERTURE_RADIUS, dp_gray, half_aperture_weights, lf_view_u
from models.synthetic import (SceneConfig, make_scene, render_clip, render_disparity, render_dp,
                              render_sample, render_stereo, render_views, scene_from_layers)
from models.synthetic.textures import value_noise

H = W = 96
M = 40
CLEAN = dict(noise=0.0, bit_depth=0)


def _texture(seed: int, scale: float = 6.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = value_noise((H + 2 * M, W + 2 * M), rng, scale)
    return np.stack([f, np.roll(f, 7, 0), 1.0 - f], -1).astype(np.float32)


def _dp_shift(left: np.ndarray, right: np.ndarray, blur: float = 3.0, crop: int = 24) -> float:
    """Measured x_left - x_right by brute-force subpixel SSD after the same Gaussian blur of both."""
    a, b = cv2.GaussianBlur(left, (0, 0), blur), cv2.GaussianBlur(right, (0, 0), blur)

    def ssd(d):  # b shifted right by d: b_s(x) = b(x - d); matches a when x_a - x_b = d
        bs = cv2.warpAffine(b, np.float32([[1, 0, d], [0, 1, 0]]), b.shape[::-1], flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REFLECT)
        return float(((a - bs)[crop:-crop, crop:-crop] ** 2).mean())

    coarse = np.arange(-15.0, 15.01, 0.25)
    d0 = coarse[int(np.argmin([ssd(d) for d in coarse]))]
    fine = np.arange(d0 - 0.3, d0 + 0.3, 0.01)
    return float(fine[int(np.argmin([ssd(d) for d in fine]))])


@pytest.mark.parametrize("aperture", ["disc", "lf-grid"])
@pytest.mark.parametrize("disparity", [5.0, -3.0])
def test_dp_pair_shift_equals_d(aperture, disparity):
    scene = scene_from_layers(H, W, [(_texture(1), None, disparity)])
    left, right, rgb, _ = render_dp(scene, SceneConfig(aperture=aperture, **CLEAN))
    assert abs(_dp_shift(left, right) - disparity) < 0.2
    # mirrored sign: swapping the planes flips the measured shift
    assert abs(_dp_shift(right, left) + disparity) < 0.2


@pytest.mark.parametrize("disparity", [5.0, -3.0])
def test_views_are_shifted_centre(disparity):
    scene = scene_from_layers(H, W, [(_texture(2, 10.0), None, disparity)])
    positions = np.array([[0, 0], [0.5, 0], [-1.0, 0.5], [lf_view_u(4, 9), lf_view_u(-2, 9)]], np.float32)
    views = render_views(scene, positions)
    centre = views[0]
    c = 16
    for (u, v), view in zip(positions[1:], views[1:]):
        # view(x, y) = centre(x + D u, y + D v)
        expect = cv2.warpAffine(centre, np.float32([[1, 0, disparity * u], [0, 1, disparity * v]]), (W, H),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        err = np.abs(view - expect)[c:-c, c:-c]
        assert err.mean() < 3e-3, (u, v, err.mean())
        wrong = cv2.warpAffine(centre, np.float32([[1, 0, -disparity * u], [0, 1, -disparity * v]]), (W, H),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        assert np.abs(view - wrong)[c:-c, c:-c].mean() > 5 * err.mean()


def test_lf_grid_matches_lightfield_synthesis():
    """aperture='lf-grid' = SPEC §2 synthesis from the K x K pinhole views, written out independently."""
    k = 5
    scene = scene_from_layers(H, W, [(_texture(3), None, 2.0),
                                     (_texture(4), _square_alpha(30, 60), (6.0, 0.02, -0.01))])
    offs = np.arange(k) - (k - 1) / 2
    grid = np.array([[[lf_view_u(cu, k), lf_view_u(rv, k)] for cu in offs] for rv in offs], np.float32)
    views = render_views(scene, grid.reshape(-1, 2)).reshape(k, k, H, W, 3)
    w = half_aperture_weights(k)
    left = dp_gray(np.einsum("c,vchwk->hwk", w, views) / (k * w.sum()))
    right = dp_gray(np.einsum("c,vchwk->hwk", w[::-1], views) / (k * w.sum()))
    rgb = views.mean(axis=(0, 1))
    got_l, got_r, got_rgb, info = render_dp(scene, SceneConfig(aperture="lf-grid", aperture_views=k, **CLEAN))
    assert info["aperture_samples"] == k * k
    np.testing.assert_allclose(got_l, left, atol=1e-5)
    np.testing.assert_allclose(got_r, right, atol=1e-5)
    np.testing.assert_allclose(got_rgb, rgb, atol=1e-5)


@pytest.mark.parametrize("samples, tol", [(0, 0.005), (200, 0.002)])
def test_disc_defocus_is_disc_blur(samples, tol):
    """Full-aperture RGB of a fronto plane = centre image convolved with a disc of radius R*|D|
    (default: adaptive lattice + prefilter; 200 samples: dense lattice, no prefilter)."""
    d = 6.0
    scene = scene_from_layers(H, W, [(_texture(5, 4.0), None, d)])
    _, _, rgb, _ = render_dp(scene, SceneConfig(aperture_samples=samples, **CLEAN))
    sharp = render_views(scene, np.zeros((1, 2), np.float32))[0]
    c = 20

    def disc(radius, sub=16):  # area-sampled disc kernel
        size = 2 * int(np.ceil(radius)) + 3
        t = (np.arange(size * sub) + 0.5) / sub - size / 2.0
        inside = (t[:, None] ** 2 + t[None, :] ** 2 <= radius**2).astype(np.float32)
        k = inside.reshape(size, sub, size, sub).mean(axis=(1, 3))
        return k / k.sum()

    errs = [np.abs(cv2.filter2D(sharp, -1, disc(APERTURE_RADIUS * d * f), borderType=cv2.BORDER_REFLECT)
                   - rgb)[c:-c, c:-c].mean() for f in (0.9, 1.0, 1.1)]
    assert errs[1] < tol and errs[1] < 0.5 * min(errs[0], errs[2]), errs


def _square_alpha(x0: int, x1: int) -> np.ndarray:
    a = np.zeros((H + 2 * M, W + 2 * M), np.float32)
    a[M + x0:M + x1, M + x0:M + x1] = 1.0
    return a


def test_occlusion_near_layer_wins():
    red = np.zeros((H + 2 * M, W + 2 * M, 3), np.float32)
    red[..., 0] = 0.9
    blue = np.zeros_like(red)
    blue[..., 2] = 0.2 + 0.6 * value_noise(blue.shape[:2], np.random.default_rng(0), 8.0)
    d_far, d_near = -2.0, 6.0
    scene = scene_from_layers(H, W, [(blue, None, d_far), (red, _square_alpha(30, 60), d_near)])
    gt = render_disparity(scene)
    assert np.all(gt[31:59, 31:59] == d_near)
    assert np.all(gt[:29] == d_far) and np.all(gt[:, 61:] == d_far)
    u = 1.0
    view = render_views(scene, np.array([[u, 0.0]], np.float32))[0]
    # the near square moves by -D_near*u = -6 px; the strip it uncovers shows the background
    assert np.allclose(view[32:58, 32 - 6:58 - 6], [0.9, 0, 0], atol=1e-5)
    disoccluded = view[32:58, 56:59]
    assert np.all(disoccluded[..., 0] < 1e-5) and np.all(disoccluded[..., 2] > 0.1)
    # outside the square the far layer moves by -D_far*u = +2 px
    centre = render_views(scene, np.zeros((1, 2), np.float32))[0]
    np.testing.assert_allclose(view[5:20, 20:70], centre[5:20, 20 - 2:70 - 2], atol=1e-5)


def test_random_scenes_are_depth_ordered():
    for seed in range(6):
        scene = make_scene(seed, 64, 64, SceneConfig(slanted_prob=0.7))
        ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
        ds = [scene.disparity_at(layer, 0, xs, ys) for layer in scene.layers]
        for far, near in zip(ds[:-1], ds[1:]):
            assert np.all(near > far)  # nearer layers have larger D everywhere: compositing order is right
        gt = render_disparity(scene)
        assert np.abs(gt).max() <= SceneConfig().max_disparity + 1e-4


def test_determinism_and_same_scene_for_stereo():
    cfg = SceneConfig()
    pos = np.array([[0.0, 0.0], [0.5, -0.5]], np.float32)
    a = render_sample(11, 64, 80, pos, cfg, stereo_baseline=2.0)
    b = render_sample(11, 64, 80, pos, cfg, stereo_baseline=2.0)
    for name in ("left", "right", "rgb", "disparity", "views", "positions", "stereo"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = render_sample(12, 64, 80, pos, cfg)
    assert np.abs(a.rgb - c.rgb).mean() > 1e-3
    views3, d = render_stereo(11, 64, 80, cfg=cfg, baseline_u=2.0)
    np.testing.assert_array_equal(views3, a.stereo)
    np.testing.assert_array_equal(views3[1], a.views[0])
    np.testing.assert_array_equal(d, a.disparity)
    assert a.left.shape == (64, 80) and a.rgb.shape == (64, 80, 3) and a.views.shape == (2, 64, 80, 3)
    assert all(x.dtype == np.float32 for x in (a.left, a.right, a.rgb, a.disparity, a.views, a.positions))


def test_sensor_noise_and_quantisation():
    clean = render_sample(3, 64, 64, cfg=SceneConfig(**CLEAN))
    noisy = render_sample(3, 64, 64, cfg=SceneConfig(noise=0.02, bit_depth=8))
    assert np.allclose(noisy.left * 255, np.round(noisy.left * 255), atol=1e-3)
    resid = noisy.left - clean.left
    assert 0.01 < resid.std() < 0.04
    np.testing.assert_array_equal(noisy.views, clean.views)  # GT views stay noise-free


def test_clip_is_temporally_coherent():
    clip = render_clip(5, 4, 64, 64, cfg=SceneConfig(n_layers=(1, 1), slanted_prob=0.0,
                                                           texture_families=("pink_noise",), **CLEAN),
                       object_motion=False)
    # a single fronto plane under a camera pan: each frame is a translation of the previous one
    for prev, nxt in zip(clip[:-1], clip[1:]):
        shift, resp = cv2.phaseCorrelate(prev.views[0].mean(-1).astype(np.float64),
                                         nxt.views[0].mean(-1).astype(np.float64))
        assert resp > 0.3 and np.hypot(*shift) < 6.0
    assert np.abs(clip[0].views[0] - clip[-1].views[0]).mean() > 1e-3


def test_bad_input_raises():
    with pytest.raises(ValueError, match="aperture"):
        render_sample(0, cfg=SceneConfig(aperture="square"))
    with pytest.raises(ValueError, match="positions"):
        render_sample(0, 32, 32, positions=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="too small"):
        render_sample(0, 4, 4)

"""Synthetic engine v2: realistic draws, Pixel-4-fitted DP optics, curved / thin geometry, photo textures, sensor."""
import dataclasses

import cv2
import numpy as np
import pytest

from models.synthetic import (SceneConfig, classic_config, make_scene, optics, photos, realistic_config,
                              render_clip, render_disparity, render_dp, render_realistic_sample, render_sample,
                              scene_from_layers)
from models.synthetic.render import sensor
from models.synthetic.scene import cap_profile, curved_surface
from models.synthetic.textures import THIN_MASK_FAMILIES, mask, texture
from tests.models.synthetic.test_classic import CLEAN, H, M, W, _dp_shift, _texture

ARRAYS = ("left", "right", "rgb", "disparity", "views", "positions")


def test_realistic_draw_is_deterministic_by_seed():
    pos = np.array([[0.0, 0.0], [0.6, -0.4]], np.float32)
    a = render_realistic_sample(7, 64, 64, pos, stereo_baseline=1.0)
    b = render_realistic_sample(7, 64, 64, pos, stereo_baseline=1.0)
    for name in ARRAYS + ("stereo",):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = render_realistic_sample(8, 64, 64, pos)
    assert np.abs(a.rgb - c.rgb).mean() > 1e-3
    assert realistic_config(np.random.default_rng([3, 11])) == realistic_config(np.random.default_rng([3, 11]))
    # clips: same seed -> same frames; camera + object motion moves the content
    cfg = realistic_config(np.random.default_rng([5, 11]), "phone", aperture="disc", psf="pixel4",
                           texture_families=("pink_noise",))
    c1 = render_clip(5, 3, 48, 48, cfg=cfg)
    c2 = render_clip(5, 3, 48, 48, cfg=cfg)
    for f1, f2 in zip(c1, c2):
        np.testing.assert_array_equal(f1.left, f2.left)
        np.testing.assert_array_equal(f1.disparity, f2.disparity)
    assert np.abs(c1[0].views[0] - c1[-1].views[0]).mean() > 1e-3


def test_realistic_config_covers_both_protocols():
    cfgs = [realistic_config(np.random.default_rng([s, 11])) for s in range(300)]
    full = [c.max_disparity * c.disparity_scale[1] for c in cfgs if c.max_disparity > 6]
    phone = [c.max_disparity * c.disparity_scale[1] for c in cfgs if c.max_disparity <= 6]
    assert len(full) > 100 and len(phone) > 50
    assert max(full) > 13.5 and max(phone) < 6
    assert {c.bit_depth for c in cfgs} == {8, 10, 12, 14}
    assert {c.psf for c in cfgs} == {"ideal", "pixel4"}
    assert {c.aperture for c in cfgs} == {"disc", "lf-grid"}
    assert not any(c.aperture == "lf-grid" and c.psf != "ideal" for c in cfgs)
    assert {c.aperture_views for c in cfgs if c.aperture == "lf-grid" and c.max_disparity <= 6} <= {3, 4}
    assert any(f in c.mask_families for c in cfgs for f in THIN_MASK_FAMILIES)
    assert all("photo" in c.texture_families and c.curved_prob > 0 for c in cfgs)
    # the v1 training draw stays available, draw for draw
    rng, ref = np.random.default_rng([4, 11]), np.random.default_rng([4, 11])
    c = classic_config(rng, (3.0, 18.0))
    assert c.max_disparity == float(ref.uniform(3.0, 18.0)) and c.aperture == str(ref.choice(["disc", "lf-grid"]))
    assert c.psf == "ideal" and c.curved_prob == 0 and c.texture_families == SceneConfig().texture_families


@pytest.mark.parametrize("window", [None, (-0.8, 0.3, 0.004)])
@pytest.mark.parametrize("disparity", [5.0, -3.0])
def test_dp_convention_with_pixel4_psf(disparity, window):
    """A fronto plane at D gives a DP pair whose measured shift (the v1 test's SSD) is D, with the soft,
    spatially varying Pixel 4 split, anywhere in the frame."""
    scene = scene_from_layers(H, W, [(_texture(1), None, disparity)])
    scene.frame_window = window
    left, right, rgb, _ = render_dp(scene, SceneConfig(psf="pixel4", **CLEAN))
    assert abs(_dp_shift(left, right) - disparity) < 0.3
    assert abs(_dp_shift(right, left) + disparity) < 0.3
    # and it is not the ideal model: the same D blurs the full-aperture image more (R_u = 1.81 vs 1.18)
    _, _, rgb_ideal, _ = render_dp(scene, SceneConfig(**CLEAN))
    c = 20
    assert rgb[c:-c, c:-c].std() < 0.9 * rgb_ideal[c:-c, c:-c].std()


def test_pixel4_half_aperture_is_soft_and_asymmetric():
    xn = np.array([-0.9, 0.0, 0.9])
    pos, wl, wr, _ = optics.soft_aperture(400, xn)
    u = pos[:, 0].astype(np.float64)
    np.testing.assert_allclose((wr * u[:, None]).sum(0) - (wl * u[:, None]).sum(0), 1 / optics.PIXEL4.match_gain,
                               atol=1e-6)
    np.testing.assert_allclose(wl.sum(0), 1.0, atol=1e-5)
    # crosstalk: the left half-aperture collects light from the right half of the disc too (no sharp half disc)
    right_half = u > 0.3 * np.abs(u).max()
    assert np.all(wl[right_half].sum(0) > 0.05)
    # asymmetric: the left and right PSFs are not mirror images of each other (t0 > 0: the left one is wider)
    cl, cr = (wl * u[:, None]).sum(0), (wr * u[:, None]).sum(0)
    assert np.all(np.abs(cl + cr) > 0.01)


def _flat_scene(h: int, w: int, m: int = 8, level: float = 0.5):
    return scene_from_layers(h, w, [(np.full((h + 2 * m, w + 2 * m, 3), level, np.float32), None, 0.0)])


def test_dp_vignetting_direction_matches_pixel4(data_dir):
    """A flat field through the fitted DP vignetting is darker on the same side as the white sheets: the left
    plane is darker in the left half of the frame, and so is its share L / (L + R)."""
    from models.synthetic.calibrate_pixel4 import load, measure_white_sheets

    h, w = 96, 128                                               # 4:3, the full Pixel 4 frame
    left, right, _, _ = render_dp(_flat_scene(h, w), SceneConfig(dp_vignetting=1.0, **CLEAN))
    cal = data_dir / "pixel4_dp" / "calibration"
    if not cal.is_dir():
        pytest.skip(f"no Pixel 4 calibration in {cal}")
    data = load(cal)
    ws = measure_white_sheets(data["wl"], data["wr"])
    c = (slice(h // 2 - 4, h // 2 + 4), slice(w // 2 - 4, w // 2 + 4))
    model_halves = left[:, :w // 2].mean() / left[c].mean(), left[:, w // 2:].mean() / left[c].mean()
    share = left / (left + right)
    assert np.sign(model_halves[1] - model_halves[0]) == np.sign(ws["left_right_half"] - ws["left_left_half"]) == 1
    assert np.sign(share[:, w // 2:].mean() - share[:, :w // 2].mean()) == \
        np.sign(ws["left_share_right_half"] - ws["left_share_left_half"]) == 1
    assert abs(model_halves[0] - ws["left_left_half"]) < 0.05 and abs(model_halves[1] - ws["left_right_half"]) < 0.05
    assert abs(share[c].mean() - ws["left_share_centre"]) < 0.01
    # corners are darker than the centre (lens falloff), and strength 0 leaves the planes untouched
    assert left[0, 0] < 0.5 * left[c].mean()
    l0, _, _, _ = render_dp(_flat_scene(h, w), SceneConfig(**CLEAN))
    np.testing.assert_allclose(l0, 0.5, atol=1e-6)


def test_dp_vignetting_without_data():
    h, w = 96, 128
    left, _, rgb, _ = render_dp(_flat_scene(h, w), SceneConfig(dp_vignetting=1.0, **CLEAN))
    assert left[:, :w // 2].mean() < left[:, w // 2:].mean()
    np.testing.assert_allclose(rgb, 0.5, atol=1e-6)                # RGB: lens shading corrected by the ISP


@pytest.mark.parametrize("bits", [3, 8, 10, 14])
def test_quantisation_levels(bits):
    rng = np.random.default_rng(bits)
    ramp = np.tile(np.linspace(-0.05, 1.05, 256, dtype=np.float32), (256, 1))
    q = sensor(ramp, 0.01, bits, rng)
    levels = np.unique(q)
    assert len(levels) <= 2**bits
    assert len(levels) >= min(2**bits, 256) // 2
    np.testing.assert_allclose(levels * (2**bits - 1), np.round(levels * (2**bits - 1)), atol=1e-3)
    s = render_sample(1, 48, 48, cfg=SceneConfig(bit_depth=bits, noise=0.01))
    for plane in (s.left, s.right, s.rgb):
        assert len(np.unique(plane)) <= 2**bits


def test_exposure_and_white_balance():
    scene = _flat_scene(32, 32)
    base = render_dp(scene, SceneConfig(**CLEAN))
    scene.exposure, scene.white_balance = 1.5, (1.2, 1.0, 0.8)
    left, _, rgb, _ = render_dp(scene, SceneConfig(**CLEAN))
    np.testing.assert_allclose(left, 1.5 * base[0], rtol=1e-6)       # the DP planes are raw: exposure only
    np.testing.assert_allclose(rgb, 1.5 * base[2] * np.float32([1.2, 1.0, 0.8]), rtol=1e-6)
    s = render_sample(2, 32, 32, cfg=SceneConfig(exposure=1.0, white_balance=0.1))
    assert 0.5 <= s.info["exposure"] <= 2.0 and s.info["white_balance"] != (1.0, 1.0, 1.0)


def test_sphere_gt_matches_the_analytic_surface():
    hc, wc = H + 2 * M, W + 2 * M
    centre, radius, base, amp = (M + 40.3, M + 52.7), 25.0, -2.0, 6.0
    shape, alpha, info = curved_surface("sphere", (hc, wc), np.random.default_rng(0), centre, 2 * radius)
    k = info["k"]
    assert info["radius"] == radius and 0 < k < 1
    scene = scene_from_layers(H, W, [(_texture(3), None, -4.0), (_texture(4), alpha, base, amp * shape)])
    gt = render_disparity(scene)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    r = np.hypot(xs + M - centre[0], ys + M - centre[1]) / radius
    # independent formula: D = base + amp * (sqrt(1 - k r^2) - sqrt(1 - k)) / (1 - sqrt(1 - k)) inside the disc
    expect = np.where(r < 1, base + amp * (np.sqrt(1 - k * np.minimum(r, 1) ** 2) - np.sqrt(1 - k)) /
                      (1 - np.sqrt(1 - k)), -4.0)
    inside = r < 0.97
    np.testing.assert_allclose(gt[inside], expect[inside], atol=1e-4)
    assert np.all(gt[r > 1.03] == -4.0)
    assert abs(gt[inside].max() - (base + amp)) < 0.05
    # smooth: neighbouring GT values inside differ by no more than the analytic slope allows
    gx = np.abs(np.diff(gt, axis=1))[inside[:, 1:] & inside[:, :-1]]
    max_slope = amp * k / np.sqrt(1 - k * 0.97**2) / (1 - np.sqrt(1 - k)) / radius
    assert gx.max() <= max_slope + 1e-4


def test_random_curved_scenes_are_depth_ordered_and_match_their_surfaces():
    cfg = SceneConfig(curved_prob=1.0, n_layers=(2, 4), **CLEAN)
    kinds = set()
    for seed in range(8):
        scene = make_scene(seed, 64, 64, cfg)
        ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
        ds = [scene.disparity_at(layer, 0, xs, ys) for layer in scene.layers]
        for far, near in zip(ds[:-1], ds[1:]):
            assert np.all(near > far)
        for layer, d in zip(scene.layers, ds):
            kinds.add(layer.info["surface"])
            if layer.info["surface"] == "sphere":
                cx, cy = layer.info["center"]
                r = np.hypot(xs + scene.margin - cx, ys + scene.margin - cy) / layer.info["radius"]
                expect = layer.plane[0] + layer.info["amplitude"] * cap_profile(r, layer.info["k"])
                np.testing.assert_allclose(d, expect, atol=1e-4)
        s = render_sample(seed, 64, 64, cfg=cfg)
        assert np.isfinite(s.left).all() and np.abs(s.disparity).max() <= cfg.max_disparity + 1e-3
    assert kinds >= {"sphere", "heightfield"}


@pytest.mark.parametrize("family", THIN_MASK_FAMILIES)
def test_thin_structures_are_thin(family):
    for seed in range(3):
        m = mask(family, (160, 160), np.random.default_rng(seed), (80.0, 80.0), 60.0, 0.0)
        solid = (m > 0.5).astype(np.uint8)
        assert solid.sum() > 20
        # local width = twice the distance to the background: 1-4 px (wider only where fence bars cross or
        # branches fork)
        width = 2 * cv2.distanceTransform(np.pad(solid, 1), cv2.DIST_L2, 5)[1:-1, 1:-1][solid > 0]
        assert np.median(width) <= 4.0 and np.percentile(width, 90) <= 5.0, (family, seed)
    s = render_sample(0, 48, 48, cfg=SceneConfig(mask_families=(family,), n_layers=(3, 3), **CLEAN))
    assert np.isfinite(s.left).all()


def test_photo_textures_load():
    pytest.importorskip("skimage")
    names = photos.available()
    assert {"astronaut", "coffee", "chelsea", "camera", "rocket"} <= set(names)
    a = texture("photo", (120, 150), np.random.default_rng(1))
    b = texture("photo", (120, 150), np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (120, 150, 3) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert a.std() > 0.01
    s = render_sample(3, 48, 48, cfg=SceneConfig(texture_families=("photo",)))
    assert s.rgb.std() > 0.005


def test_photo_family_falls_back_without_skimage(monkeypatch):
    monkeypatch.setattr(photos, "_load_all", lambda: ())
    assert photos.available() == []
    t = texture("photo", (64, 64), np.random.default_rng(0))
    assert t.shape == (64, 64, 3) and t.std() > 0


def test_focus_range_outside_the_scene_gives_one_sign():
    for seed in range(4):
        d = render_disparity(make_scene(seed, 48, 48, SceneConfig(focus_range=(1.2, 1.3), focus_on_layer_prob=0)))
        assert d.max() < 0                                       # focused in front of everything: all behind
        d = render_disparity(make_scene(seed, 48, 48, SceneConfig(focus_range=(-0.3, -0.2), focus_on_layer_prob=0)))
        assert d.min() > 0


def test_bad_v2_config_raises():
    with pytest.raises(ValueError, match="lf-grid"):
        render_sample(0, 32, 32, cfg=SceneConfig(aperture="lf-grid", psf="pixel4"))
    with pytest.raises(ValueError, match="psf"):
        render_sample(0, 32, 32, cfg=SceneConfig(psf="gauss"))
    with pytest.raises(ValueError, match="frame_fraction"):
        render_sample(0, 32, 32, cfg=SceneConfig(frame_fraction=(0.0, 1.0)))
    with pytest.raises(ValueError, match="protocol"):
        realistic_config(np.random.default_rng(0), "tele")
    assert dataclasses.replace(SceneConfig(), psf="pixel4").psf == "pixel4"

"""kernels/dp_views.py: DP halves as views at u = -/+ 1/2 (renderer "dibr-dp")."""
import numpy as np
import pytest

from kernels.dibr import dibr_warp
from kernels.dp_views import dp_balance, half_aperture_rgb, render_from_halves, view_weights


def test_without_rgb_the_halves_are_the_dp_planes():
    rng = np.random.default_rng(0)
    left, right = rng.random((9, 11), dtype=np.float32), rng.random((9, 11), dtype=np.float32)
    right *= np.float32(left.sum(dtype=np.float64) / right.sum(dtype=np.float64))   # balanced: the same frame mean
    grey = np.repeat(((left + right) / 2)[..., None], 3, -1)       # what the pipeline uses when there is no RGB
    halves = half_aperture_rgb(grey, left, right)
    np.testing.assert_allclose(halves[0], np.repeat(left[..., None], 3, -1), atol=1e-6)
    np.testing.assert_allclose(halves[1], np.repeat(right[..., None], 3, -1), atol=1e-6)


def test_a_global_gain_between_the_dp_planes_is_balanced_out():
    """A sensor whose left half reads 20 % brighter everywhere (Pixel 4) must not brighten the left views."""
    rng = np.random.default_rng(7)
    rgb = rng.random((12, 16, 3), dtype=np.float32) * 0.8
    left, right = rng.random((12, 16), dtype=np.float32) + 0.2, rng.random((12, 16), dtype=np.float32) + 0.2
    right *= np.float32(left.sum(dtype=np.float64) / right.sum(dtype=np.float64))
    np.testing.assert_allclose(half_aperture_rgb(rgb, 1.2 * left, right),
                               half_aperture_rgb(rgb, 1.03 * left, right), atol=1e-5)   # 3 % remain
    plain = half_aperture_rgb(rgb, left, right)
    brighter = half_aperture_rgb(rgb, 1.01 * left, right)[0]       # 1 %: kept, as scene content
    assert (brighter >= plain[0]).all() and brighter.mean() > plain[0].mean()
    assert dp_balance(0.0, 5.0, 10) == 1.0                          # a black plane: nothing to balance
    assert dp_balance(1.02, 1.0, 10) == 1.0 and dp_balance(1.0, 1.02, 10) == 1.0   # within 3 %: left alone
    np.testing.assert_allclose(dp_balance(1.2, 1.0, 10) ** 2, 1.2 / 1.03)            # beyond: down to 3 %
    np.testing.assert_allclose(dp_balance(1.0, 1.2, 10) ** 2, 1.03 / 1.2)


def test_the_relighting_keeps_colour_and_ignores_a_gain_between_dp_and_rgb():
    rng = np.random.default_rng(1)
    rgb = rng.random((6, 7, 3), dtype=np.float32) * 0.5
    left, right = rng.random((6, 7), dtype=np.float32) + 0.1, rng.random((6, 7), dtype=np.float32) + 0.1
    halves = half_aperture_rgb(rgb, left, right)
    np.testing.assert_allclose(half_aperture_rgb(rgb, 7 * left, 7 * right), halves, atol=1e-6)
    ratio = halves[0] / rgb                                           # one gain per pixel, the same for R, G, B
    np.testing.assert_allclose(ratio, np.repeat(ratio[..., :1], 3, -1), rtol=1e-5)
    np.testing.assert_allclose((halves[0] + halves[1]) / 2, np.clip(rgb, 0, 1), atol=1e-6)   # they average to rgb
    dark = half_aperture_rgb(rgb, np.zeros((6, 7), np.float32), np.zeros((6, 7), np.float32))
    np.testing.assert_array_equal(dark[0], rgb)                       # no light: the full-aperture colour


def test_view_weights_take_the_nearer_half_and_blend_between_them():
    positions = np.array([[-1, -1], [-0.25, 0], [0, 0.5], [0.1, 0], [0.25, 0], [2, 1]], np.float32)
    offsets, t = view_weights(positions, 2.0)
    np.testing.assert_array_equal(offsets, positions * 2)
    np.testing.assert_allclose(t, [0, 0, 0.5, 0.7, 1, 1], atol=1e-6)    # t = clip(b u + 1/2, 0, 1)
    _, t0 = view_weights(positions, 0.0)
    np.testing.assert_array_equal(t0, np.full(6, 0.5, np.float32))      # baseline 0: every view is the centre


@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8])
def test_halves_that_are_exact_views_give_the_centre_image_s_views(out_dtype):
    """Constant D = 2 px: the left half is the scene at u = -1/2, i.e. the centre image shifted by one pixel, the
    right half the other way; every view, blended ones included, must be what warping the centre image gives
    (away from the borders)."""
    rng = np.random.default_rng(2)
    H, W = 20, 30
    centre = rng.random((H, W, 3), dtype=np.float32)
    d = np.full((H, W), 2.0, np.float32)
    xs = np.clip(np.arange(W) - 1, 0, W - 1)        # view at u: I(x + D u); u = -1/2 -> x - 1
    left = centre[:, xs]
    right = centre[:, np.clip(np.arange(W) + 1, 0, W - 1)]
    positions = np.array([[-1, 0], [-0.5, 0.5], [-0.2, 0], [0, 0], [0.5, -0.5], [1, 0]], np.float32)
    got = render_from_halves(np.stack([left, right]), d, positions, 1.0, out_dtype=out_dtype)
    want = dibr_warp(centre, d, positions, 1.0, out_dtype=out_dtype)
    np.testing.assert_allclose(got[:, :, 3:-3].astype(np.float32), want[:, :, 3:-3].astype(np.float32), atol=1e-6)
    wrong = render_from_halves(np.stack([right, left]), d, positions, 1.0, out_dtype=out_dtype)
    assert not np.array_equal(wrong[0][:, 3:-3], want[0][:, 3:-3])   # swapped halves: a 2-px error


def test_blended_views_are_the_weighted_mean_of_the_two_warps():
    rng = np.random.default_rng(5)
    halves = rng.random((2, 18, 24, 3), dtype=np.float32)
    d = rng.uniform(-3, 3, (18, 24)).astype(np.float32)
    positions = np.array([[-0.3, 0.4], [0.0, 0.0], [0.45, -1]], np.float32)
    got = render_from_halves(halves, d, positions, 1.0)
    for i, (u, v) in enumerate(positions):
        a = dibr_warp(halves[0], d, np.float32([[u + 0.5, v]]), 1.0)[0]
        b = dibr_warp(halves[1], d, np.float32([[u - 0.5, v]]), 1.0)[0]
        np.testing.assert_allclose(got[i], a + (u + 0.5) * (b - a), atol=1e-6)
    u8 = render_from_halves(halves, d, positions, 1.0, out_dtype=np.uint8)
    np.testing.assert_array_equal(u8, np.clip(np.rint(got * np.float32(255)), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8])
def test_compiled_blend_equals_the_numpy_blend(monkeypatch, out_dtype):
    import kernels.dp_views as dp_views

    if dp_views.dp_views_numba is None:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(6)
    halves = rng.random((2, 17, 23, 3), dtype=np.float32)
    d = rng.uniform(-4, 4, (17, 23)).astype(np.float32)
    positions = np.array([[-0.4, 0], [0, 0], [0.2, 0.3], [1, 1]], np.float32)
    scratch = {}
    compiled = render_from_halves(halves, d, positions, 1.0, out_dtype=out_dtype, scratch=scratch)
    again = render_from_halves(halves, d, positions, 1.0, out_dtype=out_dtype, scratch=scratch)   # reused buffers
    monkeypatch.setattr(dp_views, "dp_views_numba", None)
    plain = render_from_halves(halves, d, positions, 1.0, out_dtype=out_dtype)
    np.testing.assert_array_equal(compiled, plain)
    np.testing.assert_array_equal(again, plain)

"""kernels/dp_views.py: DP halves as views at u = -/+ 1/2 (renderer "dibr-dp")."""
import numpy as np
import pytest

from kernels.dibr import dibr_warp
from kernels.dp_views import half_aperture_rgb, render_from_halves, source_groups


def test_without_rgb_the_halves_are_the_dp_planes():
    rng = np.random.default_rng(0)
    left, right = rng.random((9, 11), dtype=np.float32), rng.random((9, 11), dtype=np.float32)
    grey = np.repeat(((left + right) / 2)[..., None], 3, -1)       # what the pipeline uses when there is no RGB
    halves = half_aperture_rgb(grey, left, right)
    np.testing.assert_allclose(halves[0], np.repeat(left[..., None], 3, -1), atol=1e-6)
    np.testing.assert_allclose(halves[1], np.repeat(right[..., None], 3, -1), atol=1e-6)


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


def test_source_groups_split_the_grid_by_column():
    positions = np.array([[-1, -1], [0, -1], [1, -1], [-0.5, 0], [0, 0], [0.5, 0]], np.float32)
    groups = {s: (idx.tolist(), shifted) for s, idx, shifted in source_groups(positions, 2.0)}
    assert groups[0][0] == [1, 4] and groups[1][0] == [0, 3] and groups[2][0] == [2, 5]
    np.testing.assert_allclose(groups[1][1][:, 0], positions[[0, 3], 0] + 0.25)   # su - (-1/2), over b = 2
    np.testing.assert_allclose(groups[2][1][:, 0], positions[[2, 5], 0] - 0.25)
    np.testing.assert_array_equal(groups[1][1][:, 1], positions[[0, 3], 1])
    assert [s for s, _, _ in source_groups(positions, 0.0)] == [0]


@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8])
def test_halves_that_are_exact_views_give_the_centre_image_s_views(out_dtype):
    """Constant D = 2 px: the left half is the scene at u = -1/2, i.e. the centre image shifted by one pixel;
    warping it to u = -1 must give what warping the centre image gives (away from the borders)."""
    rng = np.random.default_rng(2)
    H, W = 20, 30
    centre = rng.random((H, W, 3), dtype=np.float32)
    d = np.full((H, W), 2.0, np.float32)
    xs = np.clip(np.arange(W) - 1, 0, W - 1)        # view at u: I(x + D u); u = -1/2 -> x - 1
    left = centre[:, xs]
    right = centre[:, np.clip(np.arange(W) + 1, 0, W - 1)]
    positions = np.array([[-1, 0], [-0.5, 0.5], [0, 0], [0.5, -0.5], [1, 0]], np.float32)
    got = render_from_halves(centre, np.stack([left, right]), d, positions, 1.0, out_dtype=out_dtype)
    want = dibr_warp(centre, d, positions, 1.0, out_dtype=out_dtype)
    np.testing.assert_array_equal(got[:, :, 3:-3], want[:, :, 3:-3])
    wrong = render_from_halves(centre, np.stack([right, left]), d, positions, 1.0, out_dtype=out_dtype)
    assert not np.array_equal(wrong[0][:, 3:-3], want[0][:, 3:-3])   # swapped halves: a 2-px error


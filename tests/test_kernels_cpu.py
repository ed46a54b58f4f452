"""CPU kernels vs their pure references, analytic cases and bad input (SPEC §8)."""
import numpy as np
import pytest

from engine.conventions import grid_positions
from kernels.dibr import dibr_warp, dibr_warp_reference
from kernels.preprocess import crop, preprocess, preprocess_reference
from kernels.render_layers import render_layers, render_layers_reference


def _random_case(rng, L, R, H, W, P, plane_range=6.0, pos_range=2.0):
    layers = rng.random((L, R, 3, H, W), dtype=np.float32)
    planes = rng.uniform(-plane_range, plane_range, L).astype(np.float32)
    positions = rng.uniform(-pos_range, pos_range, (P, 2)).astype(np.float32)
    return layers, planes, positions


@pytest.mark.parametrize("L,R,H,W", [(3, 4, 13, 17), (1, 1, 9, 11), (2, 3, 20, 8), (4, 2, 7, 30)])
def test_render_layers_matches_reference(L, R, H, W):
    rng = np.random.default_rng(L * 100 + W)
    layers, planes, positions = _random_case(rng, L, R, H, W, P=9)
    positions[0] = 0  # centre view (identity shifts)
    positions[1] = [positions[2, 0], 0.3]  # shares its horizontal shift with view 2
    positions[3] *= 20  # far outside the image: every sample clamps
    got = render_layers(layers, planes, positions, baseline=1.3)
    want = render_layers_reference(layers, planes, positions, baseline=1.3)
    assert got.shape == (9, H, W, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_render_layers_uint8_and_float16():
    rng = np.random.default_rng(7)
    layers, planes, positions = _random_case(rng, 3, 5, 16, 19, P=6)
    want = render_layers_reference(layers, planes, positions, out_dtype=np.uint8).astype(int)
    got = render_layers(layers, planes, positions, out_dtype=np.uint8)
    assert got.dtype == np.uint8
    assert np.abs(got.astype(int) - want).max() <= 1  # rounding of x.5 may differ by one step
    assert (got.astype(int) == want).mean() > 0.999
    half = render_layers(layers, planes, positions, out_dtype=np.float16)
    np.testing.assert_allclose(half, render_layers_reference(layers, planes, positions), atol=2e-3)


def test_render_layers_reuses_out_and_threads_agree():
    rng = np.random.default_rng(3)
    layers, planes, _ = _random_case(rng, 3, 2, 12, 14, P=1)
    positions = grid_positions(3, 1.5).reshape(-1, 2)
    out = np.empty((9, 12, 14, 3), np.float32)
    assert render_layers(layers, planes, positions, out=out, threads=1) is out
    np.testing.assert_array_equal(render_layers(layers, planes, positions, threads=2), out)


@pytest.mark.parametrize("plane,u,v", [(2.0, 1.0, 0.0), (-3.0, 0.0, 1.0), (1.0, -2.0, 3.0)])
def test_render_layers_integer_shift_is_exact(plane, u, v):
    rng = np.random.default_rng(0)
    H, W = 24, 31
    image = rng.random((3, H, W), dtype=np.float32)
    views = render_layers(image[None, None], np.float32([plane]), np.float32([[u, v]]))
    sx, sy = int(plane * u), int(plane * v)
    ys, xs = np.mgrid[0:H, 0:W]
    expected = image[:, np.clip(ys + sy, 0, H - 1), np.clip(xs + sx, 0, W - 1)].transpose(1, 2, 0)
    np.testing.assert_array_equal(views[0], expected)


def test_render_layers_half_pixel_is_average():
    image = np.arange(3 * 5 * 6, dtype=np.float32).reshape(1, 1, 3, 5, 6) / 100
    view = render_layers(image, np.float32([0.5]), np.float32([[1.0, 0.0]]))[0]
    expected = (image[0, 0, :, :, :-1] + image[0, 0, :, :, 1:]) / 2
    np.testing.assert_allclose(view[:, :-1], expected.transpose(1, 2, 0), atol=1e-6)
    np.testing.assert_allclose(view[:, -1], image[0, 0, :, :, -1].T, atol=1e-6)  # clamped at the border


def test_render_layers_bad_input():
    with pytest.raises(ValueError, match="layers must be"):
        render_layers(np.zeros((3, 2, 4, 4), np.float32), np.zeros(3), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="planes must be"):
        render_layers(np.zeros((2, 1, 3, 4, 4), np.float32), np.zeros(3), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="finite"):
        render_layers(np.zeros((1, 1, 3, 4, 4), np.float32), [np.nan], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="out must be"):
        render_layers(np.zeros((1, 1, 3, 4, 4), np.float32), [0.0], np.zeros((1, 2)), out=np.zeros((2, 4, 4, 3)))


# ---------------------------------------------------------------- DIBR

def test_dibr_matches_reference_on_random_disparity():
    rng = np.random.default_rng(2)
    H, W = 12, 15
    rgb = rng.random((H, W, 3), dtype=np.float32)
    disparity = rng.uniform(-3, 3, (H, W)).astype(np.float32)
    disparity[3:7, 4:9] = 2.5  # equal-D block: z-buffer ties
    positions = rng.uniform(-1.5, 1.5, (6, 2)).astype(np.float32)
    positions[0] = 0
    positions[5] = [40.0, -40.0]  # everything leaves the image: the backward-warp fallback
    got = dibr_warp(rgb, disparity, positions, baseline=1.2)
    np.testing.assert_allclose(got, dibr_warp_reference(rgb, disparity, positions, baseline=1.2), atol=1e-5)
    got8 = dibr_warp(rgb, disparity, positions, out_dtype=np.uint8).astype(int)
    want8 = dibr_warp_reference(rgb, disparity, positions, out_dtype=np.uint8).astype(int)
    assert np.abs(got8 - want8).max() <= 1


@pytest.mark.parametrize("d,u,v", [(2.0, 1.0, 0.0), (-3.0, 0.5, -1.0), (0.75, 1.0, 1.0)])
def test_dibr_constant_disparity_is_a_shift(d, u, v):
    rng = np.random.default_rng(1)
    H, W = 20, 26
    rgb = rng.random((H, W, 3), dtype=np.float32)
    view = dibr_warp(rgb, np.full((H, W), d, np.float32), np.float32([[u, v]]))[0]
    sx, sy = d * u, d * v
    m = 4  # away from the borders, where the shifted-in rows are holes
    ys, xs = np.mgrid[m:H - m, m:W - m]
    x0, y0 = np.floor(xs + sx).astype(int), np.floor(ys + sy).astype(int)
    fx, fy = (xs + sx - x0)[..., None], (ys + sy - y0)[..., None]
    expected = ((1 - fy) * ((1 - fx) * rgb[y0, x0] + fx * rgb[y0, x0 + 1])
                + fy * ((1 - fx) * rgb[y0 + 1, x0] + fx * rgb[y0 + 1, x0 + 1]))
    np.testing.assert_allclose(view[m:H - m, m:W - m], expected, atol=1e-6)


def test_dibr_occlusion_keeps_the_near_square_and_fills_with_background():
    H, W = 32, 40
    background = np.array([0.1, 0.5, 0.9], np.float32)
    square = np.array([1.0, 0.2, 0.0], np.float32)
    rgb = np.broadcast_to(background, (H, W, 3)).copy()
    disparity = np.zeros((H, W), np.float32)
    rgb[10:20, 15:25] = square
    disparity[10:20, 15:25] = 4.0  # nearer
    view = dibr_warp(rgb, disparity, np.float32([[1.0, 0.0]]))[0]
    # The square moves to x - 4 intact, covering background (it wins the z-buffer)...
    np.testing.assert_array_equal(view[10:20, 11:21], np.broadcast_to(square, (10, 10, 3)))
    # ...and the strip it uncovers is filled with background, not smeared square.
    np.testing.assert_array_equal(view[10:20, 21:25], np.broadcast_to(background, (10, 4, 3)))
    np.testing.assert_array_equal(view[:10], rgb[:10])
    # Same scene with the reference.
    np.testing.assert_allclose(view, dibr_warp_reference(rgb, disparity, np.float32([[1.0, 0.0]]))[0], atol=1e-6)


def test_dibr_bad_input():
    with pytest.raises(ValueError, match="disparity must be"):
        dibr_warp(np.zeros((4, 4, 3), np.float32), np.zeros((4, 5), np.float32), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        dibr_warp(np.zeros((4, 4, 3), np.float32), np.full((4, 4), np.nan, np.float32), np.zeros((1, 2)))


# ---------------------------------------------------------------- preprocess

@pytest.mark.parametrize("dtype,black,white", [(np.uint16, 64, 1023), (np.uint8, 0, None), (np.float32, 0, None)])
def test_preprocess_matches_reference(dtype, black, white):
    rng = np.random.default_rng(5)
    H, W = 13, 21
    if dtype == np.float32:
        left, right = rng.random((2, H, W), dtype=np.float32)
    else:
        top = 1100 if dtype == np.uint16 else 256
        left, right = rng.integers(0, top, (2, H, W)).astype(dtype)  # includes values below black / above white
    rgb = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    for colour in (rgb, None):
        dp, rgb_out, size = preprocess(left, right, colour, black_level=black, white_level=white)
        want_dp, want_rgb, _ = preprocess_reference(left, right, colour, black_level=black, white_level=white)
        assert size == (H, W) and dp.shape == (1, 2, 16, 32) and rgb_out.shape == (1, 3, 16, 32)
        np.testing.assert_allclose(dp, want_dp, atol=1e-6)
        np.testing.assert_allclose(rgb_out, want_rgb, atol=1e-6)
        assert dp.min() >= 0 and dp.max() <= 1
        np.testing.assert_allclose(crop(dp, size)[0, 0], want_dp[0, 0, :H, :W], atol=1e-6)


def test_preprocess_reuses_buffers_and_validates():
    left = np.zeros((32, 48), np.uint8)
    out = (np.empty((1, 2, 32, 48), np.float32), np.empty((1, 3, 32, 48), np.float32))
    dp, rgb, _ = preprocess(left, left, None, out=out)
    assert dp is out[0] and rgb is out[1]
    with pytest.raises(ValueError, match="must match"):
        preprocess(left, left[:-1])
    with pytest.raises(ValueError, match="NaN"):
        preprocess(np.full((4, 4), np.nan, np.float32), np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="white_level"):
        preprocess(left, left, black_level=10, white_level=5)

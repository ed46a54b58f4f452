"""kernels.render_layers: the CPU renderer vs its pure reference, analytic shifts and bad input."""
import numpy as np
import pytest

from engine.conventions import grid_positions
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

"""kernels.dibr: the CPU DIBR warp vs its pure reference, analytic shifts, occlusion and bad input."""
import numpy as np
import pytest

from kernels.dibr import dibr_warp, dibr_warp_reference


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

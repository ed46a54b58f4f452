"""kernels.dibr: the CPU DIBR warp vs its pure reference, analytic shifts, occlusion and bad input."""
import numpy as np
import pytest

from kernels import dibr
from kernels.dibr import dibr_warp, dibr_warp_reference

needs_numba = pytest.mark.skipif(dibr.dibr_numba is None, reason="numba is not installed")


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


def _scene(rng, H, W, P=7):
    """Random colours and D with near blocks (occlusions + disocclusion holes), equal-D ties, -0/+0, and a
    position far outside (every pixel leaves the image: the backward-warp fallback)."""
    rgb = rng.random((H, W, 3), dtype=np.float32)
    disparity = rng.uniform(-2, 2, (H, W)).astype(np.float32)
    for _ in range(3):
        y, x = rng.integers(0, H), rng.integers(0, W)
        disparity[y:y + rng.integers(1, H // 2 + 2), x:x + rng.integers(1, W // 2 + 2)] = rng.uniform(3, 6)
    disparity[:, :2] = 1.5                      # a tie column: equal keys, smaller source index wins
    disparity.flat[::7] = -0.0                  # ordered_bits puts -0 below +0
    disparity.flat[3::7] = 0.0
    positions = rng.uniform(-1.5, 1.5, (P, 2)).astype(np.float32)
    positions[0] = 0                            # the centre view: the kernel copies the image
    positions[1] = [40.0, -40.0]
    positions[2:4] = [[0.8, 0.0], [0.0, -1.1]]  # on the axes: the kernel skips lerps by a zero fraction
    return rgb, disparity, positions


@needs_numba
@pytest.mark.parametrize("H,W", [(1, 1), (5, 7), (12, 15), (23, 31), (40, 33)])
@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8])
def test_numba_kernel_matches_reference_and_fast_path(H, W, out_dtype):
    rng = np.random.default_rng(H * 100 + W)
    rgb, disparity, positions = _scene(rng, H, W)
    got = dibr_warp(rgb, disparity, positions, 1.3, out_dtype=out_dtype, method="numba")
    # The numba kernel does the fast path's float32 operations in the same order: bit-identical.
    np.testing.assert_array_equal(got, dibr_warp(rgb, disparity, positions, 1.3, out_dtype=out_dtype, method="numpy"))
    want = dibr_warp_reference(rgb, disparity, positions, 1.3, out_dtype=out_dtype)
    if out_dtype == np.float32:
        # The reference samples in float64 with (1-f)a + fb, the kernels in float32 with a + f(b-a): ~1e-7.
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    else:
        # Same rounding rule; a level differs only where 255*colour lies within float32 rounding of k + 1/2.
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() <= 1
        assert (diff > 0).mean() <= 0.01


@needs_numba
def test_numba_kernel_threads_uint8_input_and_given_out():
    rng = np.random.default_rng(5)
    rgb, disparity, positions = _scene(rng, 19, 26, P=9)
    rgb8 = (rgb * 255).astype(np.uint8)
    one = dibr_warp(rgb8, disparity, positions, out_dtype=np.uint8, threads=1, method="numba")
    out = np.full((9, 19, 26, 3), 7, np.uint8)
    assert dibr_warp(rgb8, disparity, positions, out=out, out_dtype=np.uint8, method="numba") is out
    np.testing.assert_array_equal(out, one)
    np.testing.assert_array_equal(out, dibr_warp(rgb8, disparity, positions, out_dtype=np.uint8, method="numpy"))
    assert dibr_warp(rgb, disparity, positions[:0], method="numba").shape == (0, 19, 26, 3)


def test_method_validation():   # the environment variable: tests/kernels/test_cpu_method.py
    with pytest.raises(ValueError, match="method"):
        dibr_warp(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.float32), np.zeros((1, 2)), method="x")
    dibr.warm_up()   # compiles or loads from the cache; never raises


def test_render_disparity_is_the_5x5_median_with_replicated_borders():
    from numpy.lib.stride_tricks import sliding_window_view

    from kernels.dibr import render_disparity

    d = np.random.default_rng(3).normal(size=(23, 31)).astype(np.float32) * 4
    want = np.median(sliding_window_view(np.pad(d, 2, mode="edge"), (5, 5)), axis=(-2, -1))
    np.testing.assert_array_equal(render_disparity(d), want.astype(np.float32))
    spiky = np.full((16, 20), 2.0, np.float32)
    spiky[8, 10] = 9.0                       # a single-pixel outlier: gone, so it cannot move the views
    np.testing.assert_array_equal(render_disparity(spiky), np.full((16, 20), 2.0, np.float32))

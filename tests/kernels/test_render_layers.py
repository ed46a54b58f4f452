"""kernels.render_layers: the CPU renderer vs its pure reference, analytic shifts and bad input."""
import numpy as np
import pytest

from engine.conventions import grid_positions
from kernels import render_layers as _rl
from kernels.render_layers import layer_shifts, render_layers, render_layers_reference


def _random_case(rng, L, R, H, W, P, plane_range=6.0, pos_range=2.0):
    layers = rng.random((L, R, 3, H, W), dtype=np.float32)
    planes = rng.uniform(-plane_range, plane_range, L).astype(np.float32)
    positions = rng.uniform(-pos_range, pos_range, (P, 2)).astype(np.float32)
    return layers, planes, positions


@pytest.mark.parametrize("method", ["numba", "numpy"])
@pytest.mark.parametrize("L,R,H,W", [(3, 4, 13, 17), (1, 1, 9, 11), (2, 3, 20, 8), (4, 2, 7, 30)])
def test_render_layers_matches_reference(L, R, H, W, method):
    if method == "numba" and _rl.render_layers_numba is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(L * 100 + W)
    layers, planes, positions = _random_case(rng, L, R, H, W, P=9)
    positions[0] = 0  # centre view (identity shifts)
    positions[1] = [positions[2, 0], 0.3]  # shares its horizontal shift with view 2
    positions[3] *= 20  # far outside the image: every sample clamps
    got = render_layers(layers, planes, positions, baseline=1.3, method=method)
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


# -- the compiled kernel (kernels/render_layers_numba.py) vs the reference and the numpy path ----------------------
numba_only = pytest.mark.skipif(_rl.render_layers_numba is None, reason="numba is not installed")


def _clamping_case(rng, L, R, H, W, P=7, layer_dtype=np.float32):
    """Random layers, negative and positive planes, and views whose shifts reach beyond the image."""
    layers = rng.random((L, R, 3, H, W), dtype=np.float32).astype(layer_dtype)
    planes = rng.uniform(-4, 4, L).astype(np.float32)
    planes[0] = -abs(planes[0]) - 0.25
    positions = rng.uniform(-1.5, 1.5, (P, 2)).astype(np.float32)
    positions[0] = 0
    positions[1] = [positions[2, 0], -0.7]   # shares its horizontal shifts with view 2
    positions[3] *= 30                       # every sample clamps
    positions[4] = [0.5 / max(abs(planes[-1]), 1e-3), 0.0]   # half-pixel and integer shifts
    return layers, planes, positions


@numba_only
@pytest.mark.parametrize("L,R,H,W", [(1, 1, 23, 37), (2, 4, 23, 37), (3, 3, 9, 5), (3, 2, 1, 6), (1, 4, 14, 1)])
def test_numba_matches_reference(L, R, H, W):
    """Floats agree with the float64 reference to float rounding (the reference rounds x + d to float32 before
    taking its fraction and lerps in float64, the kernel lerps fma(a, 1 - f, b * f) in float32: ~1e-7 relative).
    uint8 may differ by one level: rint of a value within float rounding of k + 1/2 can go either way."""
    rng = np.random.default_rng(L * 1000 + R * 100 + H + W)
    layers, planes, positions = _clamping_case(rng, L, R, H, W)
    want = render_layers_reference(layers, planes, positions, baseline=1.2)
    got = render_layers(layers, planes, positions, baseline=1.2, method="numba")
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    want8 = render_layers_reference(layers, planes, positions, baseline=1.2, out_dtype=np.uint8).astype(int)
    got8 = render_layers(layers, planes, positions, baseline=1.2, out_dtype=np.uint8, method="numba")
    assert got8.dtype == np.uint8 and np.abs(got8.astype(int) - want8).max() <= 1
    half = render_layers(layers, planes, positions, baseline=1.2, out_dtype=np.float16, method="numba")
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), want, atol=1e-3, rtol=1e-3)


@numba_only
@pytest.mark.parametrize("out_dtype", [np.float32, np.float16, np.uint8])
@pytest.mark.parametrize("layer_dtype", [np.float32, np.float16])
def test_numba_is_bit_identical_to_numpy_path(out_dtype, layer_dtype):
    """Same float32 operations in the same order as the OpenCV path (fma lerps, fused last product), so the two
    agree exactly on a CPU with FMA, including at uint8 ties; float16 layers are widened exactly first."""
    rng = np.random.default_rng(11)
    for L, R, H, W in [(3, 4, 23, 37), (1, 2, 17, 9), (4, 1, 12, 20)]:
        layers, planes, positions = _clamping_case(rng, L, R, H, W, P=9, layer_dtype=layer_dtype)
        a = render_layers(layers, planes, positions, 0.9, out_dtype=out_dtype, method="numba")
        b = render_layers(layers, planes, positions, 0.9, out_dtype=out_dtype, method="numpy")
        if not _fma_cpu():
            np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), atol=1 if out_dtype == np.uint8
                                       else 1e-6)
            continue
        np.testing.assert_array_equal(a, b)
        want = render_layers_reference(layers, planes, positions, 0.9, out_dtype=out_dtype).astype(np.float32)
        np.testing.assert_allclose(a.astype(np.float32), want, atol={np.float32: 1e-5, np.float16: 1e-3}.get(
            out_dtype, 1), rtol=1e-3 if out_dtype == np.float16 else 0)


def _fma_cpu() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " fma" in f.read()
    except OSError:
        return False


@numba_only
def test_numba_threads_bands_and_out_reuse():
    rng = np.random.default_rng(5)
    layers, planes, positions = _clamping_case(rng, 3, 2, 33, 21)
    out = np.empty((7, 33, 21, 3), np.uint8)
    assert render_layers(layers, planes, positions, out=out, out_dtype=np.uint8, threads=1, method="numba") is out
    np.testing.assert_array_equal(render_layers(layers, planes, positions, out_dtype=np.uint8, threads=2), out)
    shifts = layer_shifts(planes, positions)
    for band in (1, 4, 33):
        other = _rl.render_layers_numba.render(np.ascontiguousarray(layers), shifts, np.empty_like(out), 2, band)
        np.testing.assert_array_equal(other, out)


def test_method_validation(monkeypatch):   # the environment variable: tests/kernels/test_cpu_method.py
    with pytest.raises(ValueError, match="method must be one of"):
        render_layers(np.zeros((1, 1, 3, 4, 4), np.float32), [0.0], np.zeros((1, 2)), method="opencv")
    monkeypatch.setattr(_rl, "render_layers_numba", None)
    with pytest.raises(RuntimeError, match="needs numba"):
        render_layers(np.zeros((1, 1, 3, 4, 4), np.float32), [0.0], np.zeros((1, 2)), method="numba")


@pytest.mark.parametrize("method", _rl.METHODS)
def test_no_views(method):
    if method == "numba" and _rl.render_layers_numba is None:
        pytest.skip("numba is not installed")
    out = render_layers(np.ones((2, 1, 3, 4, 5), np.float32), [0.0, 1.0], np.zeros((0, 2)), method=method)
    assert out.shape == (0, 4, 5, 3)

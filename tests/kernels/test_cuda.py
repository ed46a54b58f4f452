"""CUDA kernels: nvcc compile check (when nvcc exists) and GPU parity with the CPU references (when a GPU exists)."""
import shutil
import subprocess

import numpy as np
import pytest

from tests.paths import ROOT

from kernels import cuda
from kernels.dibr import dibr_warp_reference
from kernels.preprocess import preprocess_reference
from kernels.render_layers import render_layers_reference

CU_FILES = sorted((ROOT / "kernels").glob("*.cu"))
NVCC = shutil.which("nvcc")


def test_every_kernel_source_is_present():
    assert {f.stem for f in CU_FILES} >= {"render_layers", "dibr_warp", "preprocess", "deblur"}


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("source", CU_FILES, ids=lambda p: p.name)
def test_nvcc_compiles(source, arch, tmp_path):
    result = subprocess.run([NVCC, f"-arch={arch}", "-cubin", "-Werror=all-warnings", "-o",
                             str(tmp_path / f"{source.stem}.cubin"), str(source)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_cuda_available_never_raises():
    assert cuda.cuda_available() in (True, False)


def test_launcher_without_cupy_fails_clearly():
    if cuda.cuda_available():
        pytest.skip("a GPU is present")
    try:
        import cupy  # noqa: F401
    except Exception:
        with pytest.raises(cuda.CudaUnavailableError, match="CuPy"):
            cuda.render_layers(np.zeros((1, 1, 3, 4, 4), np.float32), [0.0], np.zeros((1, 2), np.float32))


gpu = pytest.mark.skipif(not cuda.cuda_available(), reason="needs CuPy and a CUDA GPU")


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("in_dtype", [np.float32, np.float16])
@pytest.mark.parametrize("out_dtype", [np.float32, np.float16, np.uint8])
def test_render_layers_gpu_matches_reference(in_dtype, out_dtype):
    import cupy as cp

    rng = np.random.default_rng(0)
    L, R, H, W = 3, 4, 37, 53
    layers = rng.random((L, R, 3, H, W), dtype=np.float32).astype(in_dtype)
    planes = rng.uniform(-6, 6, L).astype(np.float32)
    positions = rng.uniform(-2, 2, (7, 2)).astype(np.float32)
    positions[0] = 0
    got = cuda.render_layers(cp.asarray(layers), planes, positions, baseline=1.3, out_dtype=out_dtype).get()
    want = render_layers_reference(layers.astype(np.float32), planes, positions, baseline=1.3, out_dtype=out_dtype)
    if out_dtype == np.uint8:
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    else:
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32),
                                   atol=2e-3 if out_dtype == np.float16 else 1e-5)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8])
def test_dibr_gpu_matches_reference(out_dtype):
    import cupy as cp

    rng = np.random.default_rng(2)
    H, W = 14, 17
    rgb = rng.random((H, W, 3), dtype=np.float32)
    disparity = rng.uniform(-3, 3, (H, W)).astype(np.float32)
    disparity[3:7, 4:9] = 2.5
    positions = rng.uniform(-1.5, 1.5, (5, 2)).astype(np.float32)
    positions[4] = [40.0, -40.0]
    got = cuda.dibr_warp(cp.asarray(rgb), cp.asarray(disparity), positions, 1.2, out_dtype=out_dtype).get()
    want = dibr_warp_reference(rgb, disparity, positions, 1.2, out_dtype=out_dtype)
    if out_dtype == np.uint8:
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    else:
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("iterations", [0, 1, 3])
def test_deblur_gpu_matches_reference(iterations):
    import cupy as cp

    from kernels.deblur import deblur_reference

    rng = np.random.default_rng(7)
    H, W = 19, 26
    rgb = rng.random((H, W, 3), dtype=np.float32)
    disparity = rng.uniform(-6, 6, (H, W)).astype(np.float32)
    got = cuda.deblur(cp.asarray(rgb), cp.asarray(disparity), iterations, 0.9).get()
    np.testing.assert_allclose(got, deblur_reference(rgb, disparity, iterations, 0.9), atol=1e-6)
    got = cuda.deblur(cp.asarray(rgb), cp.asarray(disparity), iterations, (0.45, 0.9)).get()   # a DP half's box
    np.testing.assert_allclose(got, deblur_reference(rgb, disparity, iterations, (0.45, 0.9)), atol=1e-6)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", [np.uint16, np.uint8, np.float32])
def test_preprocess_gpu_matches_reference(dtype):
    import cupy as cp

    rng = np.random.default_rng(5)
    H, W = 13, 21
    left, right = (rng.random((2, H, W)) * (1100 if dtype == np.uint16 else 255)).astype(dtype)
    if dtype == np.float32:
        left, right = left / 255, right / 255
    rgb = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    kwargs = dict(black_level=64, white_level=1023) if dtype == np.uint16 else {}
    for colour in (rgb, None):
        dp, rgb_out, size = cuda.preprocess(cp.asarray(left), cp.asarray(right),
                                            None if colour is None else cp.asarray(colour), **kwargs)
        want_dp, want_rgb, _ = preprocess_reference(left, right, colour, **kwargs)
        assert size == (H, W)
        np.testing.assert_allclose(dp.get(), want_dp, atol=1e-6)
        np.testing.assert_allclose(rgb_out.get(), want_rgb, atol=1e-6)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("rank", cuda.PACKED_RANKS)
@pytest.mark.parametrize("in_dtype", [np.float32, np.float16])
@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8])
def test_render_layers_packed_gpu_matches_reference(rank, in_dtype, out_dtype):
    import cupy as cp

    rng = np.random.default_rng(rank)
    L, H, W = 3, 29, 45
    layers = rng.random((L, rank, 3, H, W), dtype=np.float32).astype(in_dtype)
    planes = rng.uniform(-6, 6, L).astype(np.float32)
    positions = rng.uniform(-2, 2, (6, 2)).astype(np.float32)
    packed = cuda.pack_layers(cp.asarray(layers), in_dtype)
    assert packed.shape == (L, H, W, cuda.packed_channels(rank, in_dtype))
    got = cuda.render_layers_packed(packed, planes, positions, rank, 0.9, out_dtype=out_dtype).get()
    want = render_layers_reference(layers.astype(np.float32), planes, positions, baseline=0.9, out_dtype=out_dtype)
    if out_dtype == np.uint8:
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    else:
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8])
def test_dp_views_gpu_matches_cpu(out_dtype):
    """renderer "dibr-dp" on the GPU: the re-lit halves, the render D (median) and the warped / blended views
    against the CPU."""
    import cupy as cp

    from kernels import dp_views
    from kernels.dibr import render_disparity

    rng = np.random.default_rng(8)
    H, W = 21, 34
    rgb = rng.random((H, W, 3), dtype=np.float32)
    left, right = rng.random((H, W), dtype=np.float32), rng.random((H, W), dtype=np.float32)
    left[:3, :3] = right[:3, :3] = 0.0                       # the dark floor: gain 1
    disparity = rng.uniform(-5, 5, (H, W)).astype(np.float32)
    halves = dp_views.half_aperture_rgb(rgb, left, right)
    got = cuda.half_aperture_rgb(cp.asarray(rgb), cp.asarray(left), cp.asarray(right)).get()
    np.testing.assert_allclose(got, halves, atol=1e-6)
    np.testing.assert_array_equal(cuda.render_disparity(cp.asarray(disparity)).get(), render_disparity(disparity))
    positions = np.array([[-1, -1], [0, -1], [1, -1], [-0.2, 0], [0, 0], [0.3, 0.5]], np.float32)
    want = dp_views.render_from_halves(halves, disparity, positions, 1.5, out_dtype=out_dtype)
    workspace = {}
    for _ in range(2):   # the second call reuses the workspace's per-source buffers
        got = cuda.render_from_halves(cp.asarray(halves), cp.asarray(disparity), positions, 1.5, out_dtype=out_dtype,
                                      workspace=workspace).get()
        if out_dtype == np.uint8:
            assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
        else:
            np.testing.assert_allclose(got, want, atol=1e-5)

"""kernels.levels: the one plane normalisation, pinned on the CPU pipeline, the CPU kernel and the GPU kernel."""
import numpy as np
import pytest

from engine.validation import as_unit_plane
from kernels import cuda
from kernels.levels import levels_table, normalise_codes
from kernels.preprocess import preprocess

# a uint8 code 64 with black level 16 (white 255): (64 - 16) / (255 - 16) = 0.2008..., not 64/255 = 0.251
U8_CASE = (np.uint8, 64, 16, None, 48 / 239)


def test_uint8_black_level_is_subtracted_on_every_cpu_path():
    dtype, code, black, white, want = U8_CASE
    plane = np.full((16, 16), code, dtype)
    for got in (normalise_codes(plane, black, white), as_unit_plane(plane, "left", black, white),
                preprocess(plane, plane, black_level=black, white_level=white)[0][0, 0]):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert np.all(got == got.flat[0])


@pytest.mark.parametrize("dtype,black,white", [(np.uint8, 0, None), (np.uint8, 16, 235), (np.uint16, 0, None),
                                               (np.uint16, 1024, 16383)])
def test_table_is_the_clipped_linear_map(dtype, black, white):
    table = levels_table(dtype, black, white)
    top = np.iinfo(dtype).max if white is None else white
    codes = np.arange(np.iinfo(dtype).max + 1, dtype=np.float64)
    want = np.clip((codes - black) / (top - black), 0, 1)
    np.testing.assert_allclose(table, want, rtol=2e-7, atol=1e-12)
    assert table[0] == 0 and table[-1] == 1 and not table.flags.writeable


def test_rounding_kept_from_before_the_table():
    """The shipped networks move by whole pixels for one float32 step of input, so the table keeps the old
    CPU rounding exactly: 8-bit codes times the float32 reciprocal, 16-bit codes divided in float32."""
    u8 = np.arange(256, dtype=np.float32)
    assert np.array_equal(levels_table(np.uint8), u8 * np.float32(1 / 255))
    u16 = np.arange(65536, dtype=np.float32)
    assert np.array_equal(levels_table(np.uint16), u16 / np.float32(65535))


def test_big_endian_and_bad_levels():
    plane = np.arange(12, dtype=">u2").reshape(3, 4) * 1000
    assert np.array_equal(normalise_codes(plane), normalise_codes(plane.astype(np.uint16)))
    with pytest.raises(ValueError, match="white level .* must exceed black level"):
        levels_table(np.uint8, 200, 100)
    with pytest.raises(ValueError, match="finite"):
        levels_table(np.uint16, float("nan"))
    with pytest.raises(ValueError, match="uint8 or uint16"):
        levels_table(np.int32)


@pytest.mark.gpu
@pytest.mark.skipif(not cuda.cuda_available(), reason="needs CuPy and a CUDA GPU")
@pytest.mark.parametrize("dtype,black,white", [(np.uint8, 16, None), (np.uint16, 1024, 16383)])
def test_gpu_preprocess_uses_the_same_table(dtype, black, white):
    import cupy as cp

    rng = np.random.default_rng(0)
    top = np.iinfo(dtype).max
    left = rng.integers(0, top + 1, (19, 23)).astype(dtype)
    right = rng.integers(0, top + 1, (19, 23)).astype(dtype)
    left[0, 0] = 64
    cpu_dp, _, _ = preprocess(left, right, black_level=black, white_level=white)
    gpu_dp, _, _ = cuda.preprocess(cp.asarray(left), cp.asarray(right), black_level=black, white_level=white)
    assert np.array_equal(cp.asnumpy(gpu_dp), cpu_dp)

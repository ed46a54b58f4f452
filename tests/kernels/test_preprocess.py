"""kernels.preprocess: normalise + pad vs the pure reference, buffer reuse and validation."""
import numpy as np
import pytest

from kernels.preprocess import crop, preprocess, preprocess_reference


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
    with pytest.raises(ValueError, match="white level"):
        preprocess(left, left, black_level=10, white_level=5)

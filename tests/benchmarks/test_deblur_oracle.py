"""The blur model of benchmarks/deblur_oracle.py against direct convolution."""
import numpy as np

from benchmarks.deblur_oracle import comb_otf, layered


def test_comb_otf_is_the_mean_of_shifted_deltas():
    rng = np.random.default_rng(0)
    img = rng.random((32, 40))
    offsets = np.array([-1.0, 0.0, 1.0])
    step = 2.0                                   # integer shifts: the comb is exactly 9 shifted copies
    blurred = np.fft.irfft2(np.fft.rfft2(img) * comb_otf(step, offsets, img.shape), s=img.shape)
    direct = np.mean([np.roll(img, (int(i * step), int(j * step)), axis=(0, 1)) for i in offsets for j in offsets],
                     axis=0)
    np.testing.assert_allclose(blurred, direct, atol=1e-12)


def test_layered_blends_levels_by_d():
    rng = np.random.default_rng(1)
    img = rng.random((24, 24, 3))
    offsets = np.array([-0.5, 0.5])
    levels = np.array([0.0, 1.0, 2.0])
    same = layered(img, np.zeros((24, 24)), offsets, levels)               # d = 0: no blur
    np.testing.assert_allclose(same, img, atol=1e-12)
    half = layered(img, np.full((24, 24), 0.5), offsets, levels)           # halfway between levels 0 and 1
    one = layered(img, np.ones((24, 24)), offsets, levels)
    np.testing.assert_allclose(half, 0.5 * (img + one), atol=1e-12)

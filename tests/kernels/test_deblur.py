"""kernels/deblur.py: the box model against direct means, the compiled kernel against the numpy reference, and
Richardson-Lucy undoing a blur of its own model."""
import numpy as np
import pytest

from kernels import deblur as K


def direct_box_mean(image, half):
    """Mean over the integer box [y - half, y + half] x [x - half, x + half] clamped to the image (loops)."""
    h, w, _ = image.shape
    out = np.empty(image.shape, np.float64)
    for y in range(h):
        for x in range(w):
            out[y, x] = image[max(0, y - half):y + half + 1, max(0, x - half):x + half + 1].mean(axis=(0, 1))
    return out


def test_box_blur_equals_the_direct_mean_for_integer_widths():
    rng = np.random.default_rng(0)
    image = rng.random((13, 17, 3))
    for half in (0, 1, 3):
        d = np.full((13, 17), half / K.RADIUS, np.float32)
        got = K.box_blur(image, K.box_corners(d, K.RADIUS))
        np.testing.assert_allclose(got, direct_box_mean(image, half), atol=1e-6)


def test_box_blur_of_a_real_width_is_the_area_weighted_mean():
    image = np.zeros((1, 9, 1))
    image[0, 4] = 1.0                                      # one bright pixel
    d = np.full((1, 9), 0.25 / K.RADIUS, np.float32)      # box 1.5 px wide: a quarter of each neighbour
    got = K.box_blur(image, K.box_corners(d, K.RADIUS))[0, :, 0]
    np.testing.assert_allclose(got[3:6], [0.25 / 1.5, 1.0 / 1.5, 0.25 / 1.5], atol=1e-12)
    assert np.all(got[:3] == 0) and np.all(got[6:] == 0)


def test_a_rectangular_box_is_the_mean_over_its_rows_and_columns():
    rng = np.random.default_rng(5)
    image = rng.random((15, 19, 3))
    d = np.full((15, 19), 2.0, np.float32)
    got = K.box_blur(image, K.box_corners(d, (0.5, 1.0)))       # half-widths 1 px in x, 2 px in y
    padded = np.pad(image, ((2, 2), (1, 1), (0, 0)), mode="constant")
    counts = np.pad(np.ones(image.shape[:2]), ((2, 2), (1, 1)), mode="constant")
    total = sum(padded[dy:dy + 15, dx:dx + 19] for dy in range(5) for dx in range(3))
    area = sum(counts[dy:dy + 15, dx:dx + 19] for dy in range(5) for dx in range(3))
    np.testing.assert_allclose(got, total / area[..., None], atol=1e-9)
    np.testing.assert_array_equal(K.box_blur(image, K.box_corners(d, (0.7, 0.7))),
                                  K.box_blur(image, K.box_corners(d, 0.7)))


@pytest.mark.parametrize("iterations, radius", [(0, 0.9), (1, 0.9), (3, 0.9), (3, (0.45, 0.9)), (2, (1.2, 0.3))])
def test_numba_matches_the_numpy_reference(iterations, radius):
    rng = np.random.default_rng(iterations)
    rgb = rng.random((40, 56, 3)).astype(np.float32)
    d = rng.uniform(-6, 6, (40, 56)).astype(np.float32)
    ref = K.deblur(rgb, d, iterations, radius, method="numpy")
    got = K.deblur(rgb, d, iterations, radius, method="numba")
    np.testing.assert_allclose(got, ref, atol=1e-6)
    if iterations == 0:
        np.testing.assert_array_equal(got, rgb)


def test_richardson_lucy_undoes_a_blur_of_its_own_model():
    rng = np.random.default_rng(3)
    import cv2

    sharp = cv2.resize(rng.random((12, 16, 3)).astype(np.float32), (64, 48), interpolation=cv2.INTER_NEAREST)
    sharp = 0.1 + 0.8 * sharp
    d = np.full((48, 64), 3.0, np.float32)
    blurred = K.box_blur(sharp.astype(np.float64), K.box_corners(d, K.RADIUS)).astype(np.float32)
    err = lambda a: float(np.abs(a - sharp)[6:-6, 6:-6].mean())  # noqa: E731
    three, ten = K.deblur(blurred, d, 3), K.deblur(blurred, d, 10)
    assert err(ten) < err(three) < 0.9 * err(blurred)           # measured: 0.133 blurred, 0.106 after 10
    assert err(K.deblur(blurred, np.zeros_like(d), 10)) == pytest.approx(err(blurred), abs=1e-6)  # D = 0: no blur


def test_bad_inputs_are_one_line():
    rgb = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="same size"):
        K.deblur(rgb, np.zeros((8, 9), np.float32))
    with pytest.raises(ValueError, match="iterations"):
        K.deblur(rgb, np.zeros((8, 8), np.float32), iterations=-1)

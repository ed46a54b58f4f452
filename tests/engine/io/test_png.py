"""engine.io.png: the fast PNG writer decodes (OpenCV's libpng and Pillow) to exactly the pixels it was given."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from engine.io.outputs import encode_image
from engine.io.png import encode_png, fast_png_supported, sub_filtered


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 1, 3), (1, 9, 3), (37, 23, 3), (192, 256, 3), (5, 11), (64, 48)])
def test_round_trip_is_exact(shape):
    image = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(image)
    flag = cv2.IMREAD_COLOR if image.ndim == 3 else cv2.IMREAD_GRAYSCALE
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), flag), image)
    rgb = np.asarray(Image.open(io.BytesIO(data)))          # an independent decoder, which reads RGB order
    assert np.array_equal(rgb, image[..., ::-1] if image.ndim == 3 else image)


def test_a_reversed_view_of_an_rgb_array_encodes_like_its_copy():
    rgb = np.random.default_rng(2).integers(0, 256, (9, 13, 3), dtype=np.uint8)
    bgr_view = rgb[..., ::-1]                  # what dplf-run hands the encoder
    assert encode_png(bgr_view) == encode_png(np.ascontiguousarray(bgr_view))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(bgr_view)))), rgb)


def test_sub_filter_matches_its_definition():
    image = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    rgb = image[..., ::-1].reshape(4, 18).astype(np.int64)
    expect = rgb.copy()
    expect[:, 3:] = (rgb[:, 3:] - rgb[:, :-3]) % 256
    lines = sub_filtered(image)
    assert np.all(lines[:, 0] == 1) and np.array_equal(lines[:, 1:], expect)


def test_smooth_views_compress_and_level_1_uses_it():
    x = np.linspace(0, 255, 256)
    image = np.clip(x[None, :, None] * 0.5 + x[:192, None, None] * 0.5 + [0, 20, 40], 0, 255).astype(np.uint8)
    assert encode_image("v.png", image, png_level=1) == encode_png(image)
    assert len(encode_png(image)) < image.nbytes / 4


@pytest.mark.parametrize("image", [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 4), np.uint8), np.zeros((0, 4, 3), np.uint8)])
def test_other_images_are_refused_and_go_to_opencv(image):
    assert not fast_png_supported(image)
    with pytest.raises(ValueError, match="encode_png takes"):
        encode_png(image)
    if image.size:
        data = encode_image("x.png", image, png_level=1)
        assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), image)

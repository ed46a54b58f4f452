"""Layout dp-pairs: *_left/*_right and *_L/*_R pairs, RGB and sidecar."""

import cv2
import numpy as np
import pytest

from engine.io.convert import convert, detect_layout
from engine.io.dpfile import DPReader
from tests.engine.io.dp_samples import write_img


def test_dp_pairs_layouts(tmp_path):
    rng = np.random.default_rng(0)
    # dpMV: image_NNN_left.jpg / _right.jpg + image_NNN.jpg (rgb); JPEG is lossy, so compare with the decode
    dpmv = tmp_path / "dpmv"
    dpmv.mkdir()
    for i in (2, 10, 1):  # natural order: 1, 2, 10
        g = rng.integers(0, 256, (16, 24), dtype=np.uint8)
        write_img(dpmv / f"image_{i:03d}_left.jpg", g)
        write_img(dpmv / f"image_{i:03d}_right.jpg", g)
        write_img(dpmv / f"image_{i:03d}.jpg", rng.integers(0, 256, (16, 24, 3), dtype=np.uint8))
    assert detect_layout(dpmv) == "dp-pairs"
    convert(dpmv, tmp_path / "d.dp", fps=12.5)
    r = DPReader(tmp_path / "d.dp")
    assert len(r) == 3 and r.header.has_rgb and r.header.bit_depth == 8 and r.header.fps == 12.5
    assert r.header.white_level == 255
    bgr = cv2.imread(str(dpmv / "image_010.jpg"))
    np.testing.assert_array_equal(r[2].rgb, bgr[..., ::-1])
    assert r[1].timestamp == pytest.approx(1 / 12.5)
    # Canon DPDD: 16-bit _L / _R, black/white given on the command line
    canon = tmp_path / "canon"
    canon.mkdir()
    left = rng.integers(0, 65536, (8, 12), dtype=np.uint16)
    write_img(canon / "1P0A1234_L.png", left)
    write_img(canon / "1P0A1234_R.png", left[::-1].copy())
    assert detect_layout(canon) == "dp-pairs"  # not pixel4: the stem is not a frame number
    convert(canon, tmp_path / "c.dp", black_level=2048, white_level=15000)
    r = DPReader(tmp_path / "c.dp")
    assert (r.header.black_level, r.header.white_level, r.header.has_rgb) == (2048, 15000, False)
    np.testing.assert_array_equal(r[0].left, left)
    # colour DP planes become their channel mean
    col = tmp_path / "col"
    col.mkdir()
    c = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
    write_img(col / "a_left.png", c)
    write_img(col / "a_right.png", c)
    convert(col, tmp_path / "col.dp")
    np.testing.assert_array_equal(DPReader(tmp_path / "col.dp")[0].left,
                                  np.rint(c.astype(np.float64).mean(axis=-1)).astype(np.uint8))

"""Layout pixel4: 16-bit numbered pairs, black 1024 / white 16383."""
import cv2
import numpy as np
import pytest

from engine.io.convert import convert, detect_layout
from engine.io.dpfile import DPReader
from tests.engine.io.dp_samples import dp_pair, measure_shift, write_img


def test_pixel4_like_pairs_keep_sign_and_levels(tmp_path):
    src = tmp_path / "pix"
    frames = []
    for i, d in enumerate((3, -2)):
        left, right = dp_pair(d, seed=i)
        left16, right16 = (1024 + x.astype(np.uint16) * 40 for x in (left, right))  # 14-bit data above black
        write_img(src / f"{i:03d}_left.png", left16)
        write_img(src / f"{i:03d}_right.png", right16)
        frames.append((left16, right16, d))
    assert detect_layout(src) == "pixel4"
    report = convert(src, tmp_path / "p.dp")
    r = DPReader(tmp_path / "p.dp")
    h = r.header
    assert (h.black_level, h.white_level, h.bit_depth, h.orientation) == (1024, 16383, 16, 0)
    assert h.tags["rotate"] == 0 and h.tags["parallax_check"]["stored"] == "horizontal" and not report.warnings
    for i, (left16, right16, d) in enumerate(frames):
        np.testing.assert_array_equal(r[i].left, left16)       # lossless
        np.testing.assert_array_equal(r[i].right, right16)
        assert measure_shift(r[i].left, r[i].right) == (d, 0)  # horizontal, sign kept
    n = r[0].normalised(h)
    assert n.left.min() >= 0 and n.left.max() <= 1
    # levels the source does not say come from the command line, and are recorded
    convert(src, tmp_path / "q.dp", black_level=512, white_level=12000, fps=24)
    h = DPReader(tmp_path / "q.dp").header
    assert (h.black_level, h.white_level, h.fps) == (512, 12000, 24.0)


@pytest.mark.data
@pytest.mark.parametrize("scene", ["001", "005"])   # never 015: holdout
def test_pixel4_real(tmp_path, data_dir, scene):
    src = tmp_path / "pix"
    src.mkdir()
    for side in ("left", "right"):
        f = data_dir / "pixel4_dp" / f"{scene}_{side}.png"
        if not f.exists():
            pytest.skip(f"{f} not found")
        (src / f.name).symlink_to(f)
    r = DPReader(convert(src, tmp_path / "p.dp").dst)
    h = r.header
    assert (h.width, h.height, h.bit_depth, h.black_level, h.white_level) == (2016, 1512, 16, 1024, 16383)
    assert (h.orientation, h.tags["rotate"], h.tags["parallax_check"]["stored"]) == (0, 0, "horizontal")
    raw = cv2.imread(str(src / f"{scene}_right.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(r[0].right, raw)


def test_convert_pixel4(tmp_path, data_dir):
    folder = tmp_path / "pix"  # 001 only: the folder also holds the holdout scene 015
    folder.mkdir()
    for side in ("left", "right"):
        (folder / f"001_{side}.png").symlink_to(data_dir / "pixel4_dp" / f"001_{side}.png")
    assert detect_layout(folder) == "pixel4"
    report = convert(folder, tmp_path / "p.dp")
    r = DPReader(tmp_path / "p.dp")
    h = r.header
    assert (report.frames, h.width, h.height, h.bit_depth) == (1, 2016, 1512, 16)
    assert (h.black_level, h.white_level, h.has_rgb) == (1024, 16383, False)
    raw = cv2.imread(str(folder / "001_left.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(r[0].left, raw)  # lossless
    n = r.normalised(r[0])
    np.testing.assert_allclose(n.left, np.clip((raw - 1024.0) / (16383 - 1024), 0, 1), atol=1e-6)
    # .dp -> PNG export -> .dp: lossless, metadata kept through the sidecar
    convert(tmp_path / "p.dp", tmp_path / "png")
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["000000_left.png", "000000_right.png",
                                                                     "dp_header.json"]
    assert detect_layout(tmp_path / "png") == "dp-pairs"
    convert(tmp_path / "png", tmp_path / "q.dp")
    q = DPReader(tmp_path / "q.dp")
    assert (q.header.black_level, q.header.white_level, q.header.camera) == (1024, 16383, h.camera)
    assert q.header.tags["layout"] == "pixel4"
    np.testing.assert_array_equal(q[0].right, r[0].right)

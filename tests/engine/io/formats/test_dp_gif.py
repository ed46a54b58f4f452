"""Layout dp-gif: two-frame DP GIFs (file, folder, glob) and their errors."""
import numpy as np
import pytest

from engine.conventions import dp_gray
from engine.io.convert import convert, detect_layout
from engine.io.dpfile import DPReader
from tests.engine.io.dp_samples import H, W, dp_pair, measure_shift, one_line_error, read_gif, write_gif


def test_dp_gifs(tmp_path):
    left, right = dp_pair(4, binary=True)
    write_gif(tmp_path / "a.gif", [left, right])
    assert detect_layout(tmp_path / "a.gif") == "dp-gif"
    r = DPReader(convert(tmp_path / "a.gif", tmp_path / "a.dp").dst)
    h = r.header
    assert (len(r), h.bit_depth, h.black_level, h.white_level, h.has_rgb, h.tags["rotate"]) == (1, 8, 0, 255, True, 0)
    dec = read_gif(tmp_path / "a.gif")   # what the palette left of the texture
    np.testing.assert_array_equal(r[0].left, np.rint(dp_gray(dec[0].astype(np.float32))).astype(np.uint8))
    np.testing.assert_array_equal(r[0].rgb, np.rint((dec[0].astype(np.float32) + dec[1]) / 2).astype(np.uint8))
    assert measure_shift(r[0].left, r[0].right) == (4, 0)      # frame 0 = left, frame 1 = right
    # a display loop (L, R, L, R) is one pair; a folder of GIFs is a sequence; a portrait GIF is turned
    write_gif(tmp_path / "seq" / "g01.gif", [left, right, left, right])
    l2, r2 = dp_pair(-2, seed=5, binary=True)
    write_gif(tmp_path / "seq" / "g02.gif", [np.rot90(l2, -1).copy(), np.rot90(r2, -1).copy()])
    write_gif(tmp_path / "seq" / "g03.gif", [np.rot90(left, -1).copy(), np.rot90(right, -1).copy()])
    assert detect_layout(tmp_path / "seq") == "dp-gif"
    r = DPReader(convert(tmp_path / "seq" / "g0[23].gif", tmp_path / "p.dp").dst)
    assert len(r) == 2 and r.header.tags["rotate"] == 270 and (r.header.width, r.header.height) == (W, H)
    assert [measure_shift(r[i].left, r[i].right) for i in range(2)] == [(-2, 0), (4, 0)]
    one_line_error(convert, tmp_path / "seq", tmp_path / "x.dp", match=["differs from the first GIF", "separately"])
    assert not (tmp_path / "x.dp").exists()          # sizes are checked from the GIF headers before writing
    write_gif(tmp_path / "three.gif", [left, right, left[::-1].copy()])
    one_line_error(convert, tmp_path / "three.gif", tmp_path / "x.dp", match=["not a repeat", "one GIF per pair"])
    write_gif(tmp_path / "one.gif", [left])
    one_line_error(convert, tmp_path / "one.gif", tmp_path / "x.dp", match=["decoded 1 frame", "frame 1"])
    (tmp_path / "bad.gif").write_bytes(b"GIF89a" + b"\0" * 20)
    one_line_error(convert, tmp_path / "bad.gif", tmp_path / "x.dp", match="unreadable, truncated or not a DP GIF")


@pytest.mark.data
def test_dp_gifs_real(tmp_path, data_dir):
    folder = data_dir / "canon_dp_gif"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    # canon_00 is a display loop of six frames (L, R, L, R, L, R): one pair
    r = DPReader(convert(str(folder / "canon_0*.gif"), tmp_path / "canon.dp").dst)
    h = r.header
    assert len(r) == 4 and (h.width, h.height, h.orientation, h.tags["rotate"]) == (840, 560, 0, 0)
    assert h.tags["parallax_check"]["stored"] == "horizontal" and h.has_rgb
    dec = read_gif(folder / "canon_01.gif")
    np.testing.assert_array_equal(r[1].right, np.rint(dp_gray(dec[1].astype(np.float32))).astype(np.uint8))
    # the Pixel GIFs show the parallax vertically (portrait display): stored turned back, orientation 90
    r = DPReader(convert(folder / "pixel_00.gif", tmp_path / "pixel.dp").dst)
    h = r.header
    assert (h.tags["rotate"], h.orientation, h.tags["parallax_check"]["stored"]) == (270, 90, "horizontal")
    dec = read_gif(folder / "pixel_00.gif")
    expect = np.rint(dp_gray(dec[0].astype(np.float32))).astype(np.uint8)
    np.testing.assert_array_equal(np.rot90(r[0].left, -h.orientation // 90), expect)
    one_line_error(convert, folder, tmp_path / "all.dp", match="differs from the first GIF")

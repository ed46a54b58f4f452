"""Layout dp-folders: DPDD test_l/test_r(/test_c) and Restormer inputL/inputR(/inputC)."""
import numpy as np
import pytest

from engine.io.convert import convert, detect_layout
from engine.io.dpfile import DPReader
from tests.engine.io.dp_samples import H, W, dp_pair, measure_shift, one_line_error, write_img


@pytest.mark.parametrize("names", [("test_l/source", "test_r/source", "test_c/source"), ("inputL", "inputR", "inputC")])
def test_dp_folders(tmp_path, names):
    src = tmp_path / "dpdd"
    for i, d in enumerate((2, -3)):
        left, right = dp_pair(d, seed=i)
        col = lambda g: np.stack([g, g // 2, 255 - g], -1).astype(np.uint16) * 257  # noqa: E731  16-bit colour
        write_img(src / names[0] / f"1P0A{i:04d}.png", col(left))
        write_img(src / names[1] / f"1P0A{i:04d}.png", col(right))
        write_img(src / names[2] / f"1P0A{i:04d}.png", col(left))
    write_img(src / "test_c" / "target" / "1P0A0000.png", np.zeros((H, W), np.uint8))   # GT: ignored
    assert detect_layout(src) == "dp-folders"
    r = DPReader(convert(src, tmp_path / "d.dp").dst)
    assert len(r) == 2 and r.header.bit_depth == 16 and r.header.has_rgb and r.header.white_level == 65535
    assert [measure_shift(r[i].left, r[i].right) for i in range(2)] == [(2, 0), (-3, 0)]
    left, _ = dp_pair(2, seed=0)
    expect = np.rint(np.stack([left, left // 2, 255 - left], -1).astype(np.float64).mean(-1) * 257)
    np.testing.assert_array_equal(r[0].left, expect.astype(np.uint16))   # colour DP planes: channel mean
    assert r[0].rgb[0, 0, 2] == left[0, 0]                               # RGB order (blue = g) from _c
    # several sets: pick one with --view
    write_img(src / "train_l" / "x.png", left)
    write_img(src / "train_r" / "x.png", left)
    one_line_error(convert, src, tmp_path / "e.dp", match=["several left/right folder sets", "--view"])
    assert len(DPReader(convert(src, tmp_path / "t.dp", view="train").dst)) == 1
    (src / "train_r" / "x.png").rename(src / "train_r" / "y.png")
    one_line_error(convert, src, tmp_path / "e.dp", view="train", match=["incomplete", "x.png"])

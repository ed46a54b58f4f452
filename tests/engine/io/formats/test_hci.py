"""Layout hci: an HCI light field -> one frame, DP synthesised (full and phone-like aperture)."""

import numpy as np
import pytest

from engine.conventions import half_aperture_centroid
from engine.io.convert import convert
from engine.io.dpfile import DPReader
from engine.io.lightfield import load_light_field, synthesize_dp
from engine.io.sources import open_source


@pytest.fixture(scope="module")
def antinous(data_dir):
    folder = data_dir / "hci" / "antinous"
    return folder, load_light_field(folder)


@pytest.mark.parametrize("aperture", [None, 3])
def test_convert_hci(tmp_path, antinous, aperture):
    folder, lf = antinous
    report = convert(folder, tmp_path / "a.dp", aperture=aperture)
    a = aperture or 9
    assert (report.layout, report.frames, report.width, report.height) == ("hci", 1, 512, 512)
    r = DPReader(tmp_path / "a.dp")
    h = r.header
    assert (h.bit_depth, h.black_level, h.white_level, h.has_rgb, len(r)) == (16, 0, 65535, True, 1)
    assert h.tags["layout"] == "hci" and h.tags["aperture"] == a and h.tags["grid"] == 9
    assert h.tags["cbar"] == pytest.approx(half_aperture_centroid(a), abs=1e-6)
    assert "u = k / (2 cbar)" in h.tags["view_u"]
    left, right, rgb = synthesize_dp(lf.views, a)
    f = r[0]
    assert f.left.dtype == np.uint16 and f.rgb.dtype == np.uint8
    np.testing.assert_array_equal(f.left, np.rint(left * 65535).astype(np.uint16))
    np.testing.assert_array_equal(f.right, np.rint(right * 65535).astype(np.uint16))
    sl = slice((9 - a) // 2, (9 + a) // 2)
    mean = lf.views[sl, sl].astype(np.float64).mean(axis=(0, 1))
    assert np.abs(f.rgb.astype(np.float64) - mean).max() <= 0.5 + 1e-3
    # the LF source synthesises on the fly and gives the same frame as the converted file
    src = open_source(folder)
    from_lf, from_dp = next(iter(src)), next(iter(open_source(tmp_path / "a.dp")))
    if aperture is None:
        np.testing.assert_array_equal(from_lf.left, from_dp.left)
        np.testing.assert_array_equal(from_lf.rgb, from_dp.rgb)
        assert np.abs(from_dp.left - left).max() <= 0.5 / 65535 + 1e-7

"""`dplf convert` layouts and the frame sources built on the same readers (SPEC §3, §4)."""
import json

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from engine.conventions import half_aperture_centroid
from engine.io.convert import LAYOUTS, convert, convert_command, detect_layout
from engine.io.dpfile import DPReader, DPWriter
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


def test_convert_lytro_phone_like(tmp_path, data_dir):
    report = convert(data_dir / "lytro" / "lytro1_IMG_0001", tmp_path / "l.dp", aperture=4)
    h = DPReader(tmp_path / "l.dp").header
    assert report.layout == "lytro" and (h.width, h.height) == (256, 256)
    assert h.tags["grid"] == 10 and h.tags["cbar"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cannot be centred"):
        convert(data_dir / "lytro" / "lytro1_IMG_0001", tmp_path / "m.dp", aperture=3)


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


def write_img(path, arr):
    assert cv2.imwrite(str(path), arr)


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


def test_convert_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError) as e:
        convert(tmp_path / "empty", tmp_path / "x.dp")
    msg = str(e.value)
    assert "\n" not in msg and "--layout" in msg and all(name in msg for name in LAYOUTS)
    with pytest.raises(ValueError, match="unknown layout 'foo'"):
        convert(tmp_path / "empty", tmp_path / "x.dp", layout="foo")
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    write_img(pairs / "a_left.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="incomplete"):
        convert(pairs, tmp_path / "x.dp")
    write_img(pairs / "a_right.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="--aperture applies only"):
        convert(pairs, tmp_path / "x.dp", aperture=3)
    with pytest.raises(ValueError, match="must be a .dp file"):
        convert(pairs, tmp_path / "x.png")
    with pytest.raises(ValueError, match="no hci light-field views"):
        convert(pairs, tmp_path / "x.dp", layout="hci")
    write_img(pairs / "b_left.png", np.zeros((5, 4), np.uint8))
    write_img(pairs / "b_right.png", np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match="differs from the first frame"):
        convert(pairs, tmp_path / "x.dp")


def test_convert_command(tmp_path):
    app = typer.Typer()
    app.command()(convert_command)
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for i in range(2):
        write_img(pairs / f"f{i}_left.png", np.full((4, 6), i, np.uint8))
        write_img(pairs / f"f{i}_right.png", np.full((4, 6), i, np.uint8))
    runner = CliRunner()
    ok = runner.invoke(app, [str(pairs), str(tmp_path / "o.dp"), "--fps", "10", "--white-level", "200"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.count("\n") == 1 and "2 frame(s) 6x4 [dp-pairs]" in ok.stdout
    assert DPReader(tmp_path / "o.dp").header.white_level == 200
    bad = runner.invoke(app, [str(tmp_path / "nope"), str(tmp_path / "o.dp")])
    assert bad.exit_code == 2 and bad.stderr.startswith("dplf convert: error:") and bad.stderr.count("\n") == 1
    forced = runner.invoke(app, [str(pairs), str(tmp_path / "o.dp"), "--layout", "lytro"])
    assert forced.exit_code == 2 and "lytro" in forced.stderr


# ---------------------------------------------------------------- sources

def test_open_source_dp(tmp_path):
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 4096, (30, 50), dtype=np.uint16) for _ in range(5)]
    with DPWriter(tmp_path / "v.dp", width=50, height=30, fps=20, black_level=96, white_level=4095,
                  calibration={"disparity_gain": -2.0}, tags={"k": 1}) as w:
        for f in frames:
            w.write(f, f[:, ::-1].copy())
    src = open_source(tmp_path / "v.dp", start=1, frames=3)
    assert len(src) == 3 and src.fps == 20 and src.calibration == {"disparity_gain": -2.0}
    assert src.tags == {"k": 1} and src.name == "v" and src.layout == "dp"
    got = list(src)
    assert [f.index for f in got] == [1, 2, 3] and got[0].timestamp == pytest.approx(1 / 20)
    assert got[0].rgb is None and got[0].left.dtype == np.float32
    np.testing.assert_allclose(got[0].left, np.clip((frames[1] - 96.0) / (4095 - 96), 0, 1), atol=1e-6)
    small = open_source(tmp_path / "v.dp", max_size=25)
    assert (small.height, small.width) == (15, 25) and small[0].left.shape == (15, 25)
    expect = cv2.resize(got[0].left, (25, 15), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(small[1].left, expect, atol=1e-6)
    # a damaged last frame: earlier frames come out, then the error (or a warning with skip_bad)
    data = (tmp_path / "v.dp").read_bytes()
    (tmp_path / "cut.dp").write_bytes(data[:len(data) - 600])
    seen = []
    with pytest.raises(ValueError, match="frame 4"):
        for f in open_source(tmp_path / "cut.dp"):
            seen.append(f.index)
    assert seen == [0, 1, 2, 3]
    with pytest.warns(UserWarning, match="frame 4"):
        assert len(list(open_source(tmp_path / "cut.dp", skip_bad=True))) == 4


def test_open_source_pairs_and_errors(tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for i in range(3):
        write_img(pairs / f"{i:03d}_left.png", np.full((6, 8), 1024 + 100 * i, np.uint16))
        write_img(pairs / f"{i:03d}_right.png", np.full((6, 8), 1024, np.uint16))
    src = open_source(pairs, start=2)
    assert src.layout == "pixel4" and len(src) == 1
    f = src[0]
    assert f.index == 2 and f.left[0, 0] == pytest.approx(200 / (16383 - 1024)) and f.right.max() == 0
    assert len(open_source(str(pairs / "*_left.png"))) == 3  # a glob selects whole pairs
    with pytest.raises(ValueError, match="does not exist"):
        open_source(tmp_path / "missing.dp")
    (tmp_path / "garbage.dp").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="not a .dp file"):
        open_source(tmp_path / "garbage.dp")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="known layouts"):
        open_source(tmp_path / "empty")
    with pytest.raises(ValueError, match="past the end"):
        open_source(pairs, start=3)


def test_export_sidecar_keeps_timestamps(tmp_path):
    with DPWriter(tmp_path / "v.dp", width=4, height=2, bit_depth=8, has_rgb=True) as w:
        for t in (0.0, 0.04, 0.1):
            w.write(np.zeros((2, 4), np.uint8), np.ones((2, 4), np.uint8), rgb=np.zeros((2, 4, 3), np.uint8),
                    timestamp=t)
    report = convert(tmp_path / "v.dp", tmp_path / "out", max_frames=2)
    assert report.frames == 2 and (tmp_path / "out" / "000001_rgb.png").exists()
    side = json.loads((tmp_path / "out" / "dp_header.json").read_text())
    assert side["timestamps"] == [0.0, 0.04] and side["has_rgb"] is True
    convert(tmp_path / "out", tmp_path / "back.dp")
    back = DPReader(tmp_path / "back.dp")
    assert [back[i].timestamp for i in range(2)] == [0.0, 0.04] and back.header.has_rgb

"""`dplf convert` layouts for real DP data (issue 5): dpMV 3-view roots (view, frame offsets, rotation), Pixel 4,
DPDD-style left/right folders, two-frame DP GIFs, side-by-side videos, and the one-line errors.

Fabricated sources carry a physical DP pair: a texture seen with a known disparity D = x_left - x_right
(SPEC §2), so each test checks that the stored planes keep the parallax horizontal and its sign (left and
right not swapped), after any rotation, frame offset or lossy encoding.
"""
import json

import numpy as np
import typer
from typer.testing import CliRunner

from engine.io.convert import LAYOUTS, convert, convert_command, parallax_axis, parallax_verdict
from engine.io.dpfile import DPReader
from tests.engine.io.dp_samples import H, W, dp_pair, measure_shift, one_line_error, write_img


def test_rotation_auto_explicit_and_sidecar(tmp_path):
    left, right = dp_pair(4)
    # the pair as a portrait display shows it: turned 90 deg clockwise, so the parallax runs vertically
    src = tmp_path / "portrait"
    write_img(src / "a_left.png", np.rot90(left, -1).copy())
    write_img(src / "a_right.png", np.rot90(right, -1).copy())
    assert parallax_verdict(*parallax_axis(np.rot90(left, -1), np.rot90(right, -1))) == "vertical"
    report = convert(src, tmp_path / "auto.dp")               # default: auto -> turned back 90 deg CCW
    r = DPReader(tmp_path / "auto.dp")
    assert (r.header.width, r.header.height, r.header.orientation) == (W, H, 90)
    assert (r.header.tags["rotate"], r.header.tags["rotate_from"]) == (270, "auto")
    assert r.header.tags["parallax_check"]["stored"] == "horizontal" and "turned 270" in report.summary()
    np.testing.assert_array_equal(r[0].left, left)
    np.testing.assert_array_equal(r[0].right, right)
    # displaying the stored planes with the header orientation gives the source back
    np.testing.assert_array_equal(np.rot90(r[0].left, -r.header.orientation // 90), np.rot90(left, -1))
    convert(src, tmp_path / "r270.dp", rotate=270)
    np.testing.assert_array_equal(DPReader(tmp_path / "r270.dp")[0].left, left)
    # 90 also makes the parallax horizontal, with the opposite sign (a calibration gain < 0 then, SPEC §2)
    convert(src, tmp_path / "r90.dp", rotate="90")
    r90 = DPReader(tmp_path / "r90.dp")
    assert r90.header.orientation == 270 and measure_shift(r90[0].left, r90[0].right) == (-4, 0)
    # no rotation: stored as is, with a warning that the parallax is vertical
    report = convert(src, tmp_path / "r0.dp", rotate=0)
    assert report.warnings and "vertical" in report.warnings[0] and "--rotate" in report.warnings[0]
    assert DPReader(tmp_path / "r0.dp").header.tags["parallax_check"]["stored"] == "vertical"
    # 180 on a landscape pair: horizontal, sign flipped, orientation 180
    land = tmp_path / "land"
    write_img(land / "a_left.png", left)
    write_img(land / "a_right.png", right)
    convert(land, tmp_path / "r180.dp", rotate=180)
    r180 = DPReader(tmp_path / "r180.dp")
    assert r180.header.orientation == 180 and measure_shift(r180[0].left, r180[0].right) == (-4, 0)
    assert measure_shift(DPReader(convert(land, tmp_path / "l.dp").dst)[0].left, right) == (4, 0)
    # a sidecar with levels only (as dpMV dp_data/ folders carry) leaves the rotation to auto
    (src / "dp_header.json").write_text(json.dumps({"black_level": 2}))
    r = DPReader(convert(src, tmp_path / "lv.dp").dst)
    assert (r.header.tags["rotate_from"], r.header.black_level, r.header.width) == ("auto", 2, W)
    # a sidecar's "rotate" (same meaning as --rotate) and "orientation" (how the source is displayed)
    (src / "dp_header.json").write_text(json.dumps({"rotate": 270, "orientation": 0}))
    r = DPReader(convert(src, tmp_path / "side.dp").dst)
    assert r.header.tags["rotate_from"] == "dp_header.json rotate" and r.header.orientation == 90
    np.testing.assert_array_equal(r[0].right, right)
    # the PNG export of a rotated file re-imports unchanged (its sidecar keeps orientation, no new rotation)
    convert(tmp_path / "auto.dp", tmp_path / "png")
    back = DPReader(convert(tmp_path / "png", tmp_path / "back.dp").dst)
    assert back.header.orientation == 90 and back.header.tags["rotate"] == 0
    np.testing.assert_array_equal(back[0].left, left)


def test_errors_are_one_line(tmp_path):
    left, right = dp_pair(2)
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(convert, empty, tmp_path / "x.dp", match=["known layouts"] + list(LAYOUTS))
    one_line_error(convert, empty, tmp_path / "x.dp", layout="dp-video", match="unknown layout 'dp-video'")
    one_line_error(convert, tmp_path / "nothing", tmp_path / "x.dp", match="no such file")
    (tmp_path / "notes.txt").write_text("hi")
    one_line_error(convert, tmp_path / "notes.txt", tmp_path / "x.dp", match=["not a .dp file", "glob"])
    mixed = tmp_path / "mixed"
    for name in ("a_left.png", "a_right.png", "b_L.png", "b_R.png"):
        write_img(mixed / name, left)
    one_line_error(convert, mixed, tmp_path / "x.dp", match=["mixes", "one naming style"])
    dup = tmp_path / "dup"
    for name in ("a_left.png", "a_left.jpg", "a_right.png"):
        write_img(dup / name, left)
    one_line_error(convert, dup, tmp_path / "x.dp", match=["two left images", "keep one"])
    miss = tmp_path / "miss"
    write_img(miss / "a_left.png", left)
    write_img(miss / "a_right.png", right)
    write_img(miss / "b_right.png", right)
    one_line_error(convert, miss, tmp_path / "x.dp", match=["b_right.png", "incomplete", "no left image"])
    sizes = tmp_path / "sizes"
    write_img(sizes / "a_left.png", left)
    write_img(sizes / "a_right.png", right)
    write_img(sizes / "b_left.png", left[:, :-2].copy())
    write_img(sizes / "b_right.png", right[:, :-2].copy())
    one_line_error(convert, sizes, tmp_path / "s.dp", match=["b_left.png", "differs from the first frame"])
    assert not (tmp_path / "s.dp").exists()         # PNG headers are checked before anything is written
    lr = tmp_path / "lr"
    write_img(lr / "a_left.jpg", left)
    write_img(lr / "a_right.jpg", right[:-2].copy())
    one_line_error(convert, lr, tmp_path / "x.dp", match=["does not match its left image", "same size"])
    bad = tmp_path / "bad"
    for i in range(3):
        write_img(bad / f"f{i}_left.png", left)
        write_img(bad / f"f{i}_right.png", right)
    (bad / "f2_right.png").write_bytes((bad / "f2_right.png").read_bytes()[:100])   # truncated
    msg = one_line_error(convert, bad, tmp_path / "b.dp", match=["f2_right.png", "cannot read this image",
                                                                 "2 frame(s) before it"])
    assert "replace the file" in msg
    assert len(DPReader(tmp_path / "b.dp")) == 2      # the frames before the bad one are kept, file closed
    one_line_error(convert, sizes, tmp_path / "x.dp", view="B", match="--view applies to dpmv")
    one_line_error(convert, sizes, tmp_path / "x.dp", frame_offset=2, match="--frame-offset applies to dpMV")
    one_line_error(convert, sizes, tmp_path / "x.dp", rotate=45, match="0, 90, 180, 270")
    eight = tmp_path / "eight"
    write_img(eight / "001_left.png", left)
    write_img(eight / "001_right.png", right)
    one_line_error(convert, eight, tmp_path / "x.dp", layout="pixel4", match=["expects 16-bit", "--layout dp-pairs"])
    # the command line: exit code 2 and the same single line
    app = typer.Typer()
    app.command()(convert_command)
    res = CliRunner().invoke(app, [str(mixed), str(tmp_path / "x.dp")])
    assert res.exit_code == 2 and res.stderr.startswith("dplf convert: error:") and res.stderr.count("\n") == 1
    res = CliRunner().invoke(app, [str(miss / "a_*.png"), str(tmp_path / "g.dp"), "--rotate", "90"])
    assert res.exit_code == 0, res.output
    assert DPReader(tmp_path / "g.dp").header.orientation == 270

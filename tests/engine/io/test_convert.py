"""`dplf convert`: errors, the command, the PNG export of a .dp."""
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from engine.io.convert import LAYOUTS, convert, convert_command
from engine.io.dpfile import DPReader, DPWriter
from tests.engine.io.dp_samples import write_img


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

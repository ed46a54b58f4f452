"""dplf-run as a new user meets it: a used --out, --overwrite, option ranges, rounded positions, no empty
folders, help and errors that cite no internal design documents."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from engine.run import manifest_positions
from tests.clips import write_clip

FRAMES, H, W = 2, 32, 48


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.dp", 5, FRAMES, H, W)


def _cli(*args, prog="dplf-run"):
    code = ("import sys; sys.argv[0] = 'dplf-run'; from engine.cli import run_main; run_main()" if prog == "dplf-run"
            else "from engine.cli import main; main()")
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "CI": "1", "COLUMNS": "200"})


def _one_error_line(res, *needles):
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dplf-run: error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "SPEC" not in lines[0] and "§" not in lines[0]
    return lines[0]


def test_a_used_out_is_refused_and_overwrite_replaces_the_run_whole(clip, tmp_path):
    out = tmp_path / "out"
    res = _cli("--input", clip, "--out", out, "--views", 2, "--backend", "ort-cpu")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (out / "views").iterdir()) == ["000000", "000001"]
    (out / "notes.txt").write_text("mine")

    again = _cli("--input", clip, "--out", out, "--frames", 1, "--views", 2, "--backend", "ort-cpu")
    _one_error_line(again, str(out), "already holds a dplf run", "--overwrite")
    assert sorted(p.name for p in (out / "views").iterdir()) == ["000000", "000001"]   # untouched

    res = _cli("--input", clip, "--out", out, "--frames", 1, "--views", 3, "--backend", "ort-cpu", "--overwrite")
    assert res.returncode == 0, res.stderr
    man = json.loads((out / "manifest.json").read_text())
    assert man["frames"] == 1 and man["views"] == [3, 3]
    assert sorted(p.name for p in (out / "views").iterdir()) == ["000000"]         # frame 1 of the old run gone
    assert sorted(p.name for p in (out / "disparity").iterdir()) == ["000000.pfm"]
    assert (out / "notes.txt").read_text() == "mine"                               # not part of a run: kept


def test_a_non_empty_folder_is_refused_without_overwrite(clip, tmp_path):
    (tmp_path / "holiday.jpg").write_bytes(b"x")
    res = _cli("--input", clip, "--out", tmp_path, "--backend", "ort-cpu")
    _one_error_line(res, "is not empty", "--overwrite")
    assert [p.name for p in tmp_path.iterdir()] == ["holiday.jpg"]


def test_overwrite_with_bad_input_keeps_the_old_run(clip, tmp_path):
    out = tmp_path / "out"
    assert _cli("--input", clip, "--out", out, "--views", 2, "--backend", "ort-cpu").returncode == 0
    res = _cli("--input", clip, "--out", out, "--backend", "no-such", "--overwrite")
    _one_error_line(res, "unknown backend")
    assert json.loads((out / "manifest.json").read_text())["frames"] == FRAMES


@pytest.mark.parametrize("value, needle", [("-1", "> 0"), ("0", "> 0"), ("inf", "finite"), ("nan", "finite"),
                                           ("1000", "<= 100")])
def test_baseline_range(clip, tmp_path, value, needle):
    res = _cli("--input", clip, "--out", tmp_path / "o", "--baseline", value, "--backend", "ort-cpu")
    _one_error_line(res, "--baseline", needle)
    assert not (tmp_path / "o").exists()


def test_views_zero_points_to_no_views(clip, tmp_path):
    res = _cli("--input", clip, "--out", tmp_path / "o", "--views", 0, "--backend", "ort-cpu")
    _one_error_line(res, "--views must be >= 1", "--no-views")
    assert not (tmp_path / "o").exists()


def test_no_views_writes_no_views_folder(clip, tmp_path):
    out = tmp_path / "d"
    res = _cli("--input", clip, "--out", out, "--no-views", "--backend", "ort-cpu")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["disparity", "manifest.json"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["positions"] == [] and man["view_format"] is None


def test_manifest_positions_are_rounded():
    pos = manifest_positions(4, 1.0)
    assert pos[1] == [-0.333333, -1.0] and pos[2] == [0.333333, -1.0]
    assert all(len(repr(x)) <= 10 for p in pos for x in p)
    assert manifest_positions(0, 1.0) == []
    np.testing.assert_allclose(manifest_positions(3, 0.5), [[u, v] for v in (-.5, 0, .5) for u in (-.5, 0, .5)])


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["info", "--help"], ["preview", "--help"],
                                  ["depth", "--help"], ["refocus", "--help"], ["train", "--help"],
                                  ["export", "--help"]])
def test_help_works_and_cites_no_design_document(args):
    res = _cli(*args, prog="dplf")
    assert res.returncode == 0, res.stderr
    assert "Usage:" in res.stdout
    assert "SPEC" not in res.stdout and "§" not in res.stdout


def test_dplf_run_help_says_the_ranges():
    res = _cli("--help")
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    assert "SPEC" not in text and "§" not in text
    assert "N >= 1" in text and "--no-views" in text and "> 0 and <= 100" in text and "--overwrite" in text


def test_dp_model_picks_the_student_and_an_unknown_one_is_one_line(clip, tmp_path):
    from engine import Pipeline
    from engine.io.pfm import read_pfm

    res = _cli("--input", clip, "--out", tmp_path / "v2", "--no-views", "--backend", "ort-cpu",
               "--dp-model", "dp-disparity-v2")
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / "v2" / "manifest.json").read_text())
    assert "dp-disparity-v2" in json.dumps(manifest)
    pipe = Pipeline(backend="ort-cpu", views=0, dp_model="dp-disparity-v2")
    want = next(iter(pipe.stream(str(clip), copy=True))).disparity
    got = read_pfm(sorted((tmp_path / "v2").rglob("*.pfm"))[0])
    np.testing.assert_allclose(got, want, atol=1e-5)
    _one_error_line(_cli("--input", clip, "--out", tmp_path / "bad", "--no-views", "--backend", "ort-cpu",
                         "--dp-model", "dp-nope"), "dp-nope")
    assert not (tmp_path / "bad" / "manifest.json").exists()


# -- writer threads, jpg, the summary line ---------------------------------------------------------------------
def test_jpg_views_are_close_to_png_and_the_summary_reports_both_rates(clip, tmp_path):
    from engine.io.run_folder import RunFolder

    res = {}
    for fmt in ("png", "jpg"):
        res[fmt] = _cli("--input", clip, "--out", tmp_path / fmt, "--views", 3, "--backend", "ort-cpu", "--format", fmt)
        assert res[fmt].returncode == 0, res[fmt].stderr
    line = res["jpg"].stdout.strip().splitlines()[-1]
    assert re.search(r"pipeline \d+\.\d fps, writer \d+\.\d fps, overall \d+\.\d fps", line), line
    man = json.loads((tmp_path / "jpg" / "manifest.json").read_text())
    assert man["view_format"] == "jpg" and man["jpg_quality"] == 90 and "png_level" not in man
    assert json.loads((tmp_path / "png" / "manifest.json").read_text())["png_level"] == 1
    timing = man["timing"]
    assert timing["pipeline_fps"] > 0 and timing["writer_fps"] > 0 and timing["writer_threads"] >= 1
    assert timing["fps"] <= timing["pipeline_fps"] + 1e-6
    assert sorted(p.name for p in (tmp_path / "jpg" / "views" / "000001").iterdir())[-1] == "v02_u02.jpg"
    png, jpg = RunFolder(tmp_path / "png"), RunFolder(tmp_path / "jpg")
    for f in range(FRAMES):
        a, b = png.views(f).astype(np.float64), jpg.views(f).astype(np.float64)
        assert 10 * np.log10(255 ** 2 / np.mean((a - b) ** 2)) > 35, f


FAIL_FRAME_1 = """
import errno, functools, os, sys
import engine.run
from engine.io.outputs import encode_image
def encode(path, image):   # the disk fails while frame 1 is written (an I/O error, not a full disk)
    if "000001" in str(path):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    return encode_image(path, image)
engine.run.run = functools.partial(engine.run.run, encode=encode)
sys.argv[0] = "dplf-run"
from engine.cli import run_main
run_main()
"""


@pytest.mark.parametrize("writers", ["0", "2"])
def test_a_write_error_in_a_writer_thread_is_one_line_and_earlier_frames_stay(clip, tmp_path, writers):
    from engine.io.run_folder import RunFolder

    out = tmp_path / "out"
    args = ["--input", clip, "--out", out, "--views", 2, "--backend", "ort-cpu", "--writers", writers]
    res = subprocess.run([sys.executable, "-c", FAIL_FRAME_1, *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "CI": "1"})
    _one_error_line(res, f"cannot write frame 1 to {out}: Input/output error", "1 frame already written is complete")
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "failed" and man["frame_indices"] == [0]
    assert sorted(p.name for p in (out / "views").iterdir()) == ["000000"]
    assert sorted(p.name for p in (out / "disparity").iterdir()) == ["000000.pfm"]
    assert RunFolder(out).views(0).shape == (2, 2, H, W, 3)


@pytest.mark.parametrize("args, needle", [(["--png-level", "10"], "--png-level must be an integer from 0"),
                                          (["--format", "jpg", "--jpg-quality", "0"], "--jpg-quality"),
                                          (["--writers", "-1"], "--writers must be")])
def test_writer_options_out_of_range_are_one_line(clip, tmp_path, args, needle):
    _one_error_line(_cli("--input", clip, "--out", tmp_path / "o", "--backend", "ort-cpu", *args), needle)
    assert not (tmp_path / "o").exists()

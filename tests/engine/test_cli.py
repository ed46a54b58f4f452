"""dplf-run end to end on a small real .dp file: run-folder layout, manifest, formats, one-line errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from engine.io.pfm import read_pfm
from tests.clips import write_clip

FRAMES, H, W = 3, 40, 56


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.dp", 11, FRAMES, H, W, max_disparity=4.0, fps=12.0)


def dplf_run(*args):
    exe = [sys.executable, "-c", "from engine.cli import run_main; run_main()"]
    return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True, env={**os.environ, "CI": "1"})


def test_png_layout_and_manifest(clip_path, tmp_path):
    out = tmp_path / "lf"
    res = dplf_run("--input", clip_path, "--out", out, "--views", 3, "--baseline", 0.8, "--renderer", "layers")
    assert res.returncode == 0, res.stderr
    assert "3 frames" in res.stdout
    man = json.loads((out / "manifest.json").read_text())
    assert man["format"] == "dplf-lf/1" and man["status"] == "complete"
    assert (man["frames"], man["height"], man["width"], man["views"]) == (FRAMES, H, W, [3, 3])
    assert np.allclose(np.array(man["positions"])[[0, 4, 8]], [[-0.8, -0.8], [0, 0], [0.8, 0.8]])
    assert man["fps"] == 12.0 and man["backend"] == "ort-cpu" and man["view_format"] == "png"
    assert man["renderer"] == "layers"
    assert {m["name"] for m in man["models"]} == {"dp-disparity-v1", "lf-layers-v1"}
    assert set(man["timing"]["latency_ms"]["total"]) >= {"p50", "p95", "p99"}
    for f in range(FRAMES):
        d = read_pfm(out / "disparity" / f"{f:06d}.pfm")
        assert d.shape == (H, W) and d.dtype == np.float32 and np.isfinite(d).all()
        names = sorted(p.name for p in (out / "views" / f"{f:06d}").iterdir())
        assert names == [f"v{r:02d}_u{c:02d}.png" for r in range(3) for c in range(3)]


def test_npy_format_and_frame_range(clip_path, tmp_path):
    out = tmp_path / "npy"
    res = dplf_run("--input", clip_path, "--out", out, "--views", 2, "--format", "npy", "--start", 1,
                   "--frames", 1)
    assert res.returncode == 0, res.stderr
    views = np.load(out / "views" / "000001.npy")
    assert views.shape == (2, 2, H, W, 3) and views.dtype == np.uint8
    man = json.loads((out / "manifest.json").read_text())
    assert man["frames"] == 1 and man["renderer"] == "dibr"
    assert [m["name"] for m in man["models"]] == ["dp-disparity-v1"]


def test_no_views_writes_only_disparity(clip_path, tmp_path):
    out = tmp_path / "d"
    res = dplf_run("--input", clip_path, "--out", out, "--no-views", "--preview")
    assert res.returncode == 0, res.stderr
    assert len(list((out / "disparity").glob("*.pfm"))) == FRAMES
    assert len(list((out / "disparity").glob("*.png"))) == FRAMES
    assert not (out / "views").exists()   # no empty folders


@pytest.mark.parametrize("make_input, args, match", [
    (lambda d: d / "missing.dp", [], "does not exist"),
    (lambda d: (d / "junk.dp").write_bytes(b"not a dp file at all") and d / "junk.dp", [], "junk.dp"),
    (None, ["--backend", "nope"], "unknown backend"),
    (None, ["--format", "gif"], "gif"),
])
def test_bad_input_one_line_nonzero_exit(clip_path, tmp_path, make_input, args, match):
    src = make_input(tmp_path) if make_input else clip_path
    res = dplf_run("--input", src, "--out", tmp_path / "o", *args)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], res.stderr


def test_truncated_input_keeps_frames_already_written(clip_path, tmp_path):
    data = clip_path.read_bytes()
    cut = tmp_path / "cut.dp"
    cut.write_bytes(data[: int(len(data) * 0.8)])   # last frame (and index) cut off
    out = tmp_path / "o"
    res = dplf_run("--input", cut, "--out", out, "--views", 2)
    man = json.loads((out / "manifest.json").read_text())
    assert man["frames"] >= 1
    for f in range(man["frames"]):
        assert (out / "disparity" / f"{f:06d}.pfm").is_file()
    if res.returncode != 0:   # the cut frame is reported on one line, naming the frame
        assert "frame" in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert man["status"] == "failed"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output(clip_path, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    res = dplf_run("--input", clip_path, "--out", ro / "x")
    assert res.returncode != 0 and "writable" in res.stderr


def test_output_path_that_is_a_file(clip_path, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    res = dplf_run("--input", clip_path, "--out", blocker)
    assert res.returncode != 0 and "not writable" in res.stderr
    assert blocker.read_text() == "keep me"


# -- commands from the dplf.commands entry points (train, export) ----------------------------------------
def test_plugin_commands_fail_in_one_line_when_their_module_is_missing(monkeypatch):
    import types

    from engine import cli

    def broken():
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli, "_entry_point", lambda name: types.SimpleNamespace(name=name, value="m:f", load=broken))
    with pytest.raises(cli.UserError, match=r"the train command cannot be loaded from m:f \(No module named 'torch'\); "
                                            r"it needs the train extra"):
        cli._load_command("train")
    def missing():
        raise ModuleNotFoundError("No module named 'export.cli'", name="export.cli")

    monkeypatch.setattr(cli, "_entry_point", lambda name: types.SimpleNamespace(name=name, value="export.cli:f",
                                                                                 load=missing))
    with pytest.raises(cli.UserError, match=r"cannot be loaded from export.cli:f .*; reinstall dplf$"):
        cli._load_command("export")
    monkeypatch.setattr(cli, "_entry_point", lambda name: None)
    with pytest.raises(cli.UserError, match="no 'export' command is installed"):
        cli._load_command("export")


def test_plugin_command_runs_whatever_shape_it_has(monkeypatch, capsys):
    import typer

    from engine import cli

    def fn(steps: int = typer.Option(1)):
        print(f"steps={steps}")

    monkeypatch.setattr(cli, "_load_command", lambda name: fn)
    with pytest.raises(SystemExit) as done:
        cli.app(["train", "--steps", "3"])
    assert done.value.code == 0 and "steps=3" in capsys.readouterr().out

    built = typer.Typer()

    @built.command()
    def cmd(fast: bool = typer.Option(False, "--fast")):
        print(f"fast={fast}")

    cmd = typer.main.get_command(built)   # an already-built command object

    monkeypatch.setattr(cli, "_load_command", lambda name: cmd)
    with pytest.raises(SystemExit):
        cli.app(["export", "--fast"])
    assert "fast=True" in capsys.readouterr().out


def test_plugin_command_without_its_module_exits_2_with_one_line():
    code = ("import sys; from engine import cli; cli._entry_point = lambda name: None; "
            "sys.argv = ['dplf', 'train', '--steps', '1']; cli.main()")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "dplf train: error: no 'train' command is installed (entry point group dplf.commands); reinstall dplf: "
        "pip install 'dplf[train]'"]


def test_entry_points_come_from_pyproject_when_the_installed_metadata_lacks_them(monkeypatch):
    from engine import cli

    monkeypatch.setattr(cli.metadata, "entry_points", lambda group: [])
    eps = cli._entry_points()
    assert eps["train"].value == "models.training.cli:train_command"
    assert eps["export"].value == "export.cli:export_command"

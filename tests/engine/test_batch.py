"""`dplf batch` on a real local Ray (2 CPU workers): two good inputs and a corrupt one, then a rerun that skips
what is complete and retries the failure; input expansion and naming; one-line errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import one_line
from engine.batch.inputs import InputError, expand_inputs, name_inputs
from engine.io.dpfile import DPReader, DPWriter
from engine.io.run_folder import RunFolder
from engine.run import run
from tests.paths import DEMO, ROOT

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'dplf[cluster]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'dplf[cluster]')")

FRAMES, H, W = 3, 96, 128
OPTS = ["--views", "2", "--backend", "ort-cpu"]


def cut_demo(path: Path, first: int) -> Path:
    """FRAMES frames of the bundled demo, from `first`, cropped to W x H (the existing .dp writer)."""
    with DPReader(DEMO) as src, DPWriter(path, width=W, height=H, fps=src.header.fps, bit_depth=8,
                                         has_rgb=True, camera="demo-cut") as dst:
        for i in range(first, first + FRAMES):
            f = src[i]
            dst.write(f.left[:H, :W], f.right[:H, :W], f.rgb[:H, :W], timestamp=f.timestamp)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    good = [cut_demo(folder / "a.dp", 0), cut_demo(folder / "b.dp", 10)]
    bad = folder / "broken.dp"
    bad.write_bytes(b"DPLF-NOT-REALLY" + bytes(range(256)) * 4)   # garbage with a .dp name
    return good, bad


@pytest.fixture(scope="module")
def local_ray():
    """One small Ray session for the module: `dplf batch` uses it instead of starting its own."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2 ** 20)
    yield ray
    ray.shutdown()


def batch_in_process(*args):
    """`dplf batch ARGS` on the module's Ray: (exit code, stdout)."""
    from typer.testing import CliRunner

    from engine.cli import app

    res = CliRunner().invoke(app, ["batch", *map(str, args)])
    return res.exit_code, res.output


def test_three_inputs_two_complete_one_failed_then_resume(inputs, local_ray, tmp_path):
    (a, b), bad = inputs
    out = tmp_path / "out"
    code, text = batch_in_process(a, b, bad, "--out", out, "--workers", 2, *OPTS)
    assert code == 1, text                                     # one input failed
    record = json.loads((out / "batch.json").read_text())
    assert record["format"] == "dplf-batch/1"
    entries = record["inputs"]
    assert {n: e["status"] for n, e in entries.items()} == {"a": "complete", "b": "complete", "broken": "failed"}
    reason = entries["broken"]["reason"]
    with pytest.raises(Exception) as plain:                   # the same one line dplf-run gives for it
        run(bad, tmp_path / "plain-bad", views=2, backend="ort-cpu")
    assert reason == one_line(plain.value) and "\n" not in reason and "broken.dp" in reason
    assert "broken" in text and reason[:40] in text and "2 converted" in text
    assert record["last_batch"]["workers"] == 2 and len({e["worker"] for e in entries.values()}) <= 2
    for name, src in (("a", a), ("b", b)):
        folder = RunFolder(out / name)
        assert folder.manifest["status"] == "complete" and folder.frames == [0, 1, 2]
        assert folder.views(1).shape == (2, 2, H, W, 3)
        assert entries[name]["frames"] == FRAMES
    single = tmp_path / "single-b"                             # a plain single-process run of the same input
    run(b, single, views=2, backend="ort-cpu", progress=False)
    np.testing.assert_array_equal(RunFolder(out / "b").disparity(2), RunFolder(single).disparity(2))
    np.testing.assert_array_equal(RunFolder(out / "b").views(2), RunFolder(single).views(2))

    before = (out / "a" / "manifest.json").stat().st_mtime_ns
    code, text = batch_in_process(a, b, bad, "--out", out, "--workers", 2, *OPTS)
    assert code == 1, text
    assert "2 skipped (already complete)" in text and "0 converted" in text and "1 failed" in text
    assert (out / "a" / "manifest.json").stat().st_mtime_ns == before     # not redone
    again = json.loads((out / "batch.json").read_text())
    assert again["inputs"]["broken"]["attempts"] == 2 and again["inputs"]["broken"]["reason"] == reason
    assert again["inputs"]["a"]["attempts"] == 1
    assert sorted(again["last_batch"]["skipped"]) == ["a", "b"] and again["last_batch"]["failed"] == ["broken"]


def test_other_options_are_not_taken_for_done_and_failed_inputs_are_rerun(inputs, local_ray, tmp_path):
    (a, _), _ = inputs
    out = tmp_path / "out"
    assert batch_in_process(a, "--out", out, "--frames", 1, *OPTS)[0] == 0
    code, text = batch_in_process(a, "--out", out, "--frames", 2, *OPTS)
    assert code == 1 and "other options" in text and "--overwrite" in text
    assert RunFolder(out / "a").frames == [0]                  # the complete run is kept
    record = json.loads((out / "batch.json").read_text())
    assert "frames 1, not 2" in record["last_batch"]["refused"]["a"] and record["last_batch"]["failed"] == ["a"]
    assert record["inputs"]["a"]["status"] == "complete" and record["inputs"]["a"]["options"]["frames"] == 1
    code, text = batch_in_process(a, "--out", out, "--frames", 2, "--overwrite", *OPTS)
    assert code == 0, text
    assert RunFolder(out / "a").frames == [0, 1]
    man = json.loads((out / "a" / "manifest.json").read_text())
    man["status"] = "interrupted"                              # as a killed worker leaves it
    (out / "a" / "manifest.json").write_text(json.dumps(man))
    code, text = batch_in_process(a, "--out", out, "--frames", 2, *OPTS)
    assert code == 0 and "1 converted" in text, text
    assert RunFolder(out / "a").manifest["status"] == "complete"


def test_run_options_reach_every_input(inputs, local_ray, tmp_path):
    """--format jpg --jpg-quality, --on-error and --renderer arrive in each run's manifest and files."""
    (a, b), _ = inputs
    out = tmp_path / "out"
    code, text = batch_in_process(a, b, "--out", out, "--format", "jpg", "--jpg-quality", 55, "--on-error", "skip",
                                  "--frames", 1, *OPTS)
    assert code == 0, text
    for name in ("a", "b"):
        man = json.loads((out / name / "manifest.json").read_text())
        assert man["view_format"] == "jpg" and man["jpg_quality"] == 55, man
        assert sorted(p.suffix for p in (out / name / "views" / "000000").iterdir()) == [".jpg"] * 4
    record = json.loads((out / "batch.json").read_text())
    assert record["inputs"]["a"]["options"]["on_error"] == "skip"
    assert record["inputs"]["a"]["options"]["renderer"] == "dibr"


def test_glob_and_list_file_expansion(inputs, tmp_path):
    (a, b), bad = inputs
    listing = tmp_path / "list.txt"
    listing.write_text(f"# captures\n{a}\n\n{b.name}\n")       # a relative line is taken from the list.s folder
    (tmp_path / b.name).write_bytes(b.read_bytes())
    assert expand_inputs([f"@{listing}"]) == [a.resolve(), (tmp_path / b.name).resolve()]
    assert expand_inputs([str(listing)]) == expand_inputs([f"@{listing}"])
    assert expand_inputs([str(a.parent / "*.dp"), str(a)]) == sorted(p.resolve() for p in (a, b, bad))


@pytest.mark.parametrize("arg, needle", [("missing.dp", "does not exist"), ("nothing-*.dp", "matches nothing"),
                                         ("@absent.txt", "cannot read list file")])
def test_bad_inputs_are_one_line(tmp_path, arg, needle, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=needle):
        expand_inputs([arg])


def test_same_stems_get_their_folder_names(tmp_path):
    paths = []
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        paths.append(tmp_path / day / "clip.dp")
        paths[-1].write_bytes(b"x")
    (tmp_path / "other.dp").write_bytes(b"x")
    names = [i.name for i in name_inputs([*paths, tmp_path / "other.dp"])]
    assert names == ["day1-clip", "day2-clip", "other"]


def _batch_cli(*args, env=None):
    return subprocess.run([sys.executable, "-c", "from engine.cli import main; main()", "batch", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "CI": "1", **(env or {})})


def test_an_address_where_nothing_answers_is_one_line_at_once(inputs, tmp_path):
    import socket
    import time

    (a, _), _ = inputs
    with socket.socket() as s:                                   # a local port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    res = _batch_cli(a, "--out", tmp_path / "out", "--address", f"127.0.0.1:{port}")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert f"cannot join the Ray cluster at 127.0.0.1:{port}" in res.stderr and "nothing answers" in res.stderr
    assert time.perf_counter() - t0 < 60                         # not Ray's minutes of retries


def test_missing_input_is_one_line_exit_2(tmp_path):
    res = _batch_cli(tmp_path / "nope.dp", "--out", tmp_path / "out")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dplf batch: error: input ") and "does not exist" in lines[0]
    assert not (tmp_path / "out").exists()


def test_without_ray_one_line_says_how_to_install(tmp_path, inputs):
    (a, _), _ = inputs
    blocker = tmp_path / "noray"
    blocker.mkdir()
    (blocker / "ray.py").write_text("raise ImportError('No module named ray')\n")
    res = _batch_cli(a, "--out", tmp_path / "out", env={"PYTHONPATH": f"{blocker}{os.pathsep}{ROOT}"})
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'dplf[cluster]'" in lines[0], res.stderr
    assert not (tmp_path / "out").exists()
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{ROOT}"}
    for args, needle in ((["--help"], "batch"), (["batch", "--help"], "--address")):   # they need no Ray
        res = subprocess.run([sys.executable, "-c", "from engine.cli import main; main()", *args], cwd=ROOT,
                             capture_output=True, text=True, env=env)
        assert res.returncode == 0 and needle in res.stdout, res.stderr


def test_bad_options_fail_before_any_worker_starts(tmp_path, inputs):
    (a, _), _ = inputs
    for args, needle in ((["--dp-model", "no-such"], "no-such"), (["--backend", "gpu9"], "unknown backend"),
                         (["--views", "0"], "--no-views"), (["--format", "gif"], "--format"),
                         (["--renderer", "nerf"], "--renderer"), (["--png-level", "12"], "--png-level"),
                         (["--jpg-quality", "0"], "--jpg-quality"), (["--on-error", "ignore"], "--on-error")):
        res = _batch_cli(a, "--out", tmp_path / "out", *args)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and needle in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()


def test_a_worker_bug_is_recorded_with_its_traceback_not_swallowed(inputs, tmp_path, monkeypatch):
    from engine.batch import worker as worker_module
    from engine.batch.options import run_options

    (a, _), _ = inputs

    def broken_run(**kwargs):
        raise KeyError("views")

    worker = worker_module.BatchWorker(run_options(views=2, backend="ort-cpu"), threads=1)
    monkeypatch.setattr(worker_module, "run", broken_run)
    rows = worker({"name": ["a"], "input": [str(a)], "out": [str(tmp_path / "a")], "overwrite": [False]})
    assert rows["status"][0] == "failed" and rows["reason"][0] == "KeyError: 'views'"
    assert "broken_run" in rows["traceback"][0]


def test_a_pipeline_that_cannot_be_built_is_every_inputs_reason(inputs, tmp_path):
    from engine.batch.options import run_options
    from engine.batch.worker import BatchWorker

    (a, b), _ = inputs
    options = {**run_options(views=2), "dp_model": "not-installed"}   # as if a worker's install lacked it
    rows = BatchWorker(options)({"name": ["a", "b"], "input": [str(a), str(b)],
                                 "out": [str(tmp_path / "a"), str(tmp_path / "b")], "overwrite": [False, False]})
    assert list(rows["status"]) == ["failed", "failed"]
    assert all("not-installed" in r for r in rows["reason"]) and not (tmp_path / "a").exists()


def test_ray_failing_mid_batch_marks_the_unfinished_inputs(inputs, tmp_path, monkeypatch):
    from engine.batch import ray_runner
    from engine.batch.batch import batch
    from engine.batch.options import run_options

    (a, b), _ = inputs

    def run_inputs(rows, options, layout):
        yield {"name": "a", "input": str(a), "status": "complete", "reason": "", "frames": 3, "wall_s": 1.0,
               "fps": 3.0, "worker": "w:1", "traceback": ""}
        raise RuntimeError("The actor died unexpectedly before finishing this task")

    monkeypatch.setattr(ray_runner, "connect", lambda address, workers: False)
    monkeypatch.setattr(ray_runner, "worker_layout", lambda workers, n, backend: {"workers": 1})
    monkeypatch.setattr(ray_runner, "run_inputs", run_inputs)
    report = batch([str(a), str(b)], tmp_path / "out", run_options(views=2), progress=False)
    assert report.exit_code == 1 and [r["name"] for r in report.failed] == ["b"]
    entry = json.loads((tmp_path / "out" / "batch.json").read_text())["inputs"]["b"]
    assert entry["status"] == "failed" and entry["reason"] == ("the batch stopped: RuntimeError: The actor died "
                                                              "unexpectedly before finishing this task")


def test_run_refuses_a_pipeline_built_for_other_views(inputs, tmp_path):
    from engine.pipeline import Pipeline

    (a, _), _ = inputs
    with pytest.raises(ValueError, match="views=2"):
        run(a, tmp_path / "out", views=3, backend="ort-cpu", pipeline=Pipeline(backend="ort-cpu", views=2))
    assert not (tmp_path / "out").exists()


def test_an_unreadable_batch_json_is_refused_not_overwritten(inputs, tmp_path):
    (a, _), _ = inputs
    out = tmp_path / "out"
    out.mkdir()
    (out / "batch.json").write_text('{"format": "dplf-batch/1", "inputs": {')   # cut short
    res = _batch_cli(a, "--out", out)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "not readable JSON" in res.stderr, res.stderr
    assert (out / "batch.json").read_text() == '{"format": "dplf-batch/1", "inputs": {'
    (out / "batch.json").write_text('{"format": "something-else"}')
    res = _batch_cli(a, "--out", out)
    assert res.returncode == 2 and "choose another --out" in res.stderr, res.stderr

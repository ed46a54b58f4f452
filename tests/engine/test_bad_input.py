"""Bad input and faults (SPEC §10, docs/bad-input.md): one clear line on stderr, exit code 2, no traceback, and
nothing already written lost.

CLI cases run `dplf-run` in a subprocess (as tests/test_cli.py does); API cases call engine.Pipeline /
engine.run.run in-process (NaN/Inf, dtypes and shapes can only reach the pipeline through the API; a full disk
is simulated by making the output writer's file writes fail with ENOSPC).

    python tests/test_bad_input.py     # regenerates docs/bad-input.md from the real outputs of these cases
"""
from __future__ import annotations

import errno
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

from engine.io.dpfile import DPWriter
from engine.io.pfm import read_pfm

from tests.paths import ROOT
DEMO = ROOT / "samples" / "demo.dp"
H, W = 40, 56


# ---------------------------------------------------------------- inputs

def _write_dp(path: Path, n: int, h: int, w: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with DPWriter(path, width=w, height=h, fps=10.0, bit_depth=8, has_rgb=True) as wr:
        for _ in range(n):
            base = rng.integers(0, 256, (h, w), np.uint8)
            wr.write(base, np.roll(base, 1, axis=1), np.repeat(base[..., None], 3, -1))


def _records(data: bytes) -> list[int]:
    pos = 20 + struct.unpack_from("<I", data, 12)[0]
    offs = []
    while data[pos:pos + 4] == b"DPFR":
        offs.append(pos)
        pos += 12 + struct.unpack_from("<I", data, pos + 4)[0]
    return offs


def make_inputs(d: Path) -> dict[str, Path | int]:
    """Every bad (and odd-but-fine) input the cases use, in folder d."""
    d.mkdir(parents=True, exist_ok=True)
    _write_dp(d / "good.dp", 3, H, W)
    _write_dp(d / "odd.dp", 2, 17, 23, seed=1)
    _write_dp(d / "tiny.dp", 1, 5, 6, seed=2)
    data = (d / "good.dp").read_bytes()
    offs = _records(data)
    (d / "empty.dp").write_bytes(b"")
    (d / "garbage.dp").write_bytes(np.random.default_rng(3).integers(0, 256, 4096, np.uint8).tobytes())
    (d / "header-cut.dp").write_bytes(data[:30])
    (d / "cut.dp").write_bytes(data[:offs[2] + 100])            # frame 2 cut short, no index
    flipped = bytearray(data)
    flipped[offs[1] + 60] ^= 0x08                                 # one bit inside frame 1's planes
    (d / "flipped.dp").write_bytes(bytes(flipped))
    pairs = d / "mismatched"
    pairs.mkdir(exist_ok=True)
    cv2.imwrite(str(pairs / "000_left.png"), np.zeros((32, 40), np.uint8))
    cv2.imwrite(str(pairs / "000_right.png"), np.zeros((32, 48), np.uint8))
    (d / "a-file").write_text("keep me\n")
    return {"IN": d, "cut_frame": 2, "cut_offset": offs[2], "flip_frame": 1, "flip_offset": offs[1]}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("bad-inputs"))


# ---------------------------------------------------------------- running the CLI

DPLF_RUN = [sys.executable, "-c", "import sys; sys.argv[0] = 'dplf-run'; from engine.cli import run_main; run_main()"]
# The same, with the output writer's file writes failing with ENOSPC from frame 1 on (the disk "fills up"
# after frame 0): every write after that fails too, the manifest included.
DPLF_RUN_FULL_DISK = [sys.executable, "-c", """
import errno, os
import engine.io.outputs as o
real, full = o.atomic_write, []
def atomic(path, write):
    if full or "000001" in str(path):
        full.append(path)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real(path, write)
o.atomic_write = atomic
import sys
sys.argv[0] = "dplf-run"
from engine.cli import run_main
run_main()
"""]


# Root ignores chmod: there, creating anything under a folder named "read-only" fails with EACCES instead, the
# way it does for a user without write permission.
DPLF_RUN_EACCES = [sys.executable, "-c", """
import errno, os, pathlib
real = pathlib.Path.mkdir
def mkdir(self, *args, **kwargs):
    if "read-only" in str(self):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
    return real(self, *args, **kwargs)
pathlib.Path.mkdir = mkdir
import sys
sys.argv[0] = "dplf-run"
from engine.cli import run_main
run_main()
"""]
AS_ROOT = os.geteuid() == 0


def dplf_run(args, exe=DPLF_RUN, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "CI": "1", "PYTHONWARNINGS": "ignore"})


def one_line(res: subprocess.CompletedProcess, code: int = 2) -> str:
    """The single stderr line of a failed run (checked: exit code, one line, prefix, no traceback)."""
    assert "Traceback" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == code, (res.returncode, res.stderr)
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("dplf-run: error: "), lines[0]
    return lines[0]


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())   # parses: the manifest is always whole


def frames_on_disk(out: Path) -> list[int]:
    return sorted(int(p.stem) for p in (out / "disparity").glob("*.pfm"))


def check_kept(out: Path, n: int, status: str | None, size=(H, W)) -> None:
    """n complete frames (PFMs that parse, with every view), described by a manifest that parses."""
    man = manifest(out)
    assert man["frames"] == n and frames_on_disk(out) == list(range(n)), (man, frames_on_disk(out))
    if status is not None:
        assert man["status"] == status, man["status"]
    for i in range(n):
        d = read_pfm(out / "disparity" / f"{i:06d}.pfm")
        assert d.shape == size and np.isfinite(d).all()
        views = sorted((out / "views" / f"{i:06d}").glob("*.png"))
        assert len(views) == man["views"][0] * man["views"][1]
        assert all(cv2.imread(str(v)) is not None for v in views)


# ---------------------------------------------------------------- CLI cases

def _gpu_missing(name: str) -> bool:
    from engine.backends import BACKENDS

    return not BACKENDS[name].probe().ok


@dataclass
class Case:
    id: str
    what: str                                   # the row's description in docs/bad-input.md
    args: list[str]                             # {IN} = input folder, {OUT} = output folder
    code: int = 2
    match: str = ""                             # regex the stderr line must match ({IN}/{OUT}/{...} formatted)
    check: Callable | None = None               # check(out: Path, inputs: dict, res) after the run
    exe: list[str] = field(default_factory=lambda: DPLF_RUN)
    skip: Callable[[], str | None] = lambda: None
    xfail: str | None = None                    # a known gap, fixed outside the files this test owns


def _nothing_written(out, inputs, res):
    assert not out.exists(), "bad input must fail before the output folder is created"


def _file_untouched(out, inputs, res):
    assert (inputs["IN"] / "a-file").read_text() == "keep me\n"


def _kept(n, status):
    def check(out, inputs, res):
        check_kept(out, n, status)
    return check


def _odd_size(out, inputs, res):
    man = manifest(out)
    assert (man["height"], man["width"], man["status"]) == (17, 23, "complete")
    check_kept(out, 2, "complete", size=(17, 23))
    assert all(cv2.imread(str(p)).shape == (17, 23, 3) for p in (out / "views" / "000000").glob("*.png"))


def _skipped(out, inputs, res):
    assert res.returncode == 0 and "Traceback" not in res.stderr
    assert re.search(r"frame 1 skipped: .*frame 1 at byte offset \d+: checksum mismatch", res.stderr), res.stderr
    man = manifest(out)
    assert man["status"] == "complete" and man["frames"] == 2 and man["skipped"] == [1]
    assert frames_on_disk(out) == [0, 2]


def _full_disk(out, inputs, res):
    # the disk stays full: the manifest cannot be updated any more, so it is the one written after frame 0 --
    # whole, parseable, and describing exactly the frames on disk
    man = manifest(out)
    assert man["frames"] == 1 and man["status"] == "running"
    check_kept(out, 1, None)


CASES = [
    Case("missing-input", "input path does not exist", ["--input", "{IN}/missing.dp", "--out", "{OUT}"],
         match=r"input {IN}/missing.dp does not exist; pass a .dp file", check=_nothing_written),
    Case("empty-file", "empty input file", ["--input", "{IN}/empty.dp", "--out", "{OUT}"],
         match=r"{IN}/empty.dp: ", check=_nothing_written),
    Case("garbage-file", "input file that is not a .dp (random bytes)", ["--input", "{IN}/garbage.dp", "--out", "{OUT}"],
         match=r"{IN}/garbage.dp: ", check=_nothing_written),
    Case("truncated-header", ".dp cut inside its file header", ["--input", "{IN}/header-cut.dp", "--out", "{OUT}"],
         match=r"{IN}/header-cut.dp: file header is truncated", check=_nothing_written),
    Case("truncated-frame", ".dp cut inside frame 2 (an interrupted copy)", ["--input", "{IN}/cut.dp", "--out", "{OUT}",
         "--views", "2"], match=r"{IN}/cut.dp: frame 2 at byte offset {cut_offset}: record is truncated .*; 2 frames "
         r"before it written to {OUT} \(--on-error skip", check=_kept(2, "failed")),
    Case("corrupted-frame", "one flipped bit in frame 1", ["--input", "{IN}/flipped.dp", "--out", "{OUT}", "--views", "2"],
         match=r"{IN}/flipped.dp: frame 1 at byte offset {flip_offset}: checksum mismatch", check=_kept(1, "failed")),
    Case("corrupted-frame-skip", "one flipped bit in frame 1, `--on-error skip`",
         ["--input", "{IN}/flipped.dp", "--out", "{OUT}", "--views", "2", "--on-error", "skip"], code=0,
         check=_skipped),
    Case("mismatched-pair", "DP pair whose left and right differ in size", ["--input", "{IN}/mismatched", "--out", "{OUT}"],
         match=r"000_right.png", check=_nothing_written),
    Case("odd-size", "17x23 frames (not a multiple of 16): padded, cropped back",
         ["--input", "{IN}/odd.dp", "--out", "{OUT}", "--views", "2"], code=0, check=_odd_size),
    Case("too-small", "5x6 frames (below the 8x8 minimum)", ["--input", "{IN}/tiny.dp", "--out", "{OUT}"],
         match=r"{IN}/tiny.dp: frames of 6x5 pixels are too small; need at least 8x8", check=_nothing_written),
    Case("unknown-backend", "`--backend tpu`", ["--input", "{IN}/good.dp", "--out", "{OUT}", "--backend", "tpu"],
         match=r"unknown backend 'tpu'; choose one of: auto, ", check=_nothing_written),
    *[Case(f"no-gpu-{b}", f"`--backend {b}` on a machine without a usable GPU",
           ["--input", "{IN}/good.dp", "--out", "{OUT}", "--backend", b],
           match=rf"backend '{b}' cannot run here: .*; use --backend ort-cpu", check=_nothing_written,
           skip=lambda b=b: None if _gpu_missing(b) else f"{b} works on this machine")
      for b in ("torch-cuda", "ort-cuda", "trt")],
    Case("unknown-precision", "`--precision fp8`", ["--input", "{IN}/good.dp", "--out", "{OUT}", "--precision", "fp8"],
         match=r"precision", check=_nothing_written),
    Case("unknown-format", "`--format gif`", ["--input", "{IN}/good.dp", "--out", "{OUT}", "--format", "gif"],
         match=r"--format 'gif' is unknown", check=_nothing_written),
    Case("bad-baseline", "`--baseline nan`", ["--input", "{IN}/good.dp", "--out", "{OUT}", "--baseline", "nan"],
         match=r"--baseline must be a finite number", check=_nothing_written),
    Case("negative-baseline", "`--baseline -1`", ["--input", "{IN}/good.dp", "--out", "{OUT}", "--baseline", "-1"],
         match=r"--baseline must be > 0 and <= 100 .*, got -1", check=_nothing_written),
    Case("bad-views", "`--views -1`", ["--input", "{IN}/good.dp", "--out", "{OUT}", "--views", "-1"],
         match=r"--views must be >= 1, got -1; for disparity only pass --no-views", check=_nothing_written),
    Case("start-past-end", "`--start 9` on a 3-frame file", ["--input", "{IN}/good.dp", "--out", "{OUT}", "--start", "9"],
         match=r"start 9 is past the end", check=_nothing_written),
    Case("output-is-a-file", "`--out` names an existing file", ["--input", "{IN}/good.dp", "--out", "{IN}/a-file"],
         match=r"output folder {IN}/a-file is not writable: it is a file; choose another --out",
         check=_file_untouched),
    Case("unwritable-output", "`--out` inside a read-only folder (chmod 500; as root, where chmod does not "
         "stop writes, EACCES is simulated)", ["--input", "{IN}/good.dp", "--out", "{IN}/read-only/out"],
         match=r"output folder {IN}/read-only/out is not writable \(Permission denied\); choose another --out",
         exe=DPLF_RUN_EACCES if AS_ROOT else DPLF_RUN),
    Case("full-disk", "the disk fills up after frame 0 (ENOSPC on every later write)",
         ["--input", "{IN}/good.dp", "--out", "{OUT}", "--views", "2"], exe=DPLF_RUN_FULL_DISK,
         match=r"cannot write frame 1 to {OUT}: No space left on device; free some space or choose another --out "
               r"\(1 frame already written is complete, see {OUT}/manifest.json\)", check=_full_disk),
    Case("bad-option-value", "`--views abc` (a usage error, reported by the CLI parser)",
         ["--input", "{IN}/good.dp", "--out", "{OUT}", "--views", "abc"], match=r"--views", check=_nothing_written),
    Case("missing-option", "no `--input` (a usage error, reported by the CLI parser)", ["--out", "{OUT}"],
         match=r"--input", check=_nothing_written),
]


def run_case(case: Case, inputs: dict, out: Path) -> subprocess.CompletedProcess:
    if case.id == "unwritable-output":
        ro = inputs["IN"] / "read-only"
        ro.mkdir(exist_ok=True)
        ro.chmod(0o500)
    fmt = {k: str(v) for k, v in inputs.items()} | {"OUT": str(out)}
    return dplf_run([a.format(**fmt) for a in case.args], exe=case.exe)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=False)]
                                              if c.xfail else []) for c in CASES])
def test_cli_case(case, inputs, tmp_path):
    why = case.skip()
    if why:
        pytest.skip(why)
    out = tmp_path / "out"
    res = run_case(case, inputs, out)
    fmt = {k: re.escape(str(v)) for k, v in inputs.items()} | {"OUT": re.escape(str(out))}
    if case.code == 2:
        line = one_line(res)
        assert re.search(case.match.format(**fmt), line), line
    else:
        assert res.returncode == case.code, res.stderr
        assert "Traceback" not in res.stderr and "error" not in res.stderr.lower(), res.stderr
    if case.check:
        case.check(out, inputs, res)


def test_interrupted_run_keeps_frames(tmp_path):
    """Ctrl-C (SIGINT) mid-run: exit 130, one line, the manifest says "interrupted" and lists exactly the frames
    on disk, each complete."""
    if not DEMO.is_file():
        pytest.skip("samples/demo.dp is missing")
    out = tmp_path / "out"
    proc = subprocess.Popen([*DPLF_RUN, "--input", str(DEMO), "--out", str(out), "--views", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CI": "1", "PYTHONWARNINGS": "ignore"},
                            # a shell without job control starts background jobs with SIGINT ignored, and a
                            # Python started so never raises KeyboardInterrupt: give the child the default
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if manifest(out)["frames"] >= 2:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    res = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    assert "interrupted" in one_line(res, code=130)
    man = manifest(out)
    assert man["status"] == "interrupted" and 2 <= man["frames"] < 36
    check_kept(out, man["frames"], "interrupted", size=(192, 256))


# ---------------------------------------------------------------- engine.run.run in-process: full disk, permissions

def _fill_disk_at(monkeypatch, frame: int, sticky: bool) -> list:
    """Output writes fail with ENOSPC from `frame` on; with sticky=False only that frame's first file fails
    (space is freed again, so the final manifest can still be written)."""
    import engine.io.outputs as outputs

    real, failed = outputs.atomic_write, []

    def atomic(path, write):
        if (sticky and failed) or (f"{frame:06d}" in str(path) and not failed):
            failed.append(str(path))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, write)

    monkeypatch.setattr(outputs, "atomic_write", atomic)
    return failed


@pytest.mark.parametrize("sticky", [False, True], ids=["space-freed", "stays-full"])
def test_full_disk_in_process(inputs, tmp_path, monkeypatch, sticky):
    from engine.run import run

    failed = _fill_disk_at(monkeypatch, 2, sticky)
    out = tmp_path / "out"
    with pytest.raises(OSError) as e:
        run(inputs["IN"] / "good.dp", out, views=2, backend="ort-cpu", progress=False)
    msg = str(e.value)
    assert e.value.errno == errno.ENOSPC and "\n" not in msg
    assert msg.startswith(f"cannot write frame 2 to {out}: No space left on device; free some space"), msg
    assert "2 frames already written are complete" in msg
    assert failed
    # frames 0 and 1 are complete; the manifest parses and describes them; with space freed it also says failed
    check_kept(out, 2, "running" if sticky else "failed")


def test_unwritable_output_in_process(inputs, tmp_path, monkeypatch):
    """Runs as root too: creating the output folder fails with EACCES as it would without write permission."""
    from engine.run import run

    target = tmp_path / "no-access"
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if str(self).startswith(str(target)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(OSError, match=rf"output folder {re.escape(str(target / 'out'))} is not writable "
                                      rf"\(Permission denied\); choose another --out") as e:
        run(inputs["IN"] / "good.dp", target / "out", views=2, backend="ort-cpu", progress=False)
    assert "\n" not in str(e.value)


def test_glob_input_is_not_refused(inputs, tmp_path):
    """A glob of DP pairs is a valid --input (SPEC §4); it used to be refused as "does not exist"."""
    from engine.run import run

    with pytest.raises(ValueError, match="000_right.png") as e:   # reaches the pair reader, which names the file
        run(f"{inputs['IN']}/mismatched/*_left.png", tmp_path / "out", views=2, backend="ort-cpu", progress=False)
    assert "does not exist" not in str(e.value)


# ---------------------------------------------------------------- engine.Pipeline: arrays

@pytest.fixture(scope="module")
def pipe():
    from engine import Pipeline

    return Pipeline(backend="ort-cpu", views=2)


def _f(*shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _with(a, idx, value):
    a = a.copy()
    a[idx] = value
    return a


API_BAD = [
    ("nan-left", lambda: (_with(_f(32, 32), (3, 4), np.nan), _f(32, 32)), {},
     r"^left has NaN/Inf values \(first at row 3, col 4\); clean the input$"),
    ("inf-right", lambda: (_f(32, 32), _with(_f(32, 32), (0, 9), np.inf)), {},
     r"^right has NaN/Inf values \(first at row 0, col 9\)"),
    ("nan-rgb", lambda: (_f(32, 32), _f(32, 32), _with(_f(32, 32, 3), (1, 2, 2), np.nan)), {},
     r"^rgb has NaN/Inf values \(first at row 1, col 2, channel 2\)"),
    ("mismatched-sizes", lambda: (_f(32, 32), _f(32, 40)), {},
     r"^left \(32, 32\) and right \(32, 40\) differ in size; pass a matching DP pair$"),
    ("3-d-plane", lambda: (_f(32, 32, 3), _f(32, 32, 3)), {}, r"^left must be a 2-D \[H, W\] plane"),
    ("1-d-plane", lambda: (_f(100), _f(100)), {}, r"^left must be a 2-D \[H, W\] plane, got shape \(100,\)"),
    ("list-input", lambda: ([[0.5] * 32] * 32, _f(32, 32)), {}, r"^left must be a numpy array, got list$"),
    ("int32-dtype", lambda: (np.zeros((32, 32), np.int32), np.zeros((32, 32), np.int32)), {},
     r"^left has dtype int32; pass uint8, uint16 or float in \[0, 1\]$"),
    ("bool-dtype", lambda: (_f(32, 32) > 0.5, _f(32, 32) > 0.5), {}, r"^left has dtype bool"),
    ("mixed-dtypes", lambda: (np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.uint16)), {},
     r"^left is uint8 but right is uint16; pass both DP planes with the same dtype"),
    ("float-out-of-range", lambda: (_f(32, 32) * 255, _f(32, 32)), {}, r"^left: float input must be in \[0, 1\]"),
    ("rgb-wrong-shape", lambda: (_f(32, 32), _f(32, 32), _f(32, 32, 4)), {},
     r"^rgb must be \[H, W, 3\] = \(32, 32, 3\) to match the DP pair, got \(32, 32, 4\)$"),
    ("too-small", lambda: (_f(7, 100), _f(7, 100)), {}, r"^DP planes of \(7, 100\) are too small; need at least 8x8"),
    ("empty", lambda: (np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)), {}, r"too small"),
    ("white-below-black", lambda: (np.zeros((32, 32), np.uint16), np.zeros((32, 32), np.uint16)),
     {"black_level": 100, "white_level": 50}, r"^left: white level 50.0 must exceed black level 100"),
    ("nan-black-level", lambda: (np.zeros((32, 32), np.uint16), np.zeros((32, 32), np.uint16)),
     {"black_level": float("nan")}, r"^left: black level nan and white level 65535.0 must be finite"),
]


@pytest.mark.parametrize("args, kwargs, match", [c[1:] for c in API_BAD], ids=[c[0] for c in API_BAD])
def test_pipeline_bad_arrays(pipe, args, kwargs, match):
    with pytest.raises(ValueError) as e:
        pipe(*args(), **kwargs)
    assert "\n" not in str(e.value) and re.search(match, str(e.value)), str(e.value)


@pytest.mark.parametrize("shape", [(17, 23), (8, 8), (9, 31), (33, 17)])
def test_pipeline_odd_sizes_work(pipe, shape):
    out = pipe(_f(*shape), _f(*shape, seed=1))
    assert out.disparity.shape == shape and np.isfinite(out.disparity).all()
    assert out.views.shape == (2, 2, *shape, 3)


def test_pipeline_accepts_big_endian_and_rounding_noise(pipe):
    a = (_f(24, 24) * 65535).astype(np.uint16)
    ref = pipe(a, a).disparity.copy()
    np.testing.assert_array_equal(pipe(a.astype(">u2"), a.astype(">u2")).disparity, ref)
    left = _f(24, 24) - np.float32(5e-4)            # a hair below 0: clipped, the caller's array untouched
    keep = left.copy()
    pipe(left, _f(24, 24))
    np.testing.assert_array_equal(left, keep)


def test_pipeline_backends():
    from engine import Pipeline
    from engine.backends import BackendUnavailable

    with pytest.raises(ValueError, match=r"^unknown backend 'tpu'; choose one of: auto, "):
        Pipeline(backend="tpu")
    for name in ("torch-cuda", "ort-cuda", "trt"):
        if _gpu_missing(name):
            with pytest.raises(BackendUnavailable, match=rf"^backend '{name}' cannot run here: .*use --backend ort-cpu"):
                Pipeline(backend=name)


def test_stream_reports_a_bad_frame_and_goes_on(pipe):
    """A stream hitting a bad frame (NaN) reports it (on_skip) and goes on, or stops with the error."""
    from types import SimpleNamespace as Frame

    frames = [Frame(left=_f(16, 16), right=_f(16, 16), rgb=None, index=i, timestamp=0.1 * i) for i in range(3)]
    frames[1].left = _with(frames[1].left, (2, 3), np.nan)
    skipped = []
    got = [o.index for o in pipe.stream(frames, on_error="skip", on_skip=lambda i, e: skipped.append((i, str(e))))]
    assert got == [0, 2] and skipped[0][0] == 1 and "NaN" in skipped[0][1]
    with pytest.raises(ValueError, match="NaN"):
        list(pipe.stream(frames, on_error="stop"))


# ---------------------------------------------------------------- .dp files through DPReader / DPWriter

def _patched(d: Path, name: str, edit) -> Path:
    data = bytearray((d / "good.dp").read_bytes())
    edit(data, _records(bytes(data)))
    (d / name).write_bytes(bytes(data))
    return d / name


def _header_json(d: Path, name: str, text: bytes) -> Path:
    import zlib

    data = (d / "good.dp").read_bytes()
    n = struct.unpack_from("<I", data, 12)[0]
    head = data[:12] + struct.pack("<I", len(text)) + text + struct.pack("<I", zlib.crc32(text))
    (d / name).write_bytes(head + data[20 + n:])
    return d / name


def _set(pos_fn, value: bytes):
    def edit(data, recs):
        pos = pos_fn(recs)
        data[pos:pos + len(value)] = value
    return edit


def _meta(d: Path) -> dict:
    data = (d / "good.dp").read_bytes()
    return json.loads(data[16:16 + struct.unpack_from("<I", data, 12)[0]])


# (id, what, make(d) -> path, how it is read: "open" | "iter" | frame index, regex of the message)
DP_CASES = [
    ("not-dp", "random bytes", lambda d: d / "garbage.dp", "open", r"not a .dp file \(bad magic or empty\)"),
    ("empty", "empty file", lambda d: d / "empty.dp", "open", r"not a .dp file"),
    ("version", "major version 2", lambda d: _patched(d, "v2.dp", _set(lambda r: 8, b"\x02")), "open",
     r"\.dp version 2\.0 is not supported \(this reader reads 1\.x\)"),
    ("header-length", "metadata length field 0xFFFFFFF0",
     lambda d: _patched(d, "hlen.dp", _set(lambda r: 12, b"\xf0\xff\xff\xff")), "open",
     r"file header claims 4294967280 bytes of metadata, over the 16777216-byte limit"),
    ("header-cut", "cut inside the header", lambda d: d / "header-cut.dp", "open", r"file header is truncated"),
    ("header-crc", "one byte of the metadata changed",
     lambda d: _patched(d, "hcrc.dp", _set(lambda r: 30, b"#")), "open", r"file header checksum mismatch"),
    ("header-type", "metadata `\"width\": Infinity` (valid checksum)",
     lambda d: _header_json(d, "htype.dp", json.dumps({**_meta(d), "width": float("inf")}).encode()), "open",
     r"file header JSON is invalid \('width' must be an integer, got inf\)"),
    ("header-range", "metadata width 10^9 (valid checksum)",
     lambda d: _header_json(d, "hrange.dp", json.dumps({**_meta(d), "width": 10**9}).encode()), "open",
     r"file header is invalid: width 1000000000 exceeds the limit of 32768 pixels"),
    ("header-levels", "metadata white_level 0 (valid checksum)",
     lambda d: _header_json(d, "hlev.dp", json.dumps({**_meta(d), "white_level": 0}).encode()), "open",
     r"need 0 <= black_level < white_level <= 255 for 8-bit planes, got black 0, white 0"),
    ("frame-truncated", "cut inside frame 2 ", lambda d: d / "cut.dp", "iter",
     r"frame 2 at byte offset \d+: record is truncated \(100 of \d+ bytes present\)"),
    ("frame-checksum", "one bit flipped in frame 1", lambda d: d / "flipped.dp", 1,
     r"frame 1 at byte offset \d+: checksum mismatch \(corrupted frame\)"),
    ("frame-magic", "frame 1's record magic overwritten",
     lambda d: _patched(d, "magic.dp", _set(lambda r: r[1], b"XXXX")), 1,
     r"frame 1 at byte offset \d+: bad record magic b'XXXX' \(corrupted data\)"),
    ("frame-length", "frame 1's length field set to 2^30",
     lambda d: _patched(d, "flen.dp", _set(lambda r: r[1] + 4, struct.pack("<I", 1 << 30))), 1,
     r"frame 1 at byte offset \d+: record length 1073741824 is impossible for 56x40 uint8 \+ rgb frames"),
]


def dp_error(path: Path, how) -> Exception | None:
    from engine.io.dpfile import DPReader

    try:
        with DPReader(path) as r:
            if how == "iter":
                for _ in r:
                    pass
            elif isinstance(how, int):
                r[how]
    except Exception as e:   # noqa: BLE001 -- the test checks the type
        return e
    return None


@pytest.mark.parametrize("make, how, match", [c[2:] for c in DP_CASES], ids=[c[0] for c in DP_CASES])
def test_dp_reader_case(inputs, make, how, match):
    from engine.io.dpfile import DPFormatError

    path = make(inputs["IN"])
    e = dp_error(path, how)
    assert type(e) is DPFormatError, repr(e)
    msg = str(e)
    assert msg.startswith(f"{path}: ") and "\n" not in msg and re.search(match, msg), msg
    if how != "open":
        assert e.frame == (2 if how == "iter" else how) and f"frame {e.frame} at byte offset {e.offset}:" in msg


def dp_writer_full_disk_message(d: Path) -> str:
    """DPWriter's line when the disk fills up in the middle of frame 2."""
    from engine.io.dpfile import DPWriter

    class Full:
        def __init__(self, raw):
            self.raw = raw

        def __getattr__(self, name):
            return getattr(self.raw, name)

        def write(self, data):
            self.raw.write(bytes(data)[:10])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    w = DPWriter(d / "full.dp", width=W, height=H, bit_depth=8)
    for _ in range(2):
        w.write(np.zeros((H, W), np.uint8), np.zeros((H, W), np.uint8))
    w._f = Full(w._f)
    try:
        w.write(np.zeros((H, W), np.uint8), np.zeros((H, W), np.uint8))
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    finally:
        w.close()
    return "(no error)"


def test_dp_writer_full_disk_line(tmp_path):
    from engine.io.dpfile import DPReader

    line = dp_writer_full_disk_message(tmp_path)
    assert line == (f"DPWriteError: DPWriter: cannot write frame 2 to {tmp_path / 'full.dp'} (No space left on device); "
                    f"the file keeps its 2 complete frames")
    with DPReader(tmp_path / "full.dp") as r:
        assert len(r) == 2 and r.damage is None and len(list(r)) == 2


# ---------------------------------------------------------------- docs/bad-input.md from the real outputs

def _api_line(args, kwargs) -> str:
    from engine import Pipeline

    try:
        Pipeline(backend="ort-cpu", views=2)(*args(), **kwargs)
    except ValueError as e:
        return f"{type(e).__name__}: {e}"
    return "(no error)"


def write_doc(path: Path = ROOT / "docs" / "bad-input.md") -> None:
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = make_inputs(tmp / "IN")

        def clean(text: str, out: Path | None = None) -> str:
            text = text.replace(str(inputs["IN"]), "IN")
            return (text.replace(str(out), "OUT") if out is not None else text).replace("|", "\\|")

        for case in CASES:
            out = tmp / f"OUT-{case.id}"
            why = case.skip()
            if why:
                rows.append(f"| `{case.id}` | {case.what} | | (not run here: {why}) |")
                continue
            res = run_case(case, inputs, out)
            args = " ".join(a.format(IN="IN", OUT="OUT", **{k: v for k, v in inputs.items() if k != "IN"})
                            for a in case.args)
            lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
            shown = "<br>".join(f"`{clean(ln, out)}`" for ln in lines) if lines else f"(stdout) `{clean(res.stdout.strip(), out)}`"
            rows.append(f"| `{case.id}` | {case.what}: `dplf-run {args}` | {res.returncode} | {shown} |")
        api_rows = [f"| `{name}` | `{clean(_api_line(a, k))}` |" for name, a, k, _ in API_BAD]
        dp_rows = []
        for name, what, make, how, _ in DP_CASES:
            e = dp_error(make(inputs["IN"]), how)
            call = {"open": "`DPReader(f)`", "iter": "`list(DPReader(f))`"}.get(how, f"`DPReader(f)[{how}]`")
            dp_rows.append(f"| `{name}` | {what} | {call} | `{clean(f'{type(e).__name__}: {e}')}` |")
        writer = dp_writer_full_disk_message(tmp).replace(str(tmp / "full.dp"), "FILE.dp")
    text = DOC_TEMPLATE.format(cli="\n".join(rows), api="\n".join(api_rows), dp="\n".join(dp_rows),
                               writer=writer)
    path.write_text(text)
    print(f"wrote {path}")


DOC_TEMPLATE = """# Bad input and faults: what dplf says

Every user-facing entry point fails on bad input with **one line** (what, where, what to do), exit
code **2** for bad input or an unusable environment (130 for Ctrl-C), no traceback, and nothing already written
is lost. This page is generated from the real outputs by `python tests/engine/test_bad_input.py`; the same
cases are tests (`tests/engine/test_bad_input.py`, `tests/engine/io/test_dpfile_fuzz.py`). `IN` and `OUT` stand
for the input and output folders of the run. Run on a machine without a GPU.

## `dplf-run`

| case | input | exit | stderr |
|---|---|---|---|
{cli}

What stays on disk:
- Bad input found before any work (paths, options, backends, headers, sizes) fails **before `OUT` is created**.
- A used `OUT` (a previous run, or other files) is refused unless `--overwrite`; with it, the previous run's
  files (and only those) are deleted once the input and backend have been checked (docs/outputs.md).
- A bad frame in the middle (`truncated-frame`, `corrupted-frame`): every earlier frame is complete (PFM + views),
  `manifest.json` lists them with `"status": "failed"`; `--on-error skip` goes past it, lists it in `"skipped"`
  and exits 0.
- A full disk (`full-disk`): the files of every earlier frame are complete; each file is written under a
  temporary name and renamed, so `manifest.json` is always a whole file. When the disk stays full it cannot be
  updated any more: it is the one written after the last complete frame (`"status": "running"`, `"frames"` =
  the frames on disk). When space is freed in time it says `"failed"`. The error keeps `errno` (ENOSPC) for
  API callers of `engine.run.run`.
- Ctrl-C: exit 130, `"status": "interrupted"`, the frames written so far are complete.
- An output folder that cannot be created or written (`unwritable-output`, `output-is-a-file`) fails before
  anything is written. Root ignores `chmod`, so as root that row is produced with EACCES simulated (in the
  subprocess, and in-process by `test_unwritable_output_in_process`).

## `engine.Pipeline` (arrays)

`pipe(left, right, rgb=None, black_level=..., white_level=...)` raises `ValueError` with one line:

| case | exception |
|---|---|
{api}

Accepted on purpose: any H x W of at least 8 x 8 (17 x 23 works: the networks see an edge-padded multiple of
16, outputs are cropped back); uint8, uint16 (also big-endian), float16/32/64 in [0, 1] (values within 1e-3
outside are clipped, on a copy); left/right floats of different precision. Refused: left and right of
different integer dtypes (the bit depth decides the scaling). An unknown backend is a `ValueError`, a GPU
backend on a machine without one a `BackendUnavailable` (a `RuntimeError`) naming what is missing. In
`pipe.stream(...)` a bad frame goes to `on_skip(index, exc)` with `on_error="skip"`, else it is raised.

## `.dp` files (`engine.io.dpfile`)

Every problem a `DPReader` finds is a `DPFormatError` (a `ValueError`) with one line starting with the file's
path; a problem in a frame says `frame N at byte offset O: ...` (and sets `.frame`, `.offset`), and the other
frames stay readable (`IN/` = the folder of the file):

| case | file | call | exception |
|---|---|---|---|
{dp}

- Other header checks: unsupported fps, bit depth, orientation, non-finite calibration numbers, JSON nested
  deeply enough to overflow the parser, more than 2^27 pixels per plane; other frame checks: wrong frame
  index, a plane table or payload that does not fit the record, a missing or repeated plane, an unknown codec
  or filter, a plane that does not inflate to exactly H x W samples (zlib bombs stop one byte past the plane
  size), a non-finite timestamp. `tests/test_dpfile_fuzz.py` fuzzes all of these.
- A footer or index that does not check out (checksum, counts that disagree, offsets that are not increasing
  inside the file) is ignored and the frames are found by scanning (`reader.recovered` is True).
- Bounded work: every length read from a file (metadata, record, index count, plane payload, inflated size) is
  checked against the file size and the caps in `engine/io/dpfile.py` (`MAX_HEADER_BYTES` 16 MiB,
  `MAX_SIDE` 32768, `MAX_PIXELS` 2^27, a record at most twice the raw frame + 1 MiB) before anything is
  allocated, so a damaged or crafted file never makes the reader allocate more than a real frame of the
  declared size needs.
- `DPWriter` writes each record with whole unbuffered writes. A full disk (or any write error) in frame 2:
  `{writer}` (it keeps `errno`); the partial record is cut off and `close()` writes no index, so readers find
  the complete frames by scanning. A writer killed mid-record leaves a file whose complete frames read back;
  its partial last record is reported as `frame N at byte offset O: record is truncated`.
"""


if __name__ == "__main__":
    write_doc()

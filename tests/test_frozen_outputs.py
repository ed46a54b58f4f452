"""Behaviour is frozen across refactors: `dplf-run` on the bundled sample and on HCI antinous gives the outputs
recorded before the architecture rework (tests/data/frozen_outputs.json + .npz).

Exact (SHA-256 of every frame's disparity and views) where the platform reproduces the recording; otherwise
within 1e-5 px in D and one uint8 level in the views, checked on the subsampled arrays kept in the .npz.
Regenerate only for an intended behaviour change: `python -m tests.test_frozen_outputs --write`.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.paths import DATA, DEMO, ROOT

REF_JSON = ROOT / "tests" / "data" / "frozen_outputs.json"
REF_NPZ = ROOT / "tests" / "data" / "frozen_outputs.npz"
STEP = 4                      # spatial subsampling of the arrays kept for the tolerance check
KEPT_VIEWS = (0, 6, 24, 42, 48)   # corners and centre of the 7x7 grid
KEPT_FRAMES = ("000000", "000001", "000035")
CASES = {
    "demo": dict(source="demo", args=["--format", "npy"]),
    "demo-layers": dict(source="demo", args=["--format", "npy", "--renderer", "layers", "--frames", "2"]),
    "antinous": dict(source="antinous", args=["--format", "npy"]),
}


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()


def _cli(*args) -> None:
    exe = [sys.executable, "-c", "import sys; from engine.cli import main; sys.argv[0] = 'dplf'; main()"]
    proc = subprocess.run([*exe, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr


def _source(name: str, tmp: Path) -> Path:
    if name == "demo":
        if not DEMO.is_file():
            pytest.skip("samples/demo.dp is missing")
        return DEMO
    folder = DATA / "hci" / "antinous"
    if not folder.is_dir():
        pytest.skip(f"real data not found at {folder}")
    dp = tmp / "antinous.dp"
    _cli("convert", folder, dp)
    return dp


def run_case(case: str, tmp: Path) -> tuple[dict, dict]:
    """Runs one case; returns ({frame key: digest}, {frame key: subsampled array})."""
    from engine.io.pfm import read_pfm

    spec = CASES[case]
    out = tmp / case
    _cli("run", "--input", _source(spec["source"], tmp), "--out", out, "--backend", "ort-cpu",
         "--precision", "fp32", *spec["args"])
    digests, arrays = {}, {}
    for pfm in sorted((out / "disparity").glob("*.pfm")):
        d = read_pfm(pfm)
        digests[f"D{pfm.stem}"] = _digest(d)
        if pfm.stem in KEPT_FRAMES:
            arrays[f"{case}/D{pfm.stem}"] = d[::STEP, ::STEP]
    for npy in sorted((out / "views").glob("*.npy")):
        v = np.load(npy)
        digests[f"V{npy.stem}"] = _digest(v)
        if npy.stem in KEPT_FRAMES:
            arrays[f"{case}/V{npy.stem}"] = v.reshape(-1, *v.shape[2:])[list(KEPT_VIEWS), ::STEP, ::STEP]
    return digests, arrays


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_outputs_match_the_recording(case, tmp_path, request):
    if CASES[case]["source"] == "antinous":
        request.node.add_marker(pytest.mark.data)
    recorded = json.loads(REF_JSON.read_text())[case]
    digests, arrays = run_case(case, tmp_path)
    assert sorted(digests) == sorted(recorded), "a different set of frames was written"
    if digests == recorded:
        return
    ref = np.load(REF_NPZ)
    assert sorted(arrays) == sorted(k for k in ref.files if k.startswith(f"{case}/"))
    for key, got in arrays.items():
        want = ref[key]
        assert got.shape == want.shape, key
        if key.split("/")[1].startswith("D"):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=key)
        else:
            assert np.abs(got.astype(np.int16) - want.astype(np.int16)).max() <= 1, key


def _write(tmp: Path) -> None:
    all_digests, all_arrays = {}, {}
    for case in CASES:
        all_digests[case], arrays = run_case(case, tmp)
        all_arrays.update(arrays)
    REF_JSON.parent.mkdir(parents=True, exist_ok=True)
    REF_JSON.write_text(json.dumps(all_digests, indent=1, sort_keys=True) + "\n")
    np.savez_compressed(REF_NPZ, **all_arrays)
    print(f"wrote {REF_JSON} and {REF_NPZ}")


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp))

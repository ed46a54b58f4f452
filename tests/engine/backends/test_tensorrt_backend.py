"""`trt` backend and its engine cache (engine/backends/tensorrt_engine_cache.py): probe, engine cache key and
rebuild decisions, `dplf export --trt` without TensorRT (these run anywhere); engine build + ONNX Runtime parity
(skipped without TensorRT and a GPU)."""
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from engine.backends.base import BackendUnavailable
from engine.backends.tensorrt_backend import TrtBackend
from engine.backends import tensorrt_engine_cache as tc
from export import trt_build as tb

from tests.paths import ROOT
WEIGHTS = ROOT / "models" / "weights"
TRT_LINE = "dplf export --trt needs TensorRT: pip install 'dplf[tensorrt]' on a machine with an NVIDIA GPU"


def _has_tensorrt() -> bool:
    try:
        import tensorrt  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


HAS_TRT = _has_tensorrt()
TRT_OK = HAS_TRT and TrtBackend.probe().ok
needs_trt = pytest.mark.skipif(not TRT_OK, reason="needs TensorRT, CuPy and an NVIDIA GPU")


# -- probe ------------------------------------------------------------------------------------------
def test_probe_without_tensorrt_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)   # import tensorrt -> ImportError
    p = TrtBackend.probe()
    assert not p.ok and "pip install 'dplf[tensorrt]'" in p.reason


def test_probe_without_cupy_or_gpu_never_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.9.0.1"))
    monkeypatch.setitem(sys.modules, "cupy", None)
    p = TrtBackend.probe()
    assert not p.ok and "CuPy" in p.reason

    def no_driver():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake_cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(
        getDeviceCount=no_driver)))
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    p = TrtBackend.probe()
    assert not p.ok and "no CUDA GPU" in p.reason and "cudaErrorNoDevice" in p.reason


@pytest.mark.skipif(TRT_OK, reason="TensorRT works here")
def test_probe_here_is_false_and_load_refuses_in_one_line():
    p = TrtBackend.probe()
    assert p.ok is False and p.reason
    with pytest.raises(BackendUnavailable, match="backend 'trt' cannot run here") as err:
        TrtBackend("fp16").load(WEIGHTS / "dp-disparity-v1.onnx")
    assert "\n" not in str(err.value)


def test_backend_class_contract():
    assert (TrtBackend.name, TrtBackend.device, TrtBackend.precisions) == ("trt", "cuda", ("fp16", "fp32"))
    with pytest.raises(ValueError, match="precision"):
        TrtBackend("int8")


# -- cache key and decisions ------------------------------------------------------------------------
def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_engine_key_is_stable_and_covers_every_input():
    base = {"onnx_sha256": _sha(b"model"), "compute_capability": "90", "trt_version": "10.9.0.34",
            "precision": "fp16", "profile": tc.DEFAULT_PROFILE}
    key = tc.engine_key(**base)
    assert key == tc.engine_key(**base) and len(key) == 64
    assert key == tc.engine_key(**{**base, "profile": [[32, 32], [192, 256], [1088, 1920]]})  # lists == tuples
    for change in ({"onnx_sha256": _sha(b"model!")}, {"compute_capability": "89"},
                   {"trt_version": "10.9.0.35"}, {"precision": "fp32"},
                   {"profile": ((32, 32), (192, 256), (1088, 1088))}):
        assert tc.engine_key(**{**base, **change}) != key, change


def _expected(**kw):
    args = {"onnx_sha256": _sha(b"model"), "compute_capability": "90", "trt_version": "10.9.0.34",
            "precision": "fp16", "profile": tc.DEFAULT_PROFILE}
    return tc.expected_fields(**{**args, **kw})


def test_cache_decision_says_why_it_rebuilds():
    want = _expected()
    assert tc.cache_decision(None, want) == (False, "rebuild: no cached engine")
    assert tc.cache_decision(json.loads(json.dumps(want)), want) == (True, "cached engine matches")
    cases = {
        "compute_capability": ("80", "compute capability sm_80, this GPU is sm_90"),
        "tensorrt": ("10.3.0.26", "TensorRT 10.3.0.26, this is TensorRT 10.9.0.34"),
        "onnx_sha256": (_sha(b"old"), "the ONNX changed"),
        "precision": ("fp32", "built for fp32, fp16 requested"),
        "profile": ([[32, 32], [64, 64], [512, 512]], "profile"),
    }
    for field, (old, reason) in cases.items():
        use, why = tc.cache_decision({**want, field: old}, want)
        assert not use and why.startswith("rebuild: ") and reason in why, (field, why)


def _fake_engine(cache, onnx, fields, payload=b"not really an engine"):
    path = tc.engine_file(cache, onnx, fields["precision"], fields["key"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    path.with_suffix(".json").write_text(json.dumps(fields))
    return path


def test_plan_engine_reuses_a_match_and_explains_a_mismatch(tmp_path):
    onnx = tmp_path / "dp-disparity-v1.onnx"
    here = _expected()
    path, use, why = tc.plan_engine(tmp_path / "cache", onnx, here)
    assert (use, why) == (False, "rebuild: no cached engine")
    assert path.name == f"dp-disparity-v1.fp16-{here['key'][:16]}.engine"

    _fake_engine(tmp_path / "cache", onnx, _expected(compute_capability="80"))   # built on another GPU
    _, use, why = tc.plan_engine(tmp_path / "cache", onnx, here)
    assert not use and "compute capability sm_80, this GPU is sm_90" in why

    mine = _fake_engine(tmp_path / "cache", onnx, here)
    assert tc.plan_engine(tmp_path / "cache", onnx, here) == (mine, True, "cached engine matches")

    mine.with_suffix(".json").write_text(json.dumps({**here, "tensorrt": "10.0.0.6"}))   # sidecar disagrees
    _, use, why = tc.plan_engine(tmp_path / "cache", onnx, here)
    assert not use and "TensorRT 10.0.0.6" in why
    mine.with_suffix(".json").unlink()                                                   # no sidecar: never run
    assert tc.plan_engine(tmp_path / "cache", onnx, here)[1:] == (False, "rebuild: no cached engine")


def test_profile_parsing_and_validation(monkeypatch):
    assert tc.parse_profile("32x32,192x256,1088x1920") == tc.DEFAULT_PROFILE
    assert tc.profile_text(tc.DEFAULT_PROFILE) == "32x32,192x256,1088x1920"
    for bad in ("32x32,192x256", "32x32,192x250,1088x1920", "64x64,32x32,128x128", "axb,1x1,2x2"):
        with pytest.raises(ValueError, match="profile"):
            tc.parse_profile(bad)
    monkeypatch.setenv("DPLF_TRT_PROFILE", "16x16,64x64,256x256")
    assert tc.default_profile() == ((16, 16), (64, 64), (256, 256))
    monkeypatch.setenv("DPLF_CACHE", str(Path("/tmp/some/cache")))
    assert tc.default_cache_dir() == Path("/tmp/some/cache")


def test_build_source_follows_tensorrt_major(tmp_path):
    for name in ("m-v1.onnx", "m-v1.fp16.onnx"):
        (tmp_path / name).write_bytes(b"x")
    fp32, fp16 = tmp_path / "m-v1.onnx", tmp_path / "m-v1.fp16.onnx"
    assert tc.source_onnx(fp16, "fp16", "10.9.0") == fp32    # TRT 10: FP16 flag on the FP32 ONNX
    assert tc.source_onnx(fp32, "fp16", "11.0.0") == fp16    # TRT 11: strongly typed FP16 ONNX
    assert tc.source_onnx(fp16, "fp32", "11.0.0") == fp32
    fp16.unlink()
    with pytest.raises(BackendUnavailable, match="m-v1.fp16.onnx, which is missing"):
        tc.source_onnx(fp32, "fp16", "11.2.1")
    assert tc.model_stem("a/dp-disparity-v1.fp16.onnx") == tc.model_stem("dp-disparity-v1.onnx") == "dp-disparity-v1"


def test_example_feeds_and_table():
    feeds = tb.example_feeds({"dp": (1, 2, 32, 48), "rgb": (1, 3, 32, 48), "disparity": (1, 1, 32, 48)})
    assert {k: (v.shape, v.dtype) for k, v in feeds.items()} == {
        "dp": ((1, 2, 32, 48), np.float32), "rgb": ((1, 3, 32, 48), np.float32),
        "disparity": ((1, 1, 32, 48), np.float32)}
    assert 0 <= feeds["dp"].min() and feeds["dp"].max() <= 1
    rep = {"model": "dp-disparity-v1", "shape": [192, 256], "atol": 0.05, "rtol": 0.05, "passed": True,
           "outputs": {"disparity": {"max_abs": 0.01, "mean_abs": 0.001, "bad_fraction": 0.0, "passed": True}}}
    table = tb.comparison_table([rep])
    assert "dp-disparity-v1" in table and "192x256" in table and " ok " in table


# -- dplf export --trt without TensorRT ---------------------------------------------------------------
@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
@pytest.mark.parametrize("flag", ["--trt", "--trt-compare"])
def test_export_trt_without_tensorrt_fails_in_one_line(tmp_path, flag):
    pytest.importorskip("export.cli", reason="`dplf export` comes from export/cli.py (dplf.commands entry point)")
    cmd = [sys.executable, "-c", "from engine.cli import main; main()", "export", flag, "--weights", str(tmp_path)]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "CI": "1"})
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == TRT_LINE
    assert list(tmp_path.iterdir()) == []   # failed before exporting anything


# -- with TensorRT and a GPU (skipped here) -----------------------------------------------------------
SMALL = ((32, 32), (64, 96), (256, 256))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("trt-cache")
    return cache, tc.load_or_build(WEIGHTS / "dp-disparity-v1.onnx", "fp16", cache, SMALL)


@pytest.mark.gpu
@needs_trt
def test_build_writes_engine_sidecar_and_timing_cache(built):
    cache, engine = built
    side = tc.read_sidecar(engine)
    assert side["precision"] == "fp16" and side["profile"] == [list(s) for s in SMALL]
    assert side["onnx_sha256"] == tc.sha256_file(WEIGHTS / "dp-disparity-v1.onnx")
    assert list(cache.glob("timing-sm*-trt*.cache"))
    mtime = engine.stat().st_mtime_ns
    assert tc.load_or_build(WEIGHTS / "dp-disparity-v1.onnx", "fp16", cache, SMALL) == engine
    assert engine.stat().st_mtime_ns == mtime   # reused, not rebuilt


@pytest.mark.gpu
@needs_trt
def test_session_matches_onnxruntime_cpu(built):
    import onnxruntime as ort

    cache, _ = built
    sess = TrtBackend("fp16", cache_dir=cache, profile=SMALL).load(WEIGHTS / "dp-disparity-v1.fp16.onnx")
    assert sess.input_names == ("dp",) and sess.output_names == ("disparity",) and sess.device_io
    assert sess.metadata.get("model_name", "dp-disparity-v1") == "dp-disparity-v1"
    feeds = tb.example_feeds({"dp": (1, 2, 64, 96)}, seed=3)
    ref = ort.InferenceSession(str(WEIGHTS / "dp-disparity-v1.onnx"), providers=["CPUExecutionProvider"]).run(
        None, feeds)[0]
    got = sess.run(feeds)["disparity"]
    assert got.shape == ref.shape and got.dtype == np.float32
    err = np.abs(got - ref)
    assert float(np.mean(err <= 5e-2 + 5e-2 * np.abs(ref))) > 0.999, float(err.max())

    import cupy

    stream = cupy.cuda.Stream(non_blocking=True)
    dev = {"dp": cupy.asarray(feeds["dp"])}
    out1 = sess.run_device(dev, stream)["disparity"]
    out2 = sess.run_device(dev, stream)["disparity"]
    stream.synchronize()
    assert out1 is out2   # session-owned, reused buffer
    np.testing.assert_allclose(cupy.asnumpy(out2), got, atol=1e-3)
    with pytest.raises(ValueError, match="outside the TensorRT engine's profile"):
        sess.run({"dp": np.zeros((1, 2, 512, 512), np.float32)})


@pytest.mark.gpu
@needs_trt
def test_polygraphy_comparison_passes(built):
    pytest.importorskip("polygraphy")
    _, engine = built
    rep = tb.compare_with_onnxruntime(WEIGHTS / "dp-disparity-v1.onnx", engine, "fp16")
    assert set(rep["outputs"]) == {"disparity"} and rep["shape"] == [64, 96]
    assert rep["outputs"]["disparity"]["max_abs"] < 1.0, tb.comparison_table([rep])


@pytest.mark.gpu
@needs_trt
def test_corrupt_engine_is_refused_in_one_line(tmp_path):
    from engine.backends.tensorrt_backend import TrtSession

    bad = tmp_path / "broken.engine"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(BackendUnavailable, match="delete it or run `dplf export --trt`") as err:
        TrtSession(bad)
    assert "\n" not in str(err.value)


# -- TrtSession's CuPy plumbing against a stand-in for TensorRT (needs CuPy and a GPU, not TensorRT) ------
def _cupy_gpu():
    try:
        import cupy

        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # noqa: BLE001
        return None


def _fake_tensorrt(cupy, io_dtype):
    """Just enough of the tensorrt module for TrtSession: one engine, input dp [1, 2, H, W] -> output
    disparity = dp[:, :1] - dp[:, 1:], computed on the stream handed to execute_async_v3."""
    ns = types.SimpleNamespace
    shapes, ptrs = {}, {}

    def view(name, shape):
        n = int(np.prod(shape)) * np.dtype(io_dtype).itemsize
        mem = cupy.cuda.UnownedMemory(ptrs[name], n, owner=None)
        return cupy.ndarray(shape, io_dtype, cupy.cuda.MemoryPointer(mem, 0))

    def execute(stream_ptr):   # TrtSession enqueues inside `with stream:`, so CuPy's current stream is it
        assert stream_ptr == cupy.cuda.get_current_stream().ptr
        x = view("dp", shapes["dp"])
        view("disparity", (1, 1, *shapes["dp"][2:]))[...] = x[:, :1] - x[:, 1:]
        return True

    ctx = ns(set_input_shape=lambda n, s: shapes.__setitem__(n, tuple(s)) or True,
             get_tensor_shape=lambda n: (1, 1, *shapes["dp"][2:]),
             set_tensor_address=lambda n, p: ptrs.__setitem__(n, p) or True,
             execute_async_v3=execute)
    names = ["dp", "disparity"]

    def logger(level):
        return None

    logger.WARNING = 2
    engine = ns(num_io_tensors=2, get_tensor_name=names.__getitem__,
                get_tensor_mode=lambda n: "in" if n == "dp" else "out",
                get_tensor_dtype=lambda n: io_dtype,
                get_tensor_profile_shape=lambda n, i: [(1, 2, 16, 16), (1, 2, 32, 32), (1, 2, 64, 64)],
                create_execution_context=lambda: ctx)
    return ns(__version__="11.0.0", Logger=logger, TensorIOMode=ns(INPUT="in", OUTPUT="out"),
              nptype=lambda d: d,
              Runtime=lambda logger: ns(deserialize_cuda_engine=lambda b: engine if b == b"fake" else None))


@pytest.mark.gpu
@pytest.mark.skipif(_cupy_gpu() is None, reason="needs CuPy and a CUDA GPU")
@pytest.mark.parametrize("io_dtype", [np.float32, np.float16])   # TensorRT 10 fp16 / TensorRT 11 fp16 I/O
def test_session_buffers_with_a_stand_in_engine(tmp_path, monkeypatch, io_dtype):
    import cupy

    from engine.backends.tensorrt_backend import TrtSession

    fake = _fake_tensorrt(cupy, io_dtype)
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    (tmp_path / "m.engine").write_bytes(b"fake")
    sess = TrtSession(tmp_path / "m.engine", {"model_name": "m"})
    assert (sess.input_names, sess.output_names, sess.device_io) == (("dp",), ("disparity",), True)

    dp = np.random.default_rng(0).random((1, 2, 32, 48), dtype=np.float32)
    want = dp[:, :1] - dp[:, 1:]
    tol = 1e-6 if io_dtype == np.float32 else 2e-3
    got = sess.run({"dp": dp})["disparity"]
    assert got.dtype == np.float32 and got.shape == (1, 1, 32, 48)
    np.testing.assert_allclose(got, want, atol=tol)
    assert sess.run({"dp": dp})["disparity"] is got    # host buffers reused while the shape stays

    stream = cupy.cuda.Stream(non_blocking=True)
    feeds = {"dp": cupy.asarray(dp)}
    out = sess.run_device(feeds, stream)["disparity"]
    again = sess.run_device(feeds, stream)["disparity"]
    stream.synchronize()
    assert again is out and out.dtype == np.float32
    np.testing.assert_allclose(cupy.asnumpy(out), want, atol=tol)

    small = np.ascontiguousarray(dp[..., :16, :32])    # new shape: new buffers, right answer
    np.testing.assert_allclose(sess.run({"dp": small})["disparity"], small[:, :1] - small[:, 1:], atol=tol)
    with pytest.raises(ValueError, match="outside the TensorRT engine's profile"):
        sess.run({"dp": np.zeros((1, 2, 128, 128), np.float32)})
    with pytest.raises(ValueError, match="C-contiguous float32 CuPy array"):
        sess.run_device({"dp": cupy.asarray(dp, dtype=cupy.float16)}, stream)
    with pytest.raises(BackendUnavailable, match="delete it or run `dplf export --trt`"):
        (tmp_path / "bad.engine").write_bytes(b"junk")
        TrtSession(tmp_path / "bad.engine")

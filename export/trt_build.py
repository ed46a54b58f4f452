"""`dplf export --trt`: build (or reuse) TensorRT engines for the exported ONNX and compare them with ONNX
Runtime. Building and caching live in the runtime (engine/backends/tensorrt_engine_cache.py), so the `trt`
backend and this command share one cache and one set of rules.

    path = load_or_build("models/weights/dp-disparity-v1.onnx", "fp16")
    report = compare_with_onnxruntime("models/weights/dp-disparity-v1.onnx", path, precision="fp16")
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.backends.base import BackendUnavailable
from engine.backends.tensorrt_engine_cache import (
    DEFAULT_PROFILE,
    INSTALL_HINT,
    Profile,
    Shape,
    import_tensorrt,
    load_or_build,
    model_stem,
    parse_profile,
    read_sidecar,
    source_onnx,
)

__all__ = [
    "TOLERANCES",
    "compare_with_onnxruntime",
    "comparison_table",
    "example_feeds",
    "export_engines",
    "load_or_build",
    "parse_profile",
]

TOLERANCES = {"fp16": (5e-2, 5e-2), "fp32": (1e-2, 1e-2)}   # (atol, rtol); disparity in px


# -- comparison against ONNX Runtime (polygraphy) ----------------------------------------------------
def example_feeds(shapes: dict[str, tuple], seed: int = 0) -> dict[str, np.ndarray]:
    """Float32 inputs by name: `disparity` ~ 4 px Gaussian noise, the rest smooth textures in [0, 1] (a DP
    pair with 2 px parallax for `dp`), so matching-based models see something to match."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, (n, c, h, w) in shapes.items():
        if name == "disparity":
            feeds[name] = (4.0 * rng.standard_normal((n, c, h, w))).astype(np.float32)
            continue
        base = rng.random((n, 1 if name == "dp" else c, h + 8, w + 8))
        k = np.ones(5) / 5   # separable 5-tap box blur
        base = np.apply_along_axis(np.convolve, -1, base, k, "same")
        base = np.apply_along_axis(np.convolve, -2, base, k, "same")
        if name == "dp":
            base = np.concatenate([base[..., 2:2 + h, 2:2 + w], base[..., 2:2 + h, 0:w]], 1)
        else:
            base = base[..., 4:4 + h, 4:4 + w]
        feeds[name] = np.ascontiguousarray(base, dtype=np.float32)
    return feeds


def compare_with_onnxruntime(onnx_path, engine_path, precision: str = "fp16", shape: Shape | None = None,
                             atol: float | None = None, rtol: float | None = None, seed: int = 0) -> dict:
    """Run the engine (polygraphy TrtRunner(EngineFromBytes)) and the FP32 ONNX on CPU (OnnxrtRunner(
    SessionFromOnnx)) on the same random inputs at `shape` (H, W; default the profile's opt).

    Pass when every element has |trt - ort| <= atol + rtol * |ort| (polygraphy's elementwise rule).
    Returns {"model", "engine", "shape", "atol", "rtol", "passed",
             "outputs": {name: {"max_abs", "mean_abs", "bad_fraction", "passed"}}}."""
    trt = import_tensorrt()
    try:
        from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx
        from polygraphy.backend.trt import EngineFromBytes, TrtRunner
    except ImportError as exc:
        raise BackendUnavailable(f"the TensorRT comparison needs polygraphy ({exc}); {INSTALL_HINT}") from exc
    d_atol, d_rtol = TOLERANCES.get(precision, TOLERANCES["fp32"])
    atol, rtol = d_atol if atol is None else atol, d_rtol if rtol is None else rtol
    engine_path = Path(engine_path)
    h, w = shape or tuple((read_sidecar(engine_path) or {}).get("profile", DEFAULT_PROFILE)[1])
    engine = EngineFromBytes(engine_path.read_bytes())()
    if engine is None:
        raise BackendUnavailable(f"TensorRT could not deserialise {engine_path}; delete it or run `dplf export --trt`")
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    dtypes = {n: np.dtype(trt.nptype(engine.get_tensor_dtype(n))) for n in names}
    feeds = example_feeds({n: (1, engine.get_tensor_shape(n)[1], h, w) for n in inputs}, seed)
    with TrtRunner(engine) as trt_run, OnnxrtRunner(SessionFromOnnx(str(onnx_path), providers=["cpu"])) as ort_run:
        got = trt_run.infer({n: x.astype(dtypes[n]) for n, x in feeds.items()})
        ref = ort_run.infer(feeds)
    outputs = {}
    for name, r in ref.items():
        r = np.asarray(r, dtype=np.float32)
        g = np.asarray(got[name], dtype=np.float32)
        if g.shape != r.shape:
            raise ValueError(f"{engine_path.name}: output {name!r} shape {g.shape} != ONNX Runtime {r.shape}")
        err = np.abs(g - r)
        bad = float(np.mean(err > atol + rtol * np.abs(r)))
        outputs[name] = {"max_abs": float(err.max()), "mean_abs": float(err.mean()), "bad_fraction": bad,
                         "passed": bad == 0.0}
    return {"model": model_stem(onnx_path), "engine": str(engine_path), "shape": [h, w], "atol": atol,
            "rtol": rtol, "passed": all(o["passed"] for o in outputs.values()), "outputs": outputs}


def comparison_table(reports: list[dict]) -> str:
    """A plain-text table of compare_with_onnxruntime results, one row per output."""
    rows = [f"{'model':18s} {'output':10s} {'H x W':>10s} {'max |d|':>10s} {'mean |d|':>10s} {'bad %':>7s}  result"]
    for rep in reports:
        for name, o in rep["outputs"].items():
            rows.append(f"{rep['model']:18s} {name:10s} {'{}x{}'.format(*rep['shape']):>10s} "
                        f"{o['max_abs']:10.4g} {o['mean_abs']:10.4g} {100 * o['bad_fraction']:7.3f}  "
                        f"{'ok' if o['passed'] else 'FAIL'} (atol {rep['atol']:g}, rtol {rep['rtol']:g})")
    return "\n".join(rows)


def export_engines(onnx_paths, precision: str = "fp16", cache_dir=None, profile: Profile | None = None,
                   compare: bool = False, echo=print) -> bool:
    """`dplf export --trt [--trt-compare]`: build (or reuse) an engine for every exported FP32 ONNX.
    Prints one JSON line per engine (and the comparison table); returns False if a comparison failed."""
    trt = import_tensorrt()
    reports = []
    for onnx_path in onnx_paths:
        src = source_onnx(onnx_path, precision, trt.__version__)
        engine = load_or_build(src, precision, cache_dir, profile)
        echo(json.dumps({"engine": str(engine), **{k: v for k, v in (read_sidecar(engine) or {}).items()
                                                   if k in ("onnx", "precision", "tensorrt", "compute_capability",
                                                            "profile", "build_s")}}))
        if compare:
            reports.append(compare_with_onnxruntime(onnx_path, engine, precision))
    if reports:
        echo(comparison_table(reports))
    return all(r["passed"] for r in reports)

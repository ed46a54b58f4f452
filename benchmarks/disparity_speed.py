"""The disparity stage alone against OpenCV SGBM, for benchmarks/speed.py (docs/benchmarks.md, "speed.py").

On one frame, in one process, with the same threads: `engine.Pipeline(views=0)` with the chosen DP model and
backend (its `disparity` stage: the DP network plus the crop of its output; `preprocess` is reported beside
it), and `sgbm_disparity` with the SGBM baseline's settings (benchmarks/baselines/dibr_baseline.py,
`SgbmDibr`'s max_disparity and upscale). The two run interleaved, alternating which goes first, so that load
changes on a shared machine hit both alike. The ratio is disparity stage / SGBM (below 1: faster than SGBM).

    python benchmarks/speed.py --disparity-row only --dp-model dp-disparity-v1
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.latency import latency_summary  # noqa: E402

NAME = "disparity-vs-sgbm"
DEFAULT_SIZE = (192, 256)   # (height, width)
DEFAULT_THREADS = 2


def _summary(values: list[float]) -> dict:
    return {**latency_summary(values), "mean": round(float(np.mean(values)), 3)}


def bench_disparity_vs_sgbm(backend: str = "ort-cpu", size=DEFAULT_SIZE, threads: int = DEFAULT_THREADS,
                            iters: int = 30, warmup: int = 3, max_seconds: float = 60.0, frame=None,
                            dp_model: str | None = None, models_dir=None, cost=None, min_iters: int = 3) -> dict:
    """One row: the pipeline's disparity stage and SGBM timed interleaved on `frame` (left, right, rgb) at `size`.

    cost: optional (pipeline info, height, width) -> (params, GMACs) of the DP model.
    The row's latency_ms is the disparity stage's; metrics carry SGBM's times and the ratios.
    """
    import cv2

    from benchmarks.baselines.dibr_baseline import SgbmDibr, sgbm_disparity
    from engine import Pipeline

    h, w = size
    if frame is None:
        from benchmarks.common import input_frame

        frame = input_frame(h, w)[:3]
    left, right, rgb = frame
    base = SgbmDibr()
    settings = {"max_disparity": base.max_disparity, "upscale": base.upscale}
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        pipe = Pipeline(backend=backend, views=0, threads=threads, models_dir=models_dir, dp_model=dp_model)

        def run_pipe() -> dict:
            return dict(pipe(left, right, rgb).timings)

        def run_sgbm() -> float:
            t = time.perf_counter()
            sgbm_disparity(left, right, **settings)
            return (time.perf_counter() - t) * 1e3

        for _ in range(warmup):
            run_pipe()
            run_sgbm()
        laps, sgbm_ms, start = [], [], time.perf_counter()
        for i in range(iters):
            if i % 2:
                sgbm_ms.append(run_sgbm())
                laps.append(run_pipe())
            else:
                laps.append(run_pipe())
                sgbm_ms.append(run_sgbm())
            if i + 1 >= min_iters and time.perf_counter() - start > max_seconds:
                break
    finally:
        cv2.setNumThreads(cv_threads)
    info = pipe.info()
    name = next(iter(info["models"]))
    stages = {s: _summary([lap[s] for lap in laps]) for s in ("preprocess", "disparity", "total")}
    disp = [lap["disparity"] for lap in laps]
    sgbm = _summary(sgbm_ms)
    params, gmacs = cost(info, h, w) if cost is not None else (None, None)
    metrics = {"dp_model": name, "threads": threads, "sgbm": settings, "sgbm_ms": sgbm,
               "ratio_p50": round(stages["disparity"]["p50"] / sgbm["p50"], 3),
               "ratio_mean": round(stages["disparity"]["mean"] / sgbm["mean"], 3),
               "ratio_paired_median": round(float(np.median(np.divide(disp, sgbm_ms))), 3),
               "ratio_preprocess_disparity_p50": round(
                   float(np.median([lap["preprocess"] + lap["disparity"] for lap in laps])) / sgbm["p50"], 3),
               "order": "interleaved, alternating which runs first", "input_dtype": np.asarray(left).dtype.name}
    return {"name": NAME, "kind": "disparity", "backend": info["backend"], "precision": info["precision"],
            "height": h, "width": w, "views": 0, "fps": round(1e3 / stages["total"]["mean"], 3),
            "iters": len(laps), "latency_ms": {k: stages["disparity"][k] for k in ("p50", "p95", "p99")},
            "stages_ms": stages, "params": params, "gmacs": None if gmacs is None else round(gmacs, 3),
            "models": {name: {"sha256": info["models"][name].get("sha256")}}, "metrics": metrics}


def describe(row: dict) -> str:
    """One line: the disparity stage's p50 against SGBM's and the ratio."""
    m = row["metrics"]
    return (f"{row['width']}x{row['height']} disparity stage of {m['dp_model']}/{row['backend']} "
            f"({m['threads']} threads): p50 {row['latency_ms']['p50']:.1f} ms vs OpenCV SGBM p50 "
            f"{m['sgbm_ms']['p50']:.1f} ms: {m['ratio_p50']:.2f}x SGBM's time "
            f"(mean {m['ratio_mean']:.2f}x, paired median {m['ratio_paired_median']:.2f}x; "
            f"with preprocessing {m['ratio_preprocess_disparity_p50']:.2f}x)")

"""The timing loop and the row dict shared by every speed row (benchmarks/speed.py, classical_speed.py)."""
from __future__ import annotations

import time

from engine.latency import latency_summary
from benchmarks.common import STAGES

MIN_ITERS = 3


def timed_loop(step, iters: int, warmup: int, max_seconds: float) -> tuple[list[dict], float]:
    """Run step() warmup times, then up to iters times (at least MIN_ITERS, stopping after max_seconds).

    step returns a dict stage -> ms. Returns (per-iteration stage timings, wall seconds of the timed part).
    """
    for _ in range(warmup):
        step()
    laps, start = [], time.perf_counter()
    for i in range(iters):
        laps.append(dict(step()))
        if i + 1 >= MIN_ITERS and time.perf_counter() - start > max_seconds:
            break
    return laps, time.perf_counter() - start


def make_row(name, kind, backend, precision, size, views, laps, wall, params, gmacs, **metrics) -> dict:
    """One result row (docs/benchmarks.md): FPS = iterations / wall, latency percentiles per stage."""
    h, w = size
    stages = {s: latency_summary([lap[s] for lap in laps if s in lap]) for s in STAGES}
    stages = {s: v for s, v in stages.items() if v["p50"] is not None}
    return {"name": name, "kind": kind, "backend": backend, "precision": precision, "height": h, "width": w,
            "views": views, "fps": round(len(laps) / wall, 3), "iters": len(laps),
            "latency_ms": {k: stages["total"][k] for k in ("p50", "p95", "p99")}, "stages_ms": stages,
            "params": params, "gmacs": None if gmacs is None else round(gmacs, 3), "metrics": metrics}

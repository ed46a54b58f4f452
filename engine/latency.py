"""Latency statistics over per-frame timings (ms): the one place percentiles are computed."""
from __future__ import annotations

import numpy as np

QUANTILES = (50, 95, 99)


def latency_summary(ms, extra: bool = False) -> dict:
    """{"p50", "p95", "p99", "mean"} (rounded to µs) of latencies in ms, NaNs ignored; with `extra` also "max" and
    "n". Empty input gives None for every statistic."""
    a = np.asarray(ms, np.float64).ravel()
    a = a[~np.isnan(a)]
    keys = [f"p{q}" for q in QUANTILES] + ["mean"] + (["max", "n"] if extra else [])
    if a.size == 0:
        return dict.fromkeys(keys)
    out = {f"p{q}": round(float(v), 3) for q, v in zip(QUANTILES, np.percentile(a, QUANTILES))}
    out["mean"] = round(float(a.mean()), 3)
    if extra:
        out["max"], out["n"] = round(float(a.max()), 3), int(a.size)
    return out


def stage_summaries(samples: dict, extra: bool = False) -> dict[str, dict]:
    """{stage: latency_summary} for every stage with at least one sample."""
    return {stage: latency_summary(v, extra) for stage, v in samples.items() if len(v)}

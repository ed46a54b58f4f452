"""The classical rows of benchmarks/speed.py: what a learned engine has to beat, timed in the same process.

- `sgbm`: OpenCV SGBM on the DP pair alone (the disparity a classical pipeline starts from);
- `sgbm-dibr`: SGBM + our occlusion-aware DIBR (`kernels.dibr.dibr_warp`), N x N views in the row's dtype;
- `remap-floor`: N x N plain `cv2.remap` backward warps of the RGB with a given D (bilinear, border replicate;
  no z-buffer, no hole fill), the cost floor of any per-view warp. D is SGBM's on the same frame, computed once
  outside the timing.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.baselines.dibr_baseline import SgbmDibr, dibr_kernel_name, remap_warper, sgbm_disparity
from benchmarks.timing import make_row, timed_loop
from engine.conventions import grid_positions


def _rgb_as(rgb: np.ndarray, dtype) -> np.ndarray:
    """The frame's RGB in the views' dtype (what an 8-bit camera hands over when uint8)."""
    if np.dtype(dtype) == np.uint8:
        return rgb if rgb.dtype == np.uint8 else np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    return rgb.astype(np.float32) / 255 if rgb.dtype == np.uint8 else rgb.astype(np.float32, copy=False)


def bench_sgbm_alone(size, iters: int, warmup: int, frame, max_seconds: float) -> dict:
    """SGBM disparity only (no views)."""
    left, right, _ = frame

    def step():
        t0 = time.perf_counter()
        sgbm_disparity(left, right)
        ms = (time.perf_counter() - t0) * 1e3
        return {"disparity": ms, "total": ms}

    laps, wall = timed_loop(step, iters, warmup, max_seconds)
    return make_row("sgbm", "baseline", "opencv-cpu", "fp32", size, 0, laps, wall, 0, None)


def bench_sgbm_dibr(size, views: int, iters: int, warmup: int, frame, max_seconds: float,
                    dtype=np.uint8) -> dict:
    """SGBM + our DIBR, views in `dtype`."""
    base = SgbmDibr(views=views, dtype=dtype)
    left, right, rgb = frame
    rgb = _rgb_as(rgb, dtype)

    def step():
        base(left, right, rgb)
        return base.timings

    laps, wall = timed_loop(step, iters, warmup, max_seconds)
    return make_row("sgbm-dibr", "baseline", "opencv-cpu", "fp32", size, views, laps, wall, 0, None,
                    renderer=dibr_kernel_name(), dtype=np.dtype(dtype).name)


def bench_remap_floor(size, views: int, iters: int, warmup: int, frame, max_seconds: float,
                      dtype=np.uint8) -> dict:
    """views x views cv2.remap backward warps of the RGB with SGBM's D, into a reused [P, H, W, 3] buffer."""
    left, right, rgb = frame
    rgb = _rgb_as(rgb, dtype)
    h, w = size
    d = np.ascontiguousarray(sgbm_disparity(left, right), np.float32)
    positions = grid_positions(views, 1.0).reshape(-1, 2)
    warp = remap_warper(d, positions, np.empty((len(positions), h, w, 3), np.dtype(dtype)))

    def step():
        t0 = time.perf_counter()
        warp(rgb)
        ms = (time.perf_counter() - t0) * 1e3
        return {"render": ms, "total": ms}

    laps, wall = timed_loop(step, iters, warmup, max_seconds)
    return make_row("remap-floor", "baseline", "opencv-cpu", "fp32", size, views, laps, wall, 0, None,
                    dtype=np.dtype(dtype).name, note="plain backward warps, no occlusion handling: a floor")


def bench_classical(size, views: int, iters: int, warmup: int, frame, max_seconds: float,
                    dtype=np.uint8) -> list[dict]:
    """The three classical rows at one size."""
    return [bench_sgbm_alone(size, iters, warmup, frame, max_seconds),
            bench_sgbm_dibr(size, views, iters, warmup, frame, max_seconds, dtype),
            bench_remap_floor(size, views, iters, warmup, frame, max_seconds, dtype)]


def render_ratios(rows: list[dict]) -> list[dict]:
    """Per size: each dplf row's render p50 over the remap floor's (the issue's render target is <= 2x)."""
    out = []
    for floor in (r for r in rows if r["name"] == "remap-floor"):
        base = floor["stages_ms"]["render"]["p50"]
        for r in rows:
            if r["kind"] == "dplf" and (r["height"], r["width"]) == (floor["height"], floor["width"]) \
                    and "render" in r["stages_ms"]:
                out.append({"name": r["name"], "backend": r["backend"], "height": r["height"], "width": r["width"],
                            "render_p50_ms": r["stages_ms"]["render"]["p50"], "remap_floor_p50_ms": base,
                            "ratio": round(r["stages_ms"]["render"]["p50"] / base, 3)})
    return out

"""CPU renderer times on random data (the kernels' own micro-benchmark; speed.py times whole pipelines).

    python benchmarks/cpu_kernels.py [--size 640x480] [--views 7] [--threads N] [--only dibr|layers]
                                     [--layers 3] [--rank 12] [--planes=-6.6,-2.5,2.2]

`bench_dibr` times dibr_warp's numba kernel and its numpy/OpenCV path against 49 plain `cv2.remap` backward
warps of the same frame (no z-buffer, no hole fill: a floor, not a target) at 256x192 and 640x480 and prints
the ratios; all in one process, median of `repeats`. `bench_render_layers` does the same for render_layers
(numba kernel, numpy/OpenCV path) at 256x192 and --size, L = 3, R = 12 as lf-layers-v1 produces.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baselines.dibr_baseline import remap_warper  # noqa: E402
from engine.conventions import grid_positions  # noqa: E402
from kernels.dibr import dibr_warp, warm_up  # noqa: E402
from kernels.render_layers import render_layers  # noqa: E402
from kernels.render_layers import warm_up as warm_up_layers  # noqa: E402


def bench_render_layers(sizes=((256, 192), (640, 480)), views: int = 7, L: int = 3, R: int = 12,
                        repeats: int = 5, threads: int | None = None, planes=None) -> dict:
    """ms per frame: render_layers numba (default and 1 thread) / numpy path and 49 cv2.remap warps of one
    [H, W, 3] image (the bench_dibr floor), per size and output dtype (printed and returned); the four are run
    interleaved, median of `repeats`.

    L = 3, R = 12 is what the shipped lf-layers-v1 produces (models/architectures/lf_layers_v1.py). Layers are
    random in [0, 1], planes linspace(-3, 3, L) + 0.37 px (fractional shifts everywhere) unless given (the
    shipped models on samples/demo.dp give about [-6.6, -2.5, 2.2])."""
    rng = np.random.default_rng(0)
    positions = grid_positions(views).reshape(-1, 2)
    warm_up_layers("numba")
    results = {}
    for width, height in sizes:
        layers = rng.random((L, R, 3, height, width), dtype=np.float32)
        planes = np.asarray(planes if planes is not None else np.linspace(-3, 3, L) + 0.37, np.float32)
        if planes.shape != (L,):
            raise ValueError(f"bench_render_layers: {L} planes needed, got {planes.shape}")
        rgb8, d = _dibr_scene(height, width, rng)   # the floor is bench_dibr's: 49 remaps by a per-pixel D
        for dtype in (np.uint8, np.float32):
            rgb = rgb8 if dtype == np.uint8 else rgb8.astype(np.float32) / np.float32(255)
            out = np.empty((len(positions), height, width, 3), dtype)
            warp = remap_warper(d, positions, out)
            remap_all = lambda: warp(rgb)  # noqa: E731

            def run(method, n_threads=threads):
                return lambda: render_layers(layers, planes, positions, out=out, out_dtype=dtype, threads=n_threads,
                                             method=method)

            row = _interleaved_ms({"remap": remap_all, "numba": run("numba"), "numba-1thread": run("numba", 1),
                                   "numpy": run("numpy")}, repeats)
            key = f"{width}x{height}/{np.dtype(dtype).name}"
            results[key] = row
            print(f"render_layers {views}x{views} views L={L} R={R} {key}: numba {row['numba']:.1f} ms "
                  f"(1 thread {row['numba-1thread']:.1f}), numpy {row['numpy']:.1f} ms, {len(positions)} cv2.remap "
                  f"{row['remap']:.1f} ms | numba/remap {row['numba'] / row['remap']:.2f}x, "
                  f"numpy/numba {row['numpy'] / row['numba']:.1f}x, "
                  f"default threads vs 1 {row['numba-1thread'] / row['numba']:.2f}x")
    return results


def _dibr_scene(height: int, width: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """uint8 texture and a smooth D in about [-4, 4] px with two nearer boxes (occlusions and holes)."""
    rgb = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    d = cv2.GaussianBlur(rng.uniform(-1, 1, (height, width)).astype(np.float32), (0, 0), width / 40) * 40
    d = np.clip(d, -3, 3)
    d[height // 4:height // 2, width // 4:width // 2] = 4.0
    d[height // 2:3 * height // 4, width // 2:3 * width // 4] = 3.5
    return rgb, np.ascontiguousarray(d, np.float32)


def _interleaved_ms(fns: dict, repeats: int, settle_s: float = 0.01) -> dict:
    """Median ms of each function, the runs interleaved (a, b, c, a, b, c, ...) so that load from other work on
    a shared host hits all of them alike; one warm-up run each. A pause of settle_s before each run lets the
    previous run's idle threads stop spinning (numba's OpenMP workers otherwise take CPU from the next run's
    threads: measured +1.3 ms on 49 remaps at 256x192)."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            time.sleep(settle_s)
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(t)) * 1e3 for k, t in times.items()}


def bench_dibr(sizes=((256, 192), (640, 480)), views: int = 7, repeats: int = 5, threads: int | None = None) -> dict:
    """ms per frame: dibr_warp numba / numpy and 49 cv2.remap warps, per size and output dtype (printed, returned)."""
    rng = np.random.default_rng(0)
    positions = grid_positions(views).reshape(-1, 2)
    warm_up("numba")
    results = {}
    for width, height in sizes:
        rgb8, d = _dibr_scene(height, width, rng)
        for dtype in (np.uint8, np.float32):
            rgb = rgb8 if dtype == np.uint8 else rgb8.astype(np.float32) / np.float32(255)
            out = np.empty((len(positions), height, width, 3), dtype)
            warp = remap_warper(d, positions, out)
            remap_all = lambda: warp(rgb)  # noqa: E731

            def run(method, n_threads=threads):
                return lambda: dibr_warp(rgb, d, positions, out=out, out_dtype=dtype, threads=n_threads, method=method)

            row = _interleaved_ms({"remap": remap_all, "numba": run("numba"), "numba-1thread": run("numba", 1),
                                   "numpy": run("numpy")}, repeats)
            key = f"{width}x{height}/{np.dtype(dtype).name}"
            results[key] = row
            print(f"dibr {views}x{views} views {key}: numba {row['numba']:.1f} ms (1 thread {row['numba-1thread']:.1f}), "
                  f"numpy {row['numpy']:.1f} ms, {len(positions)} cv2.remap {row['remap']:.1f} ms | "
                  f"numba/remap {row['numba'] / row['remap']:.2f}x, numpy/numba {row['numpy'] / row['numba']:.1f}x, "
                  f"default threads vs 1 {row['numba-1thread'] / row['numba']:.2f}x")
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x480", help="WIDTHxHEIGHT")
    ap.add_argument("--views", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", choices=("dibr", "layers"), default=None)
    ap.add_argument("--layers", type=int, default=3, help="L for bench_render_layers (lf-layers-v1: 3)")
    ap.add_argument("--rank", type=int, default=12, help="R for bench_render_layers (lf-layers-v1: 12)")
    ap.add_argument("--planes", default=None, help="comma-separated planes (px) for bench_render_layers")
    args = ap.parse_args(argv)
    width, height = (int(t) for t in args.size.lower().split("x"))
    if args.only != "dibr":
        bench_render_layers(sizes=((256, 192), (width, height)) if (width, height) != (256, 192) else ((256, 192),),
                            views=args.views, L=args.layers, R=args.rank, repeats=max(args.repeats, 5),
                            threads=args.threads,
                            planes=[float(t) for t in args.planes.split(",")] if args.planes else None)
    if args.only != "layers":
        bench_dibr(views=args.views, repeats=max(args.repeats, 5), threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())

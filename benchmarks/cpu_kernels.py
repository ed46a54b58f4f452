"""CPU renderer times on random data (the kernels' own micro-benchmark; speed.py times whole pipelines).

    python benchmarks/cpu_kernels.py [--size 640x480] [--views 7] [--threads N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.conventions import grid_positions  # noqa: E402
from kernels.render_layers import render_layers  # noqa: E402


def bench_render_layers(height: int = 480, width: int = 640, views: int = 7, L: int = 3, R: int = 12,
                        repeats: int = 3, threads: int | None = None) -> dict:
    """ms per frame of render_layers for float32 and uint8 output (printed and returned)."""
    rng = np.random.default_rng(0)
    layers = rng.random((L, R, 3, height, width), dtype=np.float32)
    planes = np.linspace(-3, 3, L).astype(np.float32) + 0.37
    positions = grid_positions(views).reshape(-1, 2)
    results = {}
    for dtype in (np.float32, np.uint8):
        out = np.empty((len(positions), height, width, 3), dtype)
        render_layers(layers, planes, positions, out=out, out_dtype=dtype, threads=threads)  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            render_layers(layers, planes, positions, out=out, out_dtype=dtype, threads=threads)
        ms = (time.perf_counter() - t0) / repeats * 1e3
        results[np.dtype(dtype).name] = ms
        print(f"render_layers {views}x{views} views {width}x{height} L={L} R={R} -> {np.dtype(dtype).name}: "
              f"{ms:.1f} ms/frame ({ms / len(positions):.2f} ms/view)")
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x480", help="WIDTHxHEIGHT")
    ap.add_argument("--views", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    width, height = (int(t) for t in args.size.lower().split("x"))
    bench_render_layers(height, width, args.views, repeats=args.repeats, threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())

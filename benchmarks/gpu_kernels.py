"""GPU kernel times next to their bytes-moved floors (issue 4), on the machine's own measured ceilings.

    python benchmarks/gpu_kernels.py --json benchmarks/results/kernels-h100-DATE.json

Ceilings measured first: device-to-device copy (bytes read + written per second), pinned host->device and
device->host. Floor of a kernel = (bytes it must read once + bytes it must write once) / D2D bandwidth; the
kernels do no heavy arithmetic, so bytes set the floor. Times: CUDA events, median of --repeats after warm-up.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def time_ms(fn, repeats: int = 20, warmup: int = 3) -> float:
    import cupy as cp

    for _ in range(warmup):
        fn()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    times = []
    for _ in range(repeats):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    return float(np.median(times))


def ceilings(repeats: int) -> dict:
    import cupy as cp
    import cupyx

    n = 1 << 30
    a, b = cp.empty(n, cp.uint8), cp.empty(n, cp.uint8)
    a[:] = 1
    d2d = 2 * n / time_ms(lambda: b.__setitem__(slice(None), a), repeats) / 1e6
    host = cupyx.empty_pinned(n // 4, np.uint8)
    dev = cp.empty(n // 4, cp.uint8)
    h2d = (n // 4) / time_ms(lambda: dev.set(host), repeats) / 1e6
    d2h = (n // 4) / time_ms(lambda: dev.get(out=host), repeats) / 1e6
    m = cp.random.default_rng(1).random((8192, 8192), dtype=cp.float32)   # cuBLAS SGEMM (no TF32 in CuPy)
    fp32 = 2 * 8192 ** 3 / time_ms(lambda: m @ m, max(3, repeats // 4)) / 1e9
    return {"d2d_GBps": round(d2d, 1), "h2d_pinned_GBps": round(h2d, 1), "d2h_pinned_GBps": round(d2h, 1),
            "fp32_TFLOPs": round(fp32, 1)}


def kernel_rows(height: int, width: int, views: int, repeats: int, d2d_gbps: float,
                fp32_tflops: float) -> list[dict]:
    import cupy as cp

    from engine.conventions import grid_positions
    from kernels import cuda

    rng = cp.random.default_rng(0)
    H, W, P, L, R = height, width, views * views, 3, 12
    pos = cp.asarray(grid_positions(views, 1.0).reshape(-1, 2), cp.float32)
    planes = cp.asarray([-4.0, 0.0, 5.0], cp.float32)
    rows = []

    def add(name, ms, read_bytes, write_bytes, **extra):
        floor = (read_bytes + write_bytes) / (d2d_gbps * 1e6)
        rows.append({"kernel": name, "height": H, "width": W, "views": P, "ms": round(ms, 4),
                     "floor_ms": round(floor, 4), "x_floor": round(ms / floor, 2),
                     "bytes_read": int(read_bytes), "bytes_written": int(write_bytes), **extra})
        if extra.get("flop"):
            rows[-1]["flop_floor_ms"] = round(extra["flop"] / (fp32_tflops * 1e9), 4)

    for in_dtype in (cp.float16, cp.float32):
        layers = rng.random((L, R, 3, H, W), dtype=cp.float32).astype(in_dtype)
        out = cp.empty((P, H, W, 3), cp.uint8)
        ms = time_ms(lambda a=layers, o=out: cuda.render_layers(a, planes, pos, 1.0, out=o, out_dtype=np.uint8),
                     repeats)
        add(f"render_layers {np.dtype(in_dtype).name}->uint8", ms, layers.nbytes, out.nbytes, layers=L, rank=R,
            flop=P * H * W * L * 3 * R * 7)
        if R in cuda.PACKED_RANKS:
            packed = cuda.pack_layers(layers, in_dtype)
            ms = time_ms(lambda a=packed, o=out: cuda.render_layers_packed(a, planes, pos, R, 1.0, out=o,
                                                                           out_dtype=np.uint8), repeats)
            add(f"render_packed {np.dtype(in_dtype).name}->uint8", ms, L * 3 * R * H * W * packed.itemsize,
                out.nbytes, layers=L, rank=R, flop=P * H * W * L * 3 * R * 7)
            ms = time_ms(lambda a=layers, o=packed, t=in_dtype: cuda.pack_layers(a, t, out=o), repeats)
            add(f"pack_layers {np.dtype(in_dtype).name}", ms, layers.nbytes, L * 3 * R * H * W * packed.itemsize)
    rgb = rng.random((H, W, 3), dtype=cp.float32)
    disparity = (rng.random((H, W), dtype=cp.float32) * 8 - 4).astype(cp.float32)
    out = cp.empty((P, H, W, 3), cp.uint8)
    ws: dict = {}
    ms = time_ms(lambda: cuda.dibr_warp(rgb, disparity, pos, 1.0, out=out, out_dtype=np.uint8, workspace=ws),
                 repeats)
    add("dibr_warp float32->uint8", ms, rgb.nbytes + disparity.nbytes, out.nbytes,
        scratch_bytes=int(sum(a.nbytes for a in ws.values() if hasattr(a, "nbytes"))))
    left = (rng.random((H, W), dtype=cp.float32) * 1023).astype(cp.uint16)
    right = (rng.random((H, W), dtype=cp.float32) * 1023).astype(cp.uint16)
    rgb8 = (rng.random((H, W, 3), dtype=cp.float32) * 255).astype(cp.uint8)
    hp, wp = -(-H // 16) * 16, -(-W // 16) * 16
    bufs = (cp.empty((1, 2, hp, wp), cp.float32), cp.empty((1, 3, hp, wp), cp.float32))
    ms = time_ms(lambda: cuda.preprocess(left, right, rgb8, out=bufs, white_level=1023), repeats)
    add("preprocess uint16+uint8->float32", ms, left.nbytes * 2 + rgb8.nbytes, bufs[0].nbytes + bufs[1].nbytes)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256x192,1920x1080")
    ap.add_argument("--views", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import cupy as cp

    from benchmarks.common import parse_sizes

    props = cp.cuda.runtime.getDeviceProperties(0)
    ceil = ceilings(args.repeats)
    rows = []
    for h, w in parse_sizes(args.sizes):
        rows += kernel_rows(h, w, args.views, args.repeats, ceil["d2d_GBps"], ceil["fp32_TFLOPs"])
    print(f"{props['name'].decode()}: D2D {ceil['d2d_GBps']} GB/s, H2D {ceil['h2d_pinned_GBps']} GB/s, "
          f"D2H {ceil['d2h_pinned_GBps']} GB/s (pinned), SGEMM {ceil['fp32_TFLOPs']} TFLOP/s")
    print(f"{'kernel':34} {'HxW':>10} {'ms':>9} {'bytes floor':>11} {'x floor':>8} {'FLOP floor':>10}")
    for r in rows:
        print(f"{r['kernel']:34} {r['height']}x{r['width']:<5} {r['ms']:9.4f} {r['floor_ms']:11.4f} "
              f"{r['x_floor']:8.2f} {r.get('flop_floor_ms', float('nan')):10.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": props["name"].decode(), "ceilings": ceil, "rows": rows},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

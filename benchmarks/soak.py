"""Soak test: many frames through Pipeline.stream; resident memory must stay flat after warm-up.

    python benchmarks/soak.py                                        # 10 000 frames of samples/demo.dp, ort-cpu, 3x3 views
    python benchmarks/soak.py --frames 1000 --max-size 64           # a quick check
    python benchmarks/soak.py --backend torch-cuda --views 7 --json /tmp/soak.json

The input (default samples/demo.dp) is read again from the file each time round, so the .dp reader, the
reader thread and its queue, the pipeline and the statistics all run for the whole soak. Resident memory
(VmRSS from /proc/self/status, else psutil) is sampled at the start (pipeline built, nothing streamed),
after --warmup frames, every --every frames and at the end. Exit status: 0 when RSS grew by at most
--tolerance-mb between the warm-up and the end, 1 when it grew more, 2 on bad arguments.
Results go to stdout (and --json FILE); do not commit them.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, device_string  # noqa: E402


def rss_mb() -> tuple[float, str]:
    """Current resident set size in MiB and where it came from."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024, "/proc/self/status"
    except OSError:
        pass
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20, "psutil"
    except ImportError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux, bytes on macOS
        return peak / (2**20 if sys.platform == "darwin" else 1024), "ru_maxrss (peak, not current)"


def open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def looped(source, n: int):
    """Frames of `source` round and round, renumbered 0 .. n-1 (the source is re-read every lap)."""
    from engine.io.sources import Frame

    fps = float(getattr(source, "fps", 30.0) or 30.0)
    i = 0
    while i < n:
        for f in source:
            if i >= n:
                return
            yield Frame(i, i / fps, f.left, f.right, f.rgb)
            i += 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=10_000, help="frames to stream (default 10000)")
    ap.add_argument("--input", type=Path, default=ROOT / "samples" / "demo.dp", help="a source open_source reads")
    ap.add_argument("--views", type=int, default=3, help="N x N views (default 3; 0 = disparity only)")
    ap.add_argument("--backend", default="ort-cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--renderer", default="dibr", choices=("dibr", "layers"))
    ap.add_argument("--max-size", type=int, default=None, help="downsize so max(H, W) <= this")
    ap.add_argument("--threads", type=int, default=None, help="CPU backend threads")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up frames (default min(500, frames // 10))")
    ap.add_argument("--every", type=int, default=None, help="sample RSS every this many frames (default frames // 20)")
    ap.add_argument("--tolerance-mb", type=float, default=20.0, help="allowed RSS growth after warm-up (MiB)")
    ap.add_argument("--queue-size", type=int, default=None)
    ap.add_argument("--drop", default=None, choices=("queue", "latest", "drop-new"))
    ap.add_argument("--copy", action="store_true", help="stream(copy=True): a fresh copy of every output")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)
    if args.frames < 2:
        ap.error("--frames must be >= 2")
    warmup = args.warmup if args.warmup is not None else max(1, min(500, args.frames // 10))
    if not 1 <= warmup < args.frames:
        ap.error(f"--warmup must be in [1, {args.frames - 1}]")
    every = max(1, args.every or args.frames // 20)

    import numpy as np

    from engine import Pipeline
    from engine.io.sources import open_source

    try:
        source = open_source(args.input, max_size=args.max_size)
        pipe = Pipeline(backend=args.backend, precision=args.precision, views=args.views,
                        renderer=args.renderer, threads=args.threads)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return 2
    gc.collect()
    rss0, rss_from = rss_mb()
    start = {"rss_mb": round(rss0, 1), "threads": threading.active_count(), "fds": open_fds()}
    samples: list[tuple[int, float]] = [(0, rss0)]
    warm: dict = {}
    t0 = time.perf_counter()
    t_warm = None
    n = 0
    for out in pipe.stream(looped(source, args.frames), queue_size=args.queue_size, drop=args.drop, copy=args.copy):
        n += 1
        if not np.isfinite(out.disparity[0, 0]):
            print(f"soak: error: frame {out.index} has a non-finite disparity", file=sys.stderr)
            return 1
        if n == warmup:
            gc.collect()
            t_warm = time.perf_counter()
            warm = {"frame": n, "rss_mb": round(rss_mb()[0], 1), "threads": threading.active_count(),
                    "fds": open_fds(), "gc_objects": len(gc.get_objects())}
        if n % every == 0 or n == args.frames:
            samples.append((n, rss_mb()[0]))
            if sys.stderr.isatty():
                print(f"\rsoak: {n}/{args.frames} frames, RSS {samples[-1][1]:.1f} MiB", end="", file=sys.stderr)
    wall = time.perf_counter() - t0
    if sys.stderr.isatty():
        print(file=sys.stderr)
    gc.collect()
    rss_end = rss_mb()[0]
    source.close()
    end = {"frame": n, "rss_mb": round(rss_end, 1), "threads": threading.active_count(), "fds": open_fds(),
           "gc_objects": len(gc.get_objects())}
    stats = pipe.stats()
    after = [(k, v) for k, v in samples if k >= warmup]
    slope = (float(np.polyfit([k for k, _ in after], [v for _, v in after], 1)[0]) * 1000
             if len(after) >= 3 else None)
    growth = rss_end - warm["rss_mb"]
    ok = growth <= args.tolerance_mb and n == args.frames
    steady_fps = (n - warmup) / (t0 + wall - t_warm) if t_warm else None
    info = pipe.info()
    result = {
        "device": device_string(info["backend"]), "backend": info["backend"], "precision": info["precision"],
        "input": str(args.input), "height": int(out.disparity.shape[0]), "width": int(out.disparity.shape[1]),
        "views": args.views, "renderer": args.renderer, "frames": n, "warmup": warmup, "wall_s": round(wall, 2),
        "fps": round(n / wall, 2), "fps_after_warmup": round(steady_fps, 2) if steady_fps else None,
        "rss_source": rss_from, "start": start, "after_warmup": warm, "end": end,
        "rss_growth_after_warmup_mb": round(growth, 2), "rss_slope_mb_per_1000_frames": (
            round(slope, 3) if slope is not None else None),
        "tolerance_mb": args.tolerance_mb, "ok": ok,
        "rss_samples": [[k, round(v, 1)] for k, v in samples],
        "stream": {k: stats[k] for k in ("policy", "frames", "dropped", "skipped", "fps")},
        "latency_ms": stats["latency_ms"],
    }
    print(f"soak: {n} frames ({result['width']}x{result['height']}, {args.views}x{args.views} views, "
          f"{info['backend']}/{info['precision']}) in {wall:.1f} s: {result['fps']:.1f} fps "
          f"({result['fps_after_warmup']} after warm-up)")
    print(f"soak: RSS start {start['rss_mb']:.1f} MiB, after {warmup} warm-up frames {warm['rss_mb']:.1f} MiB, "
          f"end {end['rss_mb']:.1f} MiB: {growth:+.1f} MiB after warm-up (tolerance {args.tolerance_mb:g}), "
          f"slope {result['rss_slope_mb_per_1000_frames']} MiB/1000 frames [{rss_from}]")
    print(f"soak: after warm-up -> end: threads {warm['threads']} -> {end['threads']}, fds {warm['fds']} -> {end['fds']}, "
          f"gc objects {warm['gc_objects']} -> {end['gc_objects']}; dropped {stats['dropped']}, "
          f"skipped {stats['skipped']}")
    for stage in ("read", "queue", "preprocess", "disparity", "lf", "render", "total", "latency"):
        if stage in stats["latency_ms"]:
            s = stats["latency_ms"][stage]
            print(f"soak:   {stage:<10} p50 {s['p50']:8.2f}  p95 {s['p95']:8.2f}  p99 {s['p99']:8.2f}  "
                  f"max {s['max']:8.2f} ms")
    print(f"soak: {'PASS' if ok else 'FAIL'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

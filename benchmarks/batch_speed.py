"""Throughput of `dplf batch` on a local Ray: inputs/s and frames/s with 1 and 2 workers (and more with
--workers), next to the same inputs converted one after another by plain `engine.run.run` in this process.

    python benchmarks/batch_speed.py [--inputs 6] [--frames 12] [--views 7] [--format png] [--workers 1 2]
                                     [--repeat 1] [--json FILE]

The inputs are clips cut from samples/demo.dp (256x192) with the .dp writer. Ray is started once (its start-up
time is reported on its own line) and every batch runs on it, so a row's wall time counts what a batch on a
running cluster pays: starting the worker actors (each builds its Pipeline), converting, writing batch.json.
"busy fps" is frames / the seconds the workers spent in engine.run.run (summed over workers).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, device_string  # noqa: E402
from engine.io.dpfile import DPReader, DPWriter  # noqa: E402

DEMO = ROOT / "samples" / "demo.dp"


def make_inputs(folder: Path, count: int, frames: int) -> list[Path]:
    """`count` clips of `frames` frames each, cut from the demo at different starts (wrapping around)."""
    paths = []
    with DPReader(DEMO) as src:
        h = src.header
        for k in range(count):
            path = folder / f"clip{k:02d}.dp"
            with DPWriter(path, width=h.width, height=h.height, fps=h.fps, bit_depth=h.bit_depth,
                          has_rgb=h.has_rgb, camera="demo-cut") as dst:
                for j in range(frames):
                    f = src[(k * 5 + j) % len(src)]
                    dst.write(f.left, f.right, f.rgb, timestamp=j / h.fps)
            paths.append(path)
    return paths


def sequential_row(paths: list[Path], out: Path, args) -> dict:
    """The baseline: engine.run.run over the inputs one by one in this process (one Pipeline per input)."""
    from engine.run import run

    t0 = time.perf_counter()
    for p in paths:
        run(p, out / p.stem, views=args.views, view_format=args.format, backend="ort-cpu", progress=False)
    wall = time.perf_counter() - t0
    return _row("plain run(), sequential", 0, len(paths), len(paths) * args.frames, wall, None)


def batch_row(paths: list[Path], out: Path, workers: int, args) -> dict:
    from engine.batch.batch import batch
    from engine.batch.options import run_options

    options = run_options(views=args.views, view_format=args.format, backend="ort-cpu")
    report = batch([str(p) for p in paths], out, options, workers=workers, progress=False)
    if report.failed:
        raise RuntimeError(f"batch failed: {report.failed[0]['reason']}")
    frames = sum(int(r["frames"]) for r in report.results)
    busy = sum(float(r["wall_s"]) for r in report.results)
    return _row("dplf batch", workers, len(report.results), frames, report.wall_s, frames / busy if busy else None)


def _row(name: str, workers: int, inputs: int, frames: int, wall: float, busy_fps: float | None) -> dict:
    return {"name": name, "workers": workers, "inputs": inputs, "frames": frames, "wall_s": round(wall, 2),
            "inputs_per_s": round(inputs / wall, 3), "frames_per_s": round(frames / wall, 2),
            "busy_fps": None if busy_fps is None else round(busy_fps, 2)}


def table(rows: list[dict]) -> str:
    lines = [f"{'run':<26} {'workers':>7} {'inputs':>6} {'frames':>6} {'wall_s':>7} {'inputs/s':>9} "
             f"{'frames/s':>9} {'busy fps':>9}"]
    for r in rows:
        busy = "-" if r["busy_fps"] is None else f"{r['busy_fps']:.2f}"
        lines.append(f"{r['name']:<26} {r['workers'] or '-':>7} {r['inputs']:>6} {r['frames']:>6} "
                     f"{r['wall_s']:>7.2f} {r['inputs_per_s']:>9.3f} {r['frames_per_s']:>9.2f} {busy:>9}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=6)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--views", type=int, default=7)
    ap.add_argument("--format", default="png")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=1, help="run every configuration this many times, interleaved")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="dplf-batch-speed-"))
    try:
        (tmp / "in").mkdir()
        paths = make_inputs(tmp / "in", args.inputs, args.frames)
        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 object_store_memory=128 * 2 ** 20)
        start_s = time.perf_counter() - t0
        rows = []
        for k in range(args.repeat):
            rows.append(sequential_row(paths, tmp / f"seq{k}", args))
            for w in args.workers:
                rows.append(batch_row(paths, tmp / f"w{w}-{k}", w, args))
        ray.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    header = (f"dplf batch throughput: {device_string()}; {args.inputs} inputs x {args.frames} frames, 256x192, "
              f"{args.views}x{args.views} views, --format {args.format}, ort-cpu; Ray {ray.__version__} local, "
              f"start-up {start_s:.1f} s (not in the rows)")
    print(header)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"device": device_string(), "ray": ray.__version__, "ray_start_s":
                                         round(start_s, 2), "args": {k: v for k, v in vars(args).items()
                                                                    if k != "json"}, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

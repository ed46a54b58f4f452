"""Speed benchmark: dplf per backend and resolution, next to baselines, same machine, same run.

    python benchmarks/speed.py                                   # 256x192 and 640x480, ort-cpu, 7x7 views
    python benchmarks/speed.py --sizes 256x192,640x480,1280x720 --iters 30 --json benchmarks/results/x.json
    python benchmarks/speed.py --disparity-row only --dp-model dp-disparity-v1   # disparity stage vs SGBM only

Rows: `dplf`, `dplf-layers`, `dplf-disparity` (engine.Pipeline with the DIBR renderer, the layered renderer, and
no views, on every backend that works here), `paper-lf` (the paper's CvT LF network,
benchmarks/baselines/paper_lf.py, exported to ONNX with torch and run through ONNX Runtime CPU with the same
threads, plus the same preprocessing and layered renderer; skipped without torch), the classical rows `sgbm`
(OpenCV SGBM alone), `sgbm-dibr` (SGBM + our DIBR) and `remap-floor` (N x N plain cv2.remap warps, the render
floor; benchmarks/classical_speed.py), and `disparity-vs-sgbm` (the pipeline's disparity stage alone and OpenCV
SGBM, interleaved on one frame, at 256x192 with 2 threads by default: benchmarks/disparity_speed.py). Views are
uint8 in every row unless --dtype float32. Per row: warm-up, then timed iterations (stopped early after
--max-seconds, at least 3); FPS = iterations / wall time; latency p50/p95/p99 per stage (ms).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import classical_speed, disparity_speed  # noqa: E402
from benchmarks.common import (STAGES, device_string, fmt, host_info, input_frame, parse_sizes,  # noqa: E402
                               print_table, write_json)
from benchmarks.timing import make_row as _row, timed_loop as _timed_loop  # noqa: E402

# ---- dplf ------------------------------------------------------------------------------------------------
def dplf_cost(info: dict, height: int, width: int) -> tuple[int | None, float | None]:
    """(params, GMACs at height x width) summed over the pipeline's models, from their ONNX metadata_props."""
    params, gmacs = 0, 0.0
    for meta in info.get("models", {}).values():
        try:
            params += int(float(meta["params"]))
            gmacs += float(meta["gmacs_per_megapixel"]) * height * width / 1e6
        except (KeyError, ValueError):
            return _onnx_params(info), None
    return params, gmacs


def _onnx_params(info: dict) -> int | None:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return None
    total = 0
    for meta in info.get("models", {}).values():
        model = onnx.load(meta["path"])
        total += sum(int(np.prod(numpy_helper.to_array(t).shape)) for t in model.graph.initializer)
    return total


def bench_dplf(backend: str, size, views: int, iters: int, warmup: int, threads: int, frame,
               max_seconds: float, renderer: str = "dibr", models_dir=None, dtype=np.float32,
               dp_model: str | None = None) -> dict:
    from engine import Pipeline

    left, right, rgb = frame
    pipe = Pipeline(backend=backend, views=views, renderer=renderer, threads=threads, models_dir=models_dir,
                    dtype=dtype, dp_model=dp_model)
    laps, wall = _timed_loop(lambda: pipe(left, right, rgb).timings, iters, warmup, max_seconds)
    info = pipe.info()
    params, gmacs = dplf_cost(info, *size)
    name = "dplf" if renderer == "dibr" else f"dplf-{renderer}"   # dibr is the engine's default renderer
    name = "dplf-disparity" if views == 0 else name
    row = _row(name, "dplf", info["backend"], info["precision"], size, views, laps, wall, params, gmacs)
    row["models"] = {k: {"sha256": m.get("sha256"), "training_hash": m.get("training_hash")}
                     for k, m in info.get("models", {}).items()}
    row["metrics"].update(dtype=np.dtype(dtype).name, gpu_hot_path=info.get("gpu_hot_path", False),
                          cuda_graphs=info.get("cuda_graphs") or None)
    return row


# ---- the paper's LF network ------------------------------------------------------------------------------
def _nchw(left, right, rgb):
    """rgb [1,3,H,W], dp [1,2,H,W] float32, padded (edge) to multiples of 16."""
    h, w = left.shape
    ph, pw = -h % 16, -w % 16
    pad = lambda a: np.pad(a, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")  # noqa: E731
    dp = pad(np.stack([left, right])[None].astype(np.float32))
    return pad(np.ascontiguousarray(rgb.transpose(2, 0, 1))[None].astype(np.float32)), dp


def export_paper_onnx(path: Path, height: int, width: int) -> tuple[int, float]:
    """Export the paper's network at a fixed padded size to ONNX. Returns (params, GMACs at that size)."""
    import torch

    from benchmarks.baselines import paper_lf

    model = paper_lf.build()
    hp, wp = height + (-height % 16), width + (-width % 16)
    rgb, dp = torch.rand(1, 3, hp, wp), torch.rand(1, 2, hp, wp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (rgb, dp), str(path), input_names=["rgb", "dp"], output_names=["layers", "planes"],
                          opset_version=17, dynamo=False)
    return paper_lf.count_params(model), paper_lf.count_gmacs(model, height, width)


def paper_backends(backends: list[str]) -> list[str]:
    """Where the paper row runs: each of dplf's backends that can run it (ONNX Runtime CPU/CUDA, torch-cuda)."""
    import onnxruntime as ort

    can = {"ort-cpu": True, "ort-cuda": "CUDAExecutionProvider" in ort.get_available_providers(),
           "torch-cuda": "torch-cuda" in available_backends()}
    return [b for b in backends if can.get(b)]


def bench_paper_cuda(size, views: int, iters: int, warmup: int, frame, max_seconds: float,
                     dtype=np.float32) -> dict:
    """The paper's network on the GPU through dplf's own hot path (pinned buffers, one stream, CUDA graph,
    FP16 autocast, fused attention, the same preprocess and render_layers kernels): the same footing as dplf."""
    from benchmarks.baselines import paper_lf
    from engine.backends.torch_cuda_backend import TorchCudaSession
    from engine.conventions import grid_positions
    from engine.gpu_executor import GpuExecutor

    h, w = size
    model = paper_lf.build()
    params, gmacs = paper_lf.count_params(model), paper_lf.count_gmacs(model, h, w)
    session = TorchCudaSession(model, ["rgb", "dp"], ["layers", "planes"], fp16=True)
    path = GpuExecutor(None, session, grid_positions(views, 1.0).reshape(-1, 2), "host")
    left, right, rgb = frame
    laps, wall = _timed_loop(lambda: path.process(left, right, rgb, 0.0, None, views, 1.0, dtype)["timings"],
                             iters, warmup, max_seconds)
    return _row("paper-lf (CvT, ICCP'24)", "baseline", "torch-cuda", "fp16", size, views, laps, wall, params,
                gmacs, dtype=np.dtype(dtype).name, cuda_graphs=session.graph_error or "on",
                note="untrained weights; dplf's GPU hot path and kernels around the paper's network")


def bench_paper(size, views: int, iters: int, warmup: int, threads: int, frame, max_seconds: float,
                workdir: Path, backend: str = "ort-cpu", dtype=np.uint8) -> dict:
    import onnxruntime as ort

    from engine.conventions import grid_positions
    from kernels.render_layers import render_layers, warm_up

    warm_up()   # compile / load the CPU kernel before any timed step
    h, w = size
    onnx_path = workdir / f"paper_lf_{w}x{h}.onnx"
    if onnx_path.is_file():
        from benchmarks.baselines import paper_lf

        model = paper_lf.build()
        params, gmacs = paper_lf.count_params(model), paper_lf.count_gmacs(model, h, w)
    else:
        params, gmacs = export_paper_onnx(onnx_path, h, w)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    providers = (["CUDAExecutionProvider"] if backend == "ort-cuda" else []) + ["CPUExecutionProvider"]
    sess = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=providers)
    positions = grid_positions(views, 1.0).reshape(-1, 2)
    out = np.empty((views * views, h, w, 3), np.dtype(dtype))
    left, right, rgb = frame

    def step():
        t0 = time.perf_counter()
        rgb_nchw, dp = _nchw(left, right, rgb)
        t1 = time.perf_counter()
        layers, planes = sess.run(None, {"rgb": rgb_nchw, "dp": dp})
        layers = np.ascontiguousarray(layers[0, ..., :h, :w])
        t2 = time.perf_counter()
        render_layers(layers, planes[0], positions, 1.0, out=out, out_dtype=out.dtype)
        t3 = time.perf_counter()
        return {"preprocess": (t1 - t0) * 1e3, "lf": (t2 - t1) * 1e3, "render": (t3 - t2) * 1e3,
                "total": (t3 - t0) * 1e3}

    laps, wall = _timed_loop(step, iters, warmup, max_seconds)
    return _row("paper-lf (CvT, ICCP'24)", "baseline", backend, "fp32", size, views, laps, wall, params, gmacs,
                note="untrained weights; same preprocessing and CPU layered renderer (kernels.render_layers) "
                     "as dplf's CPU path; the lf stage includes copying the layers to the host")


# ---- driver ----------------------------------------------------------------------------------------------
def available_backends() -> list[str]:
    from engine.backends import probe_all

    return [name for name, probe in probe_all().items() if probe.ok]


def run(sizes, backends=None, views: int = 7, iters: int = 30, warmup: int = 3, threads: int | None = None,
        max_seconds: float = 60.0, baselines=("paper", "sgbm"), log=print,
        models_dir=None, dtype=np.uint8, renderers=("dibr", "layers", "none"),
        input_dtype=np.float32, dp_model: str | None = None) -> tuple[list[dict], list[str]]:
    """Benchmark every (backend, size) and the baselines. Returns (rows, notes)."""
    import os

    import cv2

    threads = threads or os.cpu_count()
    cv2.setNumThreads(threads)
    rows, notes = [], []
    try:
        backends = backends or available_backends()
    except ImportError as exc:
        backends = []
        notes.append(f"dplf rows skipped: engine backends unavailable ({exc})")
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        torch = None
        if baselines:
            notes.append("paper-lf row skipped: torch is not installed (needed to build and export it)")
    with tempfile.TemporaryDirectory(prefix="dplf-speed-") as tmp:
        for size in sizes:
            left, right, rgb, source = input_frame(*size)
            frame = (left, right, rgb)
            if np.dtype(input_dtype) == np.uint8:   # what an 8-bit camera hands over (the demo is stored so)
                frame = tuple(np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8) for a in frame)
                source += ", uint8"
            log(f"[{size[1]}x{size[0]}] input: {source}")
            for backend in backends:
                for renderer in renderers:
                    try:   # renderer "none": the pipeline without views (dplf-run --no-views)
                        rows.append(bench_dplf(backend, size, 0 if renderer == "none" else views, iters, warmup,
                                               threads, frame, max_seconds,
                                               renderer="dibr" if renderer == "none" else renderer,
                                               models_dir=models_dir, dtype=dtype, dp_model=dp_model))
                        log(f"  {rows[-1]['name']}/{backend}: {rows[-1]['fps']:.2f} FPS")
                    except (FileNotFoundError, ImportError, RuntimeError, ValueError) as exc:
                        notes.append(f"dplf/{backend}/{renderer} at {size[1]}x{size[0]} skipped: {exc}")
            if not baselines:
                continue
            if torch is not None and "paper" in baselines:
                for pb in paper_backends(backends):
                    if pb == "torch-cuda":
                        rows.append(bench_paper_cuda(size, views, iters, warmup, frame, max_seconds, dtype))
                    else:
                        rows.append(bench_paper(size, views, iters, warmup, threads, frame, max_seconds,
                                                Path(tmp), pb, dtype))
                    log(f"  paper-lf/{pb}: {rows[-1]['fps']:.2f} FPS")
            if "sgbm" in baselines:
                for row in classical_speed.bench_classical(size, views, iters, warmup, frame, max_seconds, dtype):
                    rows.append(row)
                    log(f"  {row['name']}: {row['fps']:.2f} FPS")
    return rows, notes


def disparity_rows(backends, size=disparity_speed.DEFAULT_SIZE, threads: int = disparity_speed.DEFAULT_THREADS,
                   iters: int = 30, warmup: int = 3, max_seconds: float = 60.0, dp_model: str | None = None,
                   models_dir=None, input_dtype=np.float32, log=print) -> tuple[list[dict], list[str]]:
    """The `disparity-vs-sgbm` row per backend (benchmarks/disparity_speed.py) on the speed input frame."""
    rows, notes = [], []
    try:
        backends = backends or available_backends()
    except ImportError as exc:
        return rows, [f"disparity-vs-sgbm skipped: engine backends unavailable ({exc})"]
    left, right, rgb, source = input_frame(*size)
    frame = (left, right, rgb)
    if np.dtype(input_dtype) == np.uint8:
        frame = tuple(np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8) for a in frame)
    for backend in backends:
        try:
            rows.append(disparity_speed.bench_disparity_vs_sgbm(
                backend, size, threads, iters, warmup, max_seconds, frame, dp_model, models_dir, cost=dplf_cost))
            rows[-1]["metrics"]["input"] = source
            log(f"  {disparity_speed.describe(rows[-1])}")
        except (FileNotFoundError, ImportError, RuntimeError, ValueError) as exc:
            notes.append(f"disparity-vs-sgbm/{backend} at {size[1]}x{size[0]} skipped: {exc}")
    return rows, notes


def ratios(rows: list[dict]) -> list[dict]:
    """dplf FPS / baseline FPS per (backend, size), in the same run: `dplf` against the baselines that render
    views, `dplf-disparity` against `sgbm`."""
    out = []
    for r in rows:
        if r["kind"] != "dplf" or r["name"] not in ("dplf", "dplf-disparity"):
            continue
        for b in rows:
            if b["kind"] == "baseline" and (b["height"], b["width"]) == (r["height"], r["width"]) \
                    and (b["views"] == 0) == (r["name"] == "dplf-disparity"):
                out.append({"dplf": r["name"], "dplf_backend": r["backend"], "baseline": b["name"], "height": r["height"],
                            "width": r["width"], "fps_ratio": round(r["fps"] / b["fps"], 3)})
    return out


def print_rows(rows: list[dict], title: str) -> None:
    cols = ["name", "kind", "backend", "precision", "HxW", "views", "FPS", "p50 ms", "p95 ms", "p99 ms",
            "params", "GMACs"]
    table = []
    for r in rows:
        lat = r["latency_ms"]
        params = f"{r['params'] / 1e6:.2f} M" if r.get("params") else ("0" if r.get("params") == 0 else "-")
        table.append([r["name"], r["kind"], r["backend"], r["precision"], f"{r['height']}x{r['width']}",
                      f"{r['views']}x{r['views']}" if r["views"] else "-", fmt(r["fps"], 2), fmt(lat["p50"]), fmt(lat["p95"]),
                      fmt(lat["p99"]), params, fmt(r.get("gmacs"), 2)])
    print_table(title, cols, table)
    stage_cols = ["name", "backend", "HxW", *[f"{s} p50" for s in STAGES]]
    stage_rows = [[r["name"], r["backend"], f"{r['height']}x{r['width']}",
                   *[fmt(r["stages_ms"].get(s, {}).get("p50")) for s in STAGES]] for r in rows]
    print_table("per-stage latency, p50 ms", stage_cols, stage_rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="256x192,640x480", help="WIDTHxHEIGHT list (default 256x192,640x480)")
    ap.add_argument("--backends", default=None, help="comma list (default: every backend that works here)")
    ap.add_argument("--views", type=int, default=7, help="N for an N x N view grid (default 7)")
    ap.add_argument("--iters", type=int, default=30, help="timed iterations per row (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up iterations per row (default 3)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for every row (default: all cores)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="stop a row's timing after this (>= 3 iters)")
    ap.add_argument("--no-baselines", action="store_true", help="dplf rows only")
    ap.add_argument("--baselines", default="paper,sgbm", help="baseline rows: paper, sgbm (default both)")
    ap.add_argument("--renderers", default="dibr,layers,none",
                    help="dplf renderers to time; none = disparity only, no views (default dibr,layers,none)")
    ap.add_argument("--input-dtype", default="float32", choices=("float32", "uint8"),
                    help="input planes as float32 in [0, 1] (default) or uint8 as an 8-bit camera gives them")
    ap.add_argument("--dtype", default="uint8", choices=("float32", "uint8"),
                    help="view dtype of every row (default uint8, the engine's default; float32 on request)")
    ap.add_argument("--models-dir", default=None, help="ONNX models folder (default: the bundled models/weights)")
    ap.add_argument("--dp-model", default=None, help="DP-disparity model name from the weights index, for every "
                                                     "dplf row (default: the index's default)")
    ap.add_argument("--disparity-row", default="on", choices=("on", "off", "only"),
                    help="the disparity-vs-sgbm row: on (default), off, or only that row")
    ap.add_argument("--disparity-size", default="256x192", help="WIDTHxHEIGHT of that row (default 256x192)")
    ap.add_argument("--disparity-threads", type=int, default=disparity_speed.DEFAULT_THREADS,
                    help=f"threads of that row (default {disparity_speed.DEFAULT_THREADS})")
    ap.add_argument("--json", default=None, help="write the results as JSON to this file")
    args = ap.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
        disparity_size = parse_sizes(args.disparity_size)[0]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.views < 1 or args.iters < 1:
        print("error: --views and --iters must be >= 1", file=sys.stderr)
        return 2
    import os

    threads = args.threads or os.cpu_count()
    backends = args.backends.split(",") if args.backends else None
    baselines = () if args.no_baselines else tuple(b for b in args.baselines.split(",") if b)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    rows, notes = [], []
    if args.disparity_row != "only":
        rows, notes = run(sizes, backends, args.views, args.iters, args.warmup, threads, args.max_seconds,
                          baselines, log=log, models_dir=args.models_dir, dtype=np.dtype(args.dtype),
                          renderers=tuple(args.renderers.split(",")), input_dtype=np.dtype(args.input_dtype),
                          dp_model=args.dp_model)
    if args.disparity_row != "off":
        log(f"[{disparity_size[1]}x{disparity_size[0]}] disparity stage vs SGBM, {args.disparity_threads} threads")
        more, more_notes = disparity_rows(backends, disparity_size, args.disparity_threads, args.iters, args.warmup,
                                          args.max_seconds, args.dp_model, args.models_dir,
                                          np.dtype(args.input_dtype), log=log)
        rows, notes = rows + more, notes + more_notes
    device = device_string(rows[0]["backend"] if rows else "ort-cpu")
    print_rows(rows, f"dplf speed on {device}, {threads} threads")
    rel = ratios(rows)
    for r in rel:
        print(f"  {r['width']}x{r['height']} {r['dplf']}/{r['dplf_backend']} is {r['fps_ratio']:.2f}x the FPS of {r['baseline']}")
    render_rel = classical_speed.render_ratios(rows)
    for r in render_rel:
        print(f"  {r['width']}x{r['height']} {r['name']}/{r['backend']} renders in {r['ratio']:.2f}x the time of "
              f"{args.views * args.views} cv2.remap warps ({r['render_p50_ms']:.1f} vs {r['remap_floor_p50_ms']:.1f} ms p50)")
    disp_rel = [r for r in rows if r["name"] == disparity_speed.NAME]
    for r in disp_rel:
        print(f"  {disparity_speed.describe(r)}")
    for n in notes:
        print(f"  note: {n}")
    if args.json:
        write_json(args.json, device, host_info(threads), rows, ratios=rel, notes=notes,
                   render_ratios=render_rel, disparity_ratios=[{"backend": r["backend"], "dp_model": r["metrics"]["dp_model"],
                                      "height": r["height"], "width": r["width"],
                                      "threads": r["metrics"]["threads"], "ratio_p50": r["metrics"]["ratio_p50"],
                                      "ratio_mean": r["metrics"]["ratio_mean"]} for r in disp_rel],
                   settings={"sizes": args.sizes, "views": args.views, "iters": args.iters, "warmup": args.warmup,
                             "max_seconds": args.max_seconds, "dtype": args.dtype, "input_dtype": args.input_dtype, "baselines": list(baselines),
                             "renderers": args.renderers, "dp_model": args.dp_model,
                             "disparity_row": args.disparity_row, "disparity_size": args.disparity_size,
                             "disparity_threads": args.disparity_threads})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

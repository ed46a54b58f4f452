"""`dplf-run` as a function: source -> Pipeline.stream -> OutputWriter, with timing statistics."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .conventions import grid_positions
from .io.outputs import VIEW_FORMATS, OutputWriter
from .pipeline import Pipeline

STAGES = ("preprocess", "disparity", "lf", "render", "total")


def latency_stats(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """ms per stage -> {stage: {p50, p95, p99, mean}}."""
    return {k: {f"p{q}": round(float(np.percentile(v, q)), 3) for q in (50, 95, 99)} | {"mean": round(float(np.mean(v)), 3)}
            for k, v in samples.items() if v}


def run(input: Path, out: Path, views: int = 7, baseline: float = 1.0, backend: str = "auto",
        precision: str = "auto", view_format: str = "png", frames: int | None = None, start: int = 0,
        max_size: int | None = None, renderer: str = "dibr", preview: bool = False, on_error: str = "stop",
        threads: int | None = None, progress: bool | None = None) -> str:
    """Process `input` into `out` (SPEC §4). Returns the summary line; raises ValueError/OSError on bad input."""
    from .io.sources import open_source

    if view_format not in VIEW_FORMATS:
        raise ValueError(f"--format {view_format!r} is unknown; choose one of {', '.join(VIEW_FORMATS)}")
    if on_error not in ("stop", "skip"):
        raise ValueError(f"--on-error {on_error!r} is unknown; choose stop or skip")
    if frames is not None and frames < 1:
        raise ValueError(f"--frames must be >= 1, got {frames}")
    if start < 0:
        raise ValueError(f"--start must be >= 0, got {start}")
    input = Path(input)
    if not input.exists():
        raise FileNotFoundError(f"input {input} does not exist; pass a .dp file, a DP-pair folder or an LF folder")
    source = open_source(input, max_size=max_size, start=start, frames=frames, skip_bad=on_error == "skip")
    pipe = Pipeline(backend=backend, precision=precision, views=views, baseline=baseline, renderer=renderer,
                    dtype=np.uint8, threads=threads)
    info = pipe.info()
    n = views
    manifest = {
        "source": str(input), "views": [n, n], "baseline": baseline,
        "positions": (grid_positions(n, baseline).reshape(-1, 2).round(6).tolist() if n else []),
        "fps": float(getattr(source, "fps", 30.0) or 30.0), "view_format": view_format if n else None,
        "backend": info["backend"], "precision": info["precision"], "renderer": renderer,
        "models": [{"name": k, "sha256": m["sha256"]} for k, m in info["models"].items()],
        "calibration": getattr(source, "calibration", None),
    }
    writer = OutputWriter(Path(out), view_format, manifest, preview=preview, fps=manifest["fps"])
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    skipped: list[int] = []
    total = len(source) if hasattr(source, "__len__") else None
    t0 = time.perf_counter()
    status = "failed"
    try:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", disable=None if progress is None else not progress, file=sys.stderr)
        def skip(index: int, exc: Exception) -> None:
            skipped.append(index)
            print(f"dplf-run: warning: frame {index} skipped: {exc}", file=sys.stderr)

        for out_frame in pipe.stream(source, on_error=on_error, on_skip=skip):
            if writer.manifest["frames"] == 0:
                writer.manifest.update(height=int(out_frame.disparity.shape[0]),
                                       width=int(out_frame.disparity.shape[1]))
            writer.write(out_frame.index, out_frame.disparity, out_frame.views)
            for k, v in out_frame.timings.items():
                samples.setdefault(k, []).append(v)
            bar.update(1)
        bar.close()
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        wall = time.perf_counter() - t0
        done = writer.manifest["frames"]
        timing = {"fps": round(done / wall, 3) if wall > 0 else 0.0, "wall_s": round(wall, 3),
                  "latency_ms": latency_stats(samples)}
        writer.close(status=status, timing=timing, skipped=skipped)
    if done == 0:
        raise ValueError(f"input {input} produced no frames (start={start}); check --start/--frames")
    p50 = timing["latency_ms"].get("total", {}).get("p50", float("nan"))
    h, w = writer.manifest["height"], writer.manifest["width"]
    grid = f"{n}x{n} views" if n else "disparity only"
    return (f"dplf-run: {done} frames ({w}x{h}, {grid}) -> {out} in {wall:.1f}s: {timing['fps']:.1f} fps, "
            f"p50 {p50:.1f} ms/frame on {info['backend']}/{info['precision']}"
            + (f"; {len(skipped)} bad frames skipped" if skipped else ""))


"""`dplf-run` as a function: source -> Pipeline.stream -> OutputWriter, with timing statistics."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from .conventions import grid_positions
from .errors import one_line
from .io.outputs import (
    JPG_QUALITY,
    PNG_LEVEL,
    VIEW_FORMATS,
    OutputWriter,
    check_encoding,
    clear_run,
    used_output,
)
from .latency import stage_summaries
from .pipeline import Pipeline
from .validation import MIN_SIDE, check_baseline

STAGES = ("preprocess", "disparity", "lf", "render", "total")
POSITION_DECIMALS = 6   # manifest positions: float32 grid values rounded, not their float32 noise


def default_writers() -> int:
    """Writer threads dplf-run uses by default: one per CPU core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def manifest_positions(views: int, baseline: float) -> list[list[float]]:
    """(u, v) of every view, row-major, rounded to POSITION_DECIMALS (0.666667, not 0.6666669845581055)."""
    if not views:
        return []
    return [[round(float(u), POSITION_DECIMALS), round(float(v), POSITION_DECIMALS)]
            for u, v in grid_positions(views, baseline).reshape(-1, 2)]


def _write_failure(exc: OSError, out: Path, index: int | None, done: int) -> OSError:
    """One line for an output that could not be written (full disk, permissions, I/O error)."""
    import errno

    why = exc.strerror or one_line(exc)
    what = f"cannot write frame {index}" if index is not None else "cannot finish the output (manifest/videos)"
    todo = {errno.ENOSPC: "free some space or choose another --out", errno.EDQUOT: "free some space or choose "
            "another --out", errno.EACCES: "fix the permissions or choose another --out",
            errno.EROFS: "choose another --out"}.get(exc.errno, "check the disk or choose another --out")
    kept = f"{done} frame{'s' if done != 1 else ''} already written {'are' if done != 1 else 'is'} complete"
    err = OSError(f"{what} to {out}: {why}; {todo} ({kept}, see {out / 'manifest.json'})")
    err.errno = exc.errno
    return err


def _fps(frames: int, seconds: float) -> float:
    return round(frames / seconds, 3) if seconds > 0 else 0.0


def _failed_write(writer: OutputWriter, exc: OSError, out: Path, index: int) -> OSError:
    """The one-line error for a write that failed: `exc` from the writer thread's frame (writer.failed_frame), or
    from this thread before frame `index` was queued, once the earlier frames in flight are finished."""
    if writer.failed_frame is None:
        try:
            writer.flush()
        except OSError as earlier:   # an earlier frame failed as well: that one is the first failure
            exc = earlier
    frame = writer.failed_frame if writer.failed_frame is not None else index
    return _write_failure(exc, out, frame, writer.manifest["frames"])


def run(input: Path, out: Path, views: int = 7, baseline: float = 1.0, backend: str = "auto",
        precision: str = "auto", view_format: str = "png", frames: int | None = None, start: int = 0,
        max_size: int | None = None, renderer: str = "dibr", preview: bool = False, on_error: str = "stop",
        threads: int | None = None, progress: bool | None = None, depth=None,
        mosaic_max_size: int | None = None, overwrite: bool = False, dp_model: str | None = None,
        png_level: int = PNG_LEVEL, jpg_quality: int = JPG_QUALITY, writers: int | None = None,
        encode=None, pipeline: Pipeline | None = None) -> str:
    """Process `input` into `out` (docs/outputs.md). Returns the summary line.

    Bad input or environment raises ValueError / OSError (RuntimeError for an unavailable backend) with one
    line: what, where, what to do (docs/bad-input.md). Everything is checked before `out` is touched; once
    frames are being written, a failure leaves every frame already written complete and `manifest.json`
    valid, with ``status`` "failed" (or "interrupted" on Ctrl-C) whenever the disk still takes the manifest.
    `depth` (calibration for metric depth) and `mosaic_max_size` go to the OutputWriter when given.
    views 0 = disparity only (`--no-views`). A used `out` (a previous run, or any other files) is refused unless
    `overwrite`, which deletes the previous run's files (and only those) once the input and backend are known
    to work, just before the first write. `dp_model` picks the DP student by name (default: the bundled default).
    `writers` threads encode and write the files (default `default_writers()`; 0 = on this thread), with
    `png_level` (0-9) for PNGs and `jpg_quality` (1-100) for `view_format` "jpg"; `encode(path, image) -> bytes`
    replaces the image encoder (a hook for tests). `pipeline`: a Pipeline already built with these options, used
    instead of building one (dplf batch keeps one per worker); its views, baseline and renderer must match.
    """
    from .io.sources import open_source

    if view_format not in VIEW_FORMATS:
        raise ValueError(f"--format {view_format!r} is unknown; choose one of {', '.join(VIEW_FORMATS)}")
    if on_error not in ("stop", "skip"):
        raise ValueError(f"--on-error {on_error!r} is unknown; choose stop or skip")
    if frames is not None and frames < 1:
        raise ValueError(f"--frames must be >= 1, got {frames}")
    if start < 0:
        raise ValueError(f"--start must be >= 0, got {start}")
    if not isinstance(views, (int, np.integer)) or isinstance(views, bool) or views < 0:
        raise ValueError(f"--views must be an integer >= 1 (or 0 for disparity only), got {views!r}")
    check_baseline(baseline)
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    check_encoding(png_level, jpg_quality)
    if writers is None:
        writers = default_writers()
    if isinstance(writers, bool) or not isinstance(writers, (int, np.integer)) or writers < 0:
        raise ValueError(f"--writers must be an integer >= 0 (0 = write on the main thread), got {writers!r}")
    from .io.video import parse_camera

    out = Path(out)
    if parse_camera(input) is None:   # cameras ("camera:0", /dev/video0, rtsp://...) are opened by the source
        input = Path(input)
        if not input.exists() and not any(ch in str(input) for ch in "*?["):   # a glob of DP pairs is fine
            raise FileNotFoundError(f"input {input} does not exist; pass a .dp file, a DP-pair folder, an LF "
                                    f"folder, a side-by-side video or a camera (camera:N)")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output folder {out} is not writable: it is a file; choose another --out "
                                 f"(a folder, created if missing)")
    used = used_output(out)
    if used and not overwrite:
        what = "replace it" if used.startswith("already") else "write the run into it (other files are kept)"
        raise FileExistsError(f"output folder {out} {used}; pass --overwrite to {what}, or choose another --out")
    source = open_source(input, max_size=max_size, start=start, frames=frames, skip_bad=on_error == "skip")
    try:
        return _run(source, input, out, views, baseline, backend, precision, view_format, start, renderer,
                    preview, on_error, threads, progress, depth, mosaic_max_size, overwrite, dp_model,
                    {"png_level": png_level, "jpg_quality": jpg_quality, "workers": int(writers), "encode": encode},
                    pipeline)
    finally:
        if hasattr(source, "close"):
            source.close()


def _run(source, input: Path, out: Path, views, baseline, backend, precision, view_format, start, renderer,
         preview, on_error, threads, progress, depth, mosaic_max_size, overwrite, dp_model=None,
         writer_options: dict | None = None, pipe: Pipeline | None = None) -> str:
    from .io.dpfile import DPFormatError

    h, w = getattr(source, "height", None), getattr(source, "width", None)
    if isinstance(h, int) and isinstance(w, int) and min(h, w) < MIN_SIDE:   # fail before writing anything
        stored = getattr(source, "header", None)
        downsized = stored is not None and (stored.height, stored.width) != (h, w)
        raise ValueError(f"{input}: frames of {w}x{h} pixels are too small; need at least {MIN_SIDE}x{MIN_SIDE}"
                         + ("; raise --max-size" if downsized else ""))
    if pipe is None:
        pipe = Pipeline(backend=backend, precision=precision, views=views, baseline=baseline, renderer=renderer,
                        dtype=np.uint8, threads=threads, dp_model=dp_model)
    elif (pipe.views, pipe.baseline, pipe.renderer, pipe.dtype) != (views, float(baseline), renderer, np.uint8):
        raise ValueError(f"the pipeline given renders views={pipe.views} baseline={pipe.baseline} {pipe.dtype} with "
                         f"{pipe.renderer}, not views={views} baseline={baseline} uint8 with {renderer}")
    info = pipe.info()
    n = views
    manifest = {
        "source": str(input), "views": [n, n], "baseline": baseline,
        "positions": manifest_positions(n, baseline),
        "fps": float(getattr(source, "fps", 30.0) or 30.0), "view_format": view_format if n else None,
        "backend": info["backend"], "precision": info["precision"], "renderer": renderer,
        "models": [{"name": k, "sha256": m["sha256"]} for k, m in info["models"].items()],
        "calibration": getattr(source, "calibration", None),
    }
    if "deblur" in info:   # renderer dibr-deblur: its Richardson-Lucy iterations and aperture half-width
        manifest["deblur"] = info["deblur"]
    header = getattr(source, "header", None)
    if header is not None:
        manifest["source_size"] = [int(header.height), int(header.width)]   # before --max-size
    extra = {k: v for k, v in (("depth", depth), ("mosaic_max_size", mosaic_max_size)) if v is not None}
    if overwrite:
        clear_run(out)
    writer = OutputWriter(out, view_format, manifest, preview=preview, fps=manifest["fps"], **extra,
                          **(writer_options or {}))
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    skipped: list[int] = []
    total = len(source) if hasattr(source, "__len__") else None
    t0 = time.perf_counter()
    status = "failed"
    failure: BaseException | None = None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="frame", disable=None if progress is None else not progress, file=sys.stderr)

    def skip(index: int, exc: Exception) -> None:
        skipped.append(int(index))
        print(f"dplf-run: warning: frame {index} skipped: {one_line(exc)}", file=sys.stderr)

    pipeline_s = 0.0   # time spent waiting for the pipeline's frames (the rest: queueing the writes)
    try:
        tick = time.perf_counter()
        for out_frame in pipe.stream(source, on_error=on_error, on_skip=skip):
            pipeline_s += time.perf_counter() - tick
            if writer.manifest["frames"] == 0 and "height" not in writer.manifest:
                writer.manifest.update(height=int(out_frame.disparity.shape[0]),
                                       width=int(out_frame.disparity.shape[1]))
            try:
                writer.write(out_frame.index, out_frame.disparity, out_frame.views)
            except OSError as exc:
                raise _failed_write(writer, exc, out, out_frame.index) from exc
            for k, v in out_frame.timings.items():
                samples.setdefault(k, []).append(v)
            bar.update(1)
            tick = time.perf_counter()
        status = "complete"
    except KeyboardInterrupt as exc:
        status, failure = "interrupted", exc
        raise
    except DPFormatError as exc:   # a damaged .dp frame (on_error="stop"): say what is kept and how to go on
        failure = exc
        try:
            writer.flush()   # the frames before it that are still being written
        except OSError as wexc:   # an earlier frame could not be written: that is the first failure
            raise _write_failure(wexc, out, writer.failed_frame, writer.manifest["frames"]) from wexc
        done = writer.manifest["frames"]
        raise DPFormatError(f"{one_line(exc)}; {done} frame{'s' if done != 1 else ''} before it written to {out} "
                            f"(--on-error skip goes past bad frames)", exc.frame, exc.offset) from exc
    except BaseException as exc:
        failure = exc
        raise
    finally:
        bar.close()
        late: BaseException | None = None   # a write that failed (or Ctrl-C) while the last frames were written
        try:
            writer.flush()
        except BaseException as exc:  # noqa: BLE001 - raised below unless an earlier error is on its way
            late = exc
            if status == "complete":
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        wall = time.perf_counter() - t0
        done = writer.manifest["frames"]
        write_s = writer.write_seconds
        timing = {"fps": _fps(done, wall), "wall_s": round(wall, 3),
                  "pipeline_fps": _fps(done, pipeline_s), "pipeline_s": round(pipeline_s, 3),
                  "writer_fps": _fps(done, write_s), "writer_s": round(write_s, 3),
                  "writer_threads": writer.pool.workers, "latency_ms": stage_summaries(samples)}
        try:
            writer.close(status=status, timing=timing, skipped=skipped)
        except OSError as exc:
            late = late or exc
        if late is not None and failure is None:   # otherwise keep the first error: the manifest on disk is the
            if isinstance(late, OSError):        # one written after the last complete frame, still valid
                raise _write_failure(late, out, writer.failed_frame, done) from late
            raise late
    if done == 0:
        raise ValueError(f"input {input} produced no frames (start={start}); check --start/--frames")
    p50 = timing["latency_ms"].get("total", {}).get("p50", float("nan"))
    h, w = writer.manifest["height"], writer.manifest["width"]
    grid = f"{n}x{n} views" if n else "disparity only"
    return (f"dplf-run: {done} frames ({w}x{h}, {grid}) -> {out} in {wall:.1f}s: pipeline "
            f"{timing['pipeline_fps']:.1f} fps, writer {timing['writer_fps']:.1f} fps, overall {timing['fps']:.1f} "
            f"fps, p50 {p50:.1f} ms/frame on {info['backend']}/{info['precision']}"
            + (f"; {len(skipped)} bad frames skipped" if skipped else ""))


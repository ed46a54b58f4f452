"""`engine.Pipeline`: DP pair (+ optional RGB) -> disparity -> layered LF -> rendered views (README, "Python")."""
from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .kernel_package import load as _load_kernels
from .backends import probe_all, select_backend
from .conventions import grid_positions
from .model_store import ModelStore
from .stream_stats import StreamStats
from .validation import as_unit_plane, check_pair

RENDERERS = ("layers", "dibr", "dibr-deblur", "dibr-dp")
_preprocess = _load_kernels("preprocess")


@dataclass
class PipelineOutput:
    """One frame's results. Arrays are the pipeline's reused buffers: call `.copy()` to keep them."""

    disparity: np.ndarray                      # float32 [H, W]
    views: np.ndarray | None                   # [V, U, H, W, 3] float32 or uint8; None with views=0
    timings: dict[str, float]                  # ms per stage
    index: int = 0
    timestamp: float = 0.0
    layers: np.ndarray | None = field(default=None, repr=False)   # [L, R, 3, H, W]
    planes: np.ndarray | None = field(default=None, repr=False)   # [L]
    rgb: np.ndarray | None = field(default=None, repr=False)      # [H, W, 3] float32
    halves: np.ndarray | None = field(default=None, repr=False)   # [2, H, W, 3] float32 ("dibr-dp"'s sources)
    _pipeline: "Pipeline | None" = field(default=None, repr=False)

    def render(self, positions, baseline: float = 1.0, dtype=None) -> np.ndarray:
        """Re-render this frame at explicit (u, v) `positions` [P, 2] without re-running the networks.

        dtype: uint8 or float32 (default: the pipeline's `dtype`)."""
        dtype = self._pipeline.dtype if dtype is None else dtype
        return self._pipeline._render(self, np.asarray(positions, np.float32).reshape(-1, 2), baseline, dtype)

    def copy(self) -> "PipelineOutput":
        dup = lambda a: None if a is None else a.copy()  # noqa: E731
        return PipelineOutput(dup(self.disparity), dup(self.views), dict(self.timings), self.index,
                              self.timestamp, dup(self.layers), dup(self.planes), dup(self.rgb), dup(self.halves),
                              self._pipeline)


class Pipeline:
    """DP -> disparity + light field.

    Args:
        backend: "auto" | "ort-cpu" | "ort-cuda" | ...; auto picks the fastest that works here.
        precision: "auto" | "fp32" | "fp16".
        views: N renders an N x N grid at u, v in linspace(-1, 1, N) * baseline; 0 = disparity only.
        baseline: view-grid half-extent in aperture units (1 = about the physical aperture).
        renderer: "dibr" (occlusion-aware warp of the RGB with the student's D; the v1 default, it measures
            best on real light fields), "dibr-deblur" (the RGB first sharpened by `deblur_iterations`
            Richardson-Lucy steps of the defocus model with the student's D, kernels/deblur.py), "dibr-dp"
            (every view warped from the DP halves, each a view at u = -/+ 1/2 coloured by the RGB and sharpened
            with a half-aperture box; views between them blend both; kernels/dp_views.py) or "layers" (LF
            student + layered renderer). The DIBR renderers warp with the 5x5 median of D
            (kernels.dibr.render_disparity); `disparity` is the student's D as it is.
        deblur_iterations, deblur_radius: the iterations and aperture half-width R (u units) of "dibr-deblur"
            and "dibr-dp" (whose DP halves are sharpened with a box of (R / 2, R)).
        dtype: views as uint8 (default: what files and displays take, 4x fewer bytes, written directly by the
            renderers) or float32 in [0, 1] on request.
        outputs: "host" (numpy) or "device" (CuPy arrays left on the GPU; GPU backends only).
        models_dir: weights folder with its index.json (default $DPLF_MODELS, else the bundled models/weights).
        dp_model / lf_model: model names from that index (default: the index's default for the task).
    """

    def __init__(self, backend: str = "auto", precision: str = "auto", views: int = 7, baseline: float = 1.0,
                 renderer: str = "dibr", dtype=np.uint8, models_dir: str | Path | None = None,
                 threads: int | None = None, outputs: str = "host", dp_model: str | None = None,
                 lf_model: str | None = None, deblur_iterations: int = 3, deblur_radius: float = 0.9):
        if renderer not in RENDERERS:
            raise ValueError(f"unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}")
        if not isinstance(views, (int, np.integer)) or views < 0:
            raise ValueError(f"views must be a non-negative integer, got {views!r}")
        self.views, self.baseline, self.renderer = int(views), float(baseline), renderer
        self.deblur = (int(deblur_iterations), float(deblur_radius)) if renderer in ("dibr-deblur", "dibr-dp") \
            else None
        if self.deblur is not None and (self.deblur[0] < 0 or not 0 <= self.deblur[1] <= 10):
            raise ValueError(f"deblur_iterations must be >= 0 and deblur_radius in [0, 10], got {deblur_iterations}, "
                             f"{deblur_radius}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.uint8):
            raise ValueError(f"dtype must be float32 or uint8, got {self.dtype}")
        self.positions = grid_positions(self.views, 1.0).reshape(-1, 2) if self.views else None
        self.backend, self._why = select_backend(backend, precision, threads)
        self.store = ModelStore(models_dir)
        self.models_dir = self.store.root
        self._dp = self._load(dp_model or self.store.default("dp").name)
        self._lf = self._load(lf_model or self.store.default("lf").name) if renderer == "layers" and self.views \
            else None
        self._buffers: dict[str, np.ndarray] = {}
        if outputs not in ("host", "device"):
            raise ValueError(f"outputs must be 'host' or 'device', got {outputs!r}")
        self.outputs = outputs
        self._gpu = None
        if self.backend.device == "cuda" and getattr(self._dp, "device_io", False):
            from .gpu_executor import GpuExecutor

            self._gpu = GpuExecutor(self._dp, self._lf, self.positions, outputs, getattr(self.backend, "stream", None),
                                    deblur=self.deblur, dp_views=renderer == "dibr-dp")
        elif outputs == "device":
            raise ValueError(f"outputs='device' needs a GPU backend with device I/O; {self.backend.name!r} "
                             f"runs on the host")
        elif self.views:   # compile / load the CPU kernels now, never inside a timed frame
            _load_kernels("dibr" if self._lf is None else "render_layers").warm_up()   # dibr-dp renders by dibr
            if self.deblur is not None:
                _load_kernels("deblur").warm_up()
            if renderer == "dibr-dp":
                _load_kernels("dp_views").warm_up()
        self._lock = threading.Lock()

    # -- setup -------------------------------------------------------------------------------------
    def _load(self, name: str):
        path = self.store.path(name, "onnx_fp16" if self.backend.precision == "fp16" else "onnx")
        session = self.backend.load(path)
        session.model_name, session.path = name, path
        session.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        return session

    def info(self) -> dict:
        """What was picked and why, the models and their hashes, and what every backend says about here."""
        models = {s.model_name: {"path": str(s.path), "sha256": s.sha256, **getattr(s, "metadata", {})}
                  for s in (self._dp, self._lf) if s is not None}
        return {"backend": self.backend.name, "precision": self.backend.precision, "why": self._why,
                "device": self.backend.device, "renderer": self.renderer, "views": self.views,
                **({"deblur": {"iterations": self.deblur[0], "radius": self.deblur[1]}} if self.deblur else {}),
                "baseline": self.baseline, "models": models, "outputs": self.outputs,
                "gpu_hot_path": self._gpu is not None,
                "cuda_graphs": {s.model_name: (getattr(s, "graph_error", None) or "on") for s in (self._dp, self._lf)
                                if s is not None and getattr(s, "use_graphs", False)},
                "backends": {k: {"ok": p.ok, "reason": p.reason} for k, p in probe_all().items()}}

    # -- per frame ---------------------------------------------------------------------------------
    def __call__(self, left, right, rgb=None, *, index: int = 0, timestamp: float = 0.0,
                 black_level: float = 0.0, white_level: float | None = None) -> PipelineOutput:
        with self._lock:
            return self._process(left, right, rgb, index, timestamp, black_level, white_level)

    def _process(self, left, right, rgb, index, timestamp, black_level, white_level) -> PipelineOutput:
        if self._gpu is not None:
            res = self._gpu.process(left, right, rgb, black_level, white_level, self.views, self.baseline,
                                    self.dtype)
            views = res["views"]
            if views is not None:
                views = views.reshape(self.views, self.views, *views.shape[1:])
            return PipelineOutput(res["disparity"], views, res["timings"], index, timestamp, res["layers"],
                                  res["planes"], res["rgb"], res["halves"], _pipeline=self)
        crop, preprocess = _preprocess.crop, _preprocess.preprocess
        t = _Timer()
        check_pair(left, right, rgb)
        left = as_unit_plane(left, "left", black_level, white_level)
        right = as_unit_plane(right, "right", black_level, white_level)
        rgb = as_unit_plane(rgb, "rgb") if rgb is not None else np.repeat(((left + right) * 0.5)[..., None], 3, -1)
        dp, rgb_nchw, (h, w) = preprocess(left, right, rgb)
        t.lap("preprocess")

        disp_pad = self._dp.run({"dp": dp})["disparity"]
        disparity = self._buffer("disparity", (h, w), np.float32)
        np.copyto(disparity, crop(disp_pad, (h, w))[0, 0])
        t.lap("disparity")

        halves = None
        if self.deblur is not None and self.views:
            deblur = _load_kernels("deblur").deblur
            if self.renderer == "dibr-dp":
                iterations, radius = self.deblur
                halves = _load_kernels("dp_views").half_aperture_rgb(rgb, left, right,
                                                                     out=self._buffer("halves", (2,) + rgb.shape,
                                                                                      np.float32))
                for half in halves:
                    deblur(half, disparity, iterations, (radius / 2, radius), out=half)
            else:
                rgb = deblur(rgb, disparity, *self.deblur, out=self._buffer("deblurred", rgb.shape, np.float32))
            t.lap("deblur")
        out = PipelineOutput(disparity, None, t.ms, index, timestamp, rgb=rgb, halves=halves, _pipeline=self)
        if self._lf is not None:
            feeds = {"rgb": rgb_nchw, "dp": dp, "disparity": disp_pad}
            res = self._lf.run({k: v for k, v in feeds.items() if k in self._lf.input_names})
            layers = res["layers"][0]
            out.layers = self._buffer("layers", layers.shape[:3] + (h, w), np.float32)
            np.copyto(out.layers, layers[..., :h, :w])
            out.planes = res["planes"][0].astype(np.float32)
            t.lap("lf")
        if self.views:
            n = self.views
            out.views = self._render(out, self.positions, self.baseline, self.dtype,
                                     self._buffer("views", (n * n, h, w, 3), self.dtype),
                                     self._buffers).reshape(n, n, h, w, 3)
            t.lap("render")
        t.total()
        return out

    def _render(self, out: PipelineOutput, positions: np.ndarray, baseline: float, dtype, buf=None,
                scratch: dict | None = None) -> np.ndarray:
        """scratch: the per-frame path's reusable buffers, shared with the renderers (re-renders from
        `PipelineOutput.render` pass none)."""
        if self._gpu is not None:
            with self._lock:
                return self._gpu.render(out.disparity, out.rgb, out.layers, out.planes, positions, baseline,
                                        np.dtype(dtype), out.halves)
        if out.layers is not None:
            return _load_kernels("render_layers").render_layers(out.layers, out.planes, positions, baseline, out=buf,
                                                                out_dtype=dtype)
        dibr = _load_kernels("dibr")
        disparity = dibr.render_disparity(out.disparity)
        if out.halves is not None:
            return _load_kernels("dp_views").render_from_halves(out.halves, disparity, positions, baseline, out=buf,
                                                                out_dtype=dtype, scratch=scratch)
        return dibr.dibr_warp(out.rgb, disparity, positions, baseline, out=buf, out_dtype=dtype)

    def _buffer(self, name: str, shape, dtype) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(shape, dtype)
        return buf

    # -- streams -----------------------------------------------------------------------------------
    def stream(self, source, *, queue_size: int | None = None, on_error: str = "stop", copy: bool = False,
               on_skip=None, on_frame=None, on_drop=None, drop: str | None = None,
               frame_timeout: float | None = None, stats_window: int = 10_000,
               **source_options) -> Iterator[PipelineOutput]:
        """Run over a source; yields one PipelineOutput per frame (see docs/architecture.md, "Streaming").

        source: what `engine.io.sources.open_source` opens (a .dp file, a DP-pair or LF folder, a side-by-side
            video, an int / "camera:N" / "/dev/videoN" / stream URL; `source_options` go to it: max_size, start,
            frames, layout, timeout_s), or an iterable of frames (objects with .left/.right/.rgb/.index/
            .timestamp, or (left, right[, rgb]) tuples), e.g. an `engine.io.video.CameraSource`.
        A reader thread (`engine.io.video.FrameGrabber`) fills a bounded buffer, so memory stays constant.
        drop: the buffer's policy: "queue" (the reader waits; nothing is dropped; the default for files and
            iterables), "latest" (only the newest frame is kept; the default for live sources, i.e. those
            with `.live` true), "drop-new" (frames arriving at a full buffer are discarded).
        queue_size: buffer size (default 1 under "latest", 4 otherwise).
        on_error: "skip" reports a bad frame (`on_skip(index, exc)`, default: a warning) and goes on; "stop"
            raises. on_frame(out) is called for every output before it is yielded; on_drop(n) when n more
            frames were dropped. Callbacks run on the caller's thread.
        frame_timeout: seconds without a frame before TimeoutError (default 10 s for live sources, else none).
        stats_window: `stats()` percentiles cover the last this-many frames.
        A source opened here is closed at the end; a source object passed in is left open.
        `stats()` describes the running (or the last) stream.
        """
        from .io.video import DROP_POLICIES, FrameGrabber, parse_camera

        if on_error not in ("stop", "skip"):
            raise ValueError(f"on_error must be 'stop' or 'skip', got {on_error!r}")
        if drop is not None and drop not in DROP_POLICIES:
            raise ValueError(f"drop must be one of {', '.join(DROP_POLICIES)}, got {drop!r}")
        if queue_size is not None and queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if stats_window < 1:
            raise ValueError(f"stats_window must be >= 1, got {stats_window}")
        opened = _is_source_spec(source, parse_camera)
        if opened:
            from .io.sources import open_source

            source = open_source(source, skip_bad=on_error == "skip", **source_options)
        elif source_options:
            raise TypeError(f"stream() got source options {sorted(source_options)}, which apply only when it opens "
                            f"a path or camera itself; pass them to the source you built")
        live = bool(getattr(source, "live", False))
        policy = drop or ("latest" if live else "queue")
        if frame_timeout is None and live:
            frame_timeout = max(10.0, 2 * float(getattr(source, "timeout_s", 0.0)))
        grabber = FrameGrabber(source, policy, queue_size, name=f"dplf-reader-{getattr(source, 'name', 'source')}")
        stats = StreamStats(stats_window, policy=policy, live=live,
                            source=str(getattr(source, "name", type(source).__name__)))
        self._stream_stats = stats
        return self._stream(source, grabber, stats, opened=opened, on_error=on_error, copy=copy,
                            on_skip=on_skip or _warn_skip, on_frame=on_frame, on_drop=on_drop,
                            frame_timeout=frame_timeout)

    def _stream(self, source, grabber, stats: "StreamStats", *, opened: bool, on_error: str, copy: bool,
                on_skip, on_frame, on_drop, frame_timeout) -> Iterator[PipelineOutput]:
        hooked = hasattr(source, "report_skip") and getattr(source, "report_skip", None) is None
        if hooked:
            try:
                source.report_skip = lambda index, exc: grabber.note("skip", index, exc)
            except AttributeError:
                hooked = False
        reported = 0

        def drain_notes() -> None:
            nonlocal reported
            for kind, index, exc in grabber.take_notes():
                if kind == "skip":
                    stats.count_skip()
                    on_skip(index, exc)
            dropped = grabber.dropped
            if dropped != reported:
                stats.set_dropped(dropped)
                if on_drop is not None:
                    on_drop(dropped - reported)
                reported = dropped

        timings: dict[str, float] = {}
        stats.begin()
        grabber.start()
        try:
            while True:
                t_wait = time.perf_counter()
                try:
                    got = grabber.get(frame_timeout)
                except TimeoutError:
                    raise TimeoutError(f"{stats.source}: no frame for {frame_timeout:g} s; check that the source is "
                                       f"still delivering (or raise frame_timeout)") from None
                t0 = time.perf_counter()
                drain_notes()
                if got is None:
                    return
                index = got.seq
                try:
                    left, right, rgb, index, timestamp, black, white = _unpack(got.item, got.seq)
                    out = self(left, right, rgb, index=index, timestamp=timestamp, black_level=black,
                               white_level=white)
                except ValueError as exc:
                    if on_error == "stop":
                        raise ValueError(f"frame {index}: {exc}") from exc
                    stats.count_skip()
                    on_skip(index, exc)
                    continue
                if copy:
                    out = out.copy()
                if on_frame is not None:
                    on_frame(out)
                timings.clear()
                timings.update(out.timings)
                timings["read"] = got.read_ms
                timings["wait"] = (t0 - t_wait) * 1e3
                timings["queue"] = (t0 - got.t_in) * 1e3
                timings["latency"] = (time.perf_counter() - got.t_in) * 1e3
                stats.add(timings)
                yield out
        finally:
            stopped = grabber.close()
            drain_notes()
            if hooked:
                source.report_skip = None
            if opened and stopped and hasattr(source, "close"):
                source.close()
            stats.end()

    def stats(self) -> dict:
        """Statistics of the running or last `stream()`: frames, dropped, skipped, fps, wall_s, running, and
        `latency_ms` = {stage: {p50, p95, p99, mean, max, n}} over the last `stats_window` frames. Stages: the
        pipeline's (preprocess, disparity, lf, render, total; upload/download on GPUs) plus read (the source
        producing a frame, on the reader thread), wait (the pipeline waiting for a frame), queue (a frame's time
        in the buffer) and latency (buffer entry -> output ready, callbacks included)."""
        stats = getattr(self, "_stream_stats", None)
        return stats.snapshot() if stats is not None else StreamStats(1).snapshot()


def _is_source_spec(source, parse_camera) -> bool:
    """A path, a camera/stream spec or a (left, right) pair of them: something open_source opens."""
    if isinstance(source, (str, os.PathLike)) or parse_camera(source) is not None:
        return True
    return (isinstance(source, (tuple, list)) and len(source) == 2
            and all(isinstance(s, (str, os.PathLike)) or parse_camera(s) is not None for s in source))


def _unpack(item, seq: int):
    """A stream item -> (left, right, rgb, index, timestamp, black_level, white_level)."""
    if isinstance(item, (tuple, list)):
        if len(item) not in (2, 3):
            raise ValueError(f"stream item {seq}: a tuple must be (left, right) or (left, right, rgb), "
                             f"got {len(item)} elements")
        return item[0], item[1], item[2] if len(item) == 3 else None, seq, 0.0, 0.0, None
    try:
        left, right = item.left, item.right
    except AttributeError:
        raise ValueError(f"stream item {seq} is a {type(item).__name__}; expected a frame with .left/.right "
                         f"or a (left, right[, rgb]) tuple") from None
    return (left, right, getattr(item, "rgb", None), int(getattr(item, "index", seq)),
            float(getattr(item, "timestamp", 0.0)), float(getattr(item, "black_level", 0.0) or 0.0),
            getattr(item, "white_level", None))


def _warn_skip(index: int, exc: Exception) -> None:
    import warnings

    warnings.warn(f"frame {index} skipped: {exc}", stacklevel=3)


class _Timer:
    def __init__(self):
        self.ms: dict[str, float] = {}
        self._t0 = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = (now - self._last) * 1e3
        self._last = now

    def total(self) -> None:
        self.ms["total"] = (time.perf_counter() - self._t0) * 1e3

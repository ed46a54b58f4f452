"""`engine.Pipeline`: DP pair (+ optional RGB) -> disparity -> layered LF -> rendered views (SPEC §5)."""
from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .backends import probe_all, select_backend
from .conventions import grid_positions
from .validation import as_unit_plane, check_pair

DP_MODEL = "dp-disparity-v1"
LF_MODEL = "lf-layers-v1"
RENDERERS = ("layers", "dibr")


def default_models_dir() -> Path:
    """$DPLF_MODELS if set, else the bundled models/weights/."""
    if os.environ.get("DPLF_MODELS"):
        return Path(os.environ["DPLF_MODELS"])
    import models  # torch-free at import time: the package only locates its weights here

    return Path(models.__file__).resolve().parent / "weights"


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
    _pipeline: "Pipeline | None" = field(default=None, repr=False)

    def render(self, positions, baseline: float = 1.0, dtype=np.float32) -> np.ndarray:
        """Re-render this frame at explicit (u, v) `positions` [P, 2] without re-running the networks."""
        return self._pipeline._render(self, np.asarray(positions, np.float32).reshape(-1, 2), baseline, dtype)

    def copy(self) -> "PipelineOutput":
        dup = lambda a: None if a is None else a.copy()  # noqa: E731
        return PipelineOutput(dup(self.disparity), dup(self.views), dict(self.timings), self.index,
                              self.timestamp, dup(self.layers), dup(self.planes), dup(self.rgb), self._pipeline)


class Pipeline:
    """DP -> disparity + light field.

    Args:
        backend: "auto" | "ort-cpu" | "ort-cuda" | ...; auto picks the fastest that works here.
        precision: "auto" | "fp32" | "fp16".
        views: N renders an N x N grid at u, v in linspace(-1, 1, N) * baseline; 0 = disparity only.
        baseline: view-grid half-extent in aperture units (1 = about the physical aperture).
        renderer: "dibr" (occlusion-aware warp of the RGB with the student's D; the v1 default, it measures
            best on real light fields) or "layers" (LF student + layered renderer).
        dtype: views as float32 in [0, 1] or uint8.
        outputs: "host" (numpy) or "device" (CuPy arrays left on the GPU; GPU backends only).
    """

    def __init__(self, backend: str = "auto", precision: str = "auto", views: int = 7, baseline: float = 1.0,
                 renderer: str = "dibr", dtype=np.float32, models_dir: str | Path | None = None,
                 threads: int | None = None, outputs: str = "host"):
        if renderer not in RENDERERS:
            raise ValueError(f"unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}")
        if not isinstance(views, (int, np.integer)) or views < 0:
            raise ValueError(f"views must be a non-negative integer, got {views!r}")
        self.views, self.baseline, self.renderer = int(views), float(baseline), renderer
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.uint8):
            raise ValueError(f"dtype must be float32 or uint8, got {self.dtype}")
        self.positions = grid_positions(self.views, 1.0).reshape(-1, 2) if self.views else None
        self.backend, self._why = select_backend(backend, precision, threads)
        self.models_dir = Path(models_dir) if models_dir else default_models_dir()
        self._dp = self._load(DP_MODEL)
        self._lf = self._load(LF_MODEL) if renderer == "layers" and self.views else None
        self._buffers: dict[str, np.ndarray] = {}
        if outputs not in ("host", "device"):
            raise ValueError(f"outputs must be 'host' or 'device', got {outputs!r}")
        self.outputs = outputs
        self._gpu = None
        if self.backend.device == "cuda" and getattr(self._dp, "device_io", False):
            from .gpu_frame import CudaFrame

            self._gpu = CudaFrame(self._dp, self._lf, self.positions, outputs, getattr(self.backend, "stream", None))
        elif outputs == "device":
            raise ValueError(f"outputs='device' needs a GPU backend with device I/O; {self.backend.name!r} "
                             f"runs on the host")
        self._lock = threading.Lock()

    # -- setup -------------------------------------------------------------------------------------
    def _model_path(self, name: str) -> Path:
        suffix = ".fp16.onnx" if self.backend.precision == "fp16" else ".onnx"
        path = self.models_dir / f"{name}{suffix}"
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} is missing; run `dplf train` and `dplf export`, "
                                    f"or reinstall dplf")
        return path

    def _load(self, name: str):
        path = self._model_path(name)
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
                                  res["planes"], res["rgb"], _pipeline=self)
        from kernels.preprocess import crop, preprocess

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

        out = PipelineOutput(disparity, None, t.ms, index, timestamp, rgb=rgb, _pipeline=self)
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
                                     self._buffer("views", (n * n, h, w, 3), self.dtype)).reshape(n, n, h, w, 3)
            t.lap("render")
        t.total()
        return out

    def _render(self, out: PipelineOutput, positions: np.ndarray, baseline: float, dtype, buf=None) -> np.ndarray:
        if self._gpu is not None:
            with self._lock:
                return self._gpu.render(out.disparity, out.rgb, out.layers, out.planes, positions, baseline,
                                        np.dtype(dtype))
        if out.layers is not None:
            from kernels.render_layers import render_layers

            return render_layers(out.layers, out.planes, positions, baseline, out=buf, out_dtype=dtype)
        from kernels.dibr import dibr_warp

        return dibr_warp(out.rgb, out.disparity, positions, baseline, out=buf, out_dtype=dtype)

    def _buffer(self, name: str, shape, dtype) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(shape, dtype)
        return buf

    # -- streams -----------------------------------------------------------------------------------
    def stream(self, source, *, queue_size: int = 4, on_error: str = "stop", copy: bool = False,
               on_skip=None, **source_options) -> Iterator[PipelineOutput]:
        """Run over a source (a path that `engine.io.sources.open_source` opens, or an iterable of
        frames with .left/.right/.rgb/.index/.timestamp). A reader thread fills a bounded queue, so memory
        stays constant. on_error="skip" reports a bad frame (`on_skip(index, exc)`, default: a warning) and
        goes on; "stop" raises.
        """
        if on_error not in ("stop", "skip"):
            raise ValueError(f"on_error must be 'stop' or 'skip', got {on_error!r}")
        if isinstance(source, (str, Path)):
            from .io.sources import open_source

            source = open_source(source, skip_bad=on_error == "skip", **source_options)
        q: queue.Queue = queue.Queue(maxsize=queue_size)
        stop = threading.Event()
        reader = threading.Thread(target=_read_into, args=(source, q, stop), daemon=True)
        reader.start()
        try:
            while True:
                kind, item = q.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                try:
                    out = self(item.left, item.right, item.rgb, index=item.index, timestamp=item.timestamp)
                except ValueError as exc:
                    if on_error == "stop":
                        raise
                    (on_skip or _warn_skip)(item.index, exc)
                    continue
                yield out.copy() if copy else out
        finally:
            stop.set()
            while reader.is_alive():   # unblock a reader waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    reader.join(0.05)


def _warn_skip(index: int, exc: Exception) -> None:
    import warnings

    warnings.warn(f"frame {index} skipped: {exc}", stacklevel=3)


def _read_into(source: Iterable, q: queue.Queue, stop: threading.Event) -> None:
    try:
        for frame in source:
            if stop.is_set():
                return
            q.put(("frame", frame))
        q.put(("end", None))
    except Exception as exc:  # handed to the consumer, which re-raises it
        q.put(("error", exc))


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

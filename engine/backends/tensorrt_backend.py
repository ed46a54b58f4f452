"""`trt` backend: TensorRT engines (built once into a cache by tensorrt_engine_cache.py), run through CuPy memory.

    backend = TrtBackend("fp16")                     # or select_backend("trt")
    sess = backend.load(Path("models/weights/dp-disparity-v1.onnx"))
    out = sess.run({"dp": dp})                       # numpy [1, 2, H, W] float32 -> {"disparity": [1, 1, H, W]}
    out = sess.run_device({"dp": dp_gpu}, stream)    # CuPy in, CuPy out (session-owned, reused), no sync

Inputs: batch 1, H and W multiples of 16 inside the engine's optimisation profile (default 32x32 .. 1088x1920).
Feeds and results are float32 whatever the engine's I/O type (TensorRT 11 FP16 engines have FP16 I/O: the
session casts into and out of its own buffers on the given stream). No pycuda: CuPy owns all device memory.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Backend, BackendUnavailable, Probe, Session, onnx_metadata
from .registry import register_backend
from .tensorrt_engine_cache import INSTALL_HINT, load_or_build, source_onnx

INSTALL = INSTALL_HINT


class TrtSession(Session):
    """One deserialised engine + execution context. Output buffers are allocated when the input shapes
    change and reused while they stay the same."""

    device_io = True

    def __init__(self, engine_path: Path, metadata: dict | None = None):
        import cupy
        import tensorrt as trt

        self._cp, self._trt = cupy, trt
        self.engine_path, self.metadata = Path(engine_path), dict(metadata or {})
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        try:
            engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        except Exception:  # noqa: BLE001 - TensorRT raises or returns None, depending on the failure
            engine = None
        if engine is None:
            raise BackendUnavailable(f"TensorRT could not deserialise the engine {self.engine_path} (corrupt, or "
                                     f"built by another TensorRT/GPU); delete it or run `dplf export --trt`")
        self._engine = engine
        self._ctx = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.input_names = tuple(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_names = tuple(n for n in names if n not in self.input_names)
        self._dtype = {n: np.dtype(trt.nptype(engine.get_tensor_dtype(n))) for n in names}
        self._limits = {n: [tuple(s) for s in engine.get_tensor_profile_shape(n, 0)] for n in self.input_names}
        self._shapes = None                       # input shapes the buffers below are sized for
        self._staged: dict = {}                   # engine-dtype input copies (non-float32 engines only)
        self._raw: dict = {}                      # engine-dtype outputs, bound to the context
        self._out: dict = {}                      # float32 outputs returned (== _raw when float32)
        self._host_in: dict = {}                  # run(): device copies of host inputs
        self._host_out: dict = {}                 # run(): pinned host outputs
        self._stream = None

    # -- GPU hot path ---------------------------------------------------------------------------
    def run_device(self, feeds: dict, stream) -> dict:
        """feeds: {name: CuPy float32 C-contiguous [1, C, H, W]}; enqueued on `stream` (a cupy.cuda.Stream),
        not synchronised. Returns {name: CuPy float32}, owned by the session, valid until the next call."""
        cp = self._cp
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise ValueError(f"model inputs {missing} were not given; it needs {list(self.input_names)}")
        for n in self.input_names:
            x = feeds[n]
            if not isinstance(x, cp.ndarray) or x.dtype != np.float32 or not x.flags.c_contiguous:
                raise ValueError(f"input {n!r} must be a C-contiguous float32 CuPy array, got "
                                 f"{type(x).__name__} {getattr(x, 'dtype', '')}")
        shapes = tuple(tuple(feeds[n].shape) for n in self.input_names)
        with stream:
            if shapes != self._shapes:
                self._resize(dict(zip(self.input_names, shapes)))
            for n in self.input_names:
                x = feeds[n]
                if n in self._staged:
                    self._staged[n][...] = x       # cast on `stream`
                    x = self._staged[n]
                self._ctx.set_tensor_address(n, x.data.ptr)
            if not self._ctx.execute_async_v3(stream.ptr):
                raise RuntimeError(f"TensorRT failed to enqueue {self.engine_path.name} at input shapes {shapes}")
            for n in self.output_names:
                if self._out[n] is not self._raw[n]:
                    self._out[n][...] = self._raw[n]
        return self._out

    def _resize(self, shapes: dict) -> None:
        cp = self._cp
        for n, shape in shapes.items():
            lo, _, hi = self._limits[n]
            if len(shape) != len(lo) or any(s < a or s > b for s, a, b in zip(shape, lo, hi)):
                raise ValueError(f"input {n!r} of shape {shape} is outside the TensorRT engine's profile "
                                 f"{lo}..{hi}; rebuild it for this size: DPLF_TRT_PROFILE=min,opt,max (HxW) "
                                 f"and `dplf export --trt`, or use --max-size")
            if not self._ctx.set_input_shape(n, shape):
                raise ValueError(f"TensorRT rejected input {n!r} of shape {shape} for {self.engine_path.name}")
        self._staged = {n: cp.empty(s, self._dtype[n]) for n, s in shapes.items() if self._dtype[n] != np.float32}
        self._raw, self._out = {}, {}
        for n in self.output_names:
            shape = tuple(self._ctx.get_tensor_shape(n))
            if any(d < 0 for d in shape):
                raise RuntimeError(f"TensorRT could not infer the shape of output {n!r} ({shape}) from the inputs")
            raw = cp.empty(shape, self._dtype[n])
            self._raw[n] = raw
            self._out[n] = raw if raw.dtype == np.float32 else cp.empty(shape, np.float32)
            self._ctx.set_tensor_address(n, raw.data.ptr)
        self._shapes = tuple(shapes.values())
        self._host_in, self._host_out = {}, {}

    # -- host path ------------------------------------------------------------------------------
    def run_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """numpy in, numpy out (synchronous), through reused device and pinned host buffers; like OrtSession,
        the returned arrays are the session's own and are overwritten by the next call."""
        cp = self._cp
        if self._stream is None:
            self._stream = cp.cuda.Stream(non_blocking=True)
        host = {n: np.ascontiguousarray(feeds[n], dtype=np.float32) for n in self.input_names}
        if tuple(host[n].shape for n in self.input_names) != self._shapes:
            self._host_in = {}
        with self._stream:
            dev = self._host_in or {n: cp.empty(x.shape, np.float32) for n, x in host.items()}
            for n, x in host.items():
                dev[n].set(x, stream=self._stream)
            out = self.run_device(dev, self._stream)
            self._host_in = dev
            if not self._host_out:
                import cupyx

                self._host_out = {n: cupyx.empty_pinned(v.shape, np.float32) for n, v in out.items()}
            for n, v in out.items():
                v.get(stream=self._stream, out=self._host_out[n], blocking=False)
        self._stream.synchronize()
        return self._host_out


@register_backend
class TrtBackend(Backend):
    """TensorRT through the engine cache. `profile`: ((minH, minW), (optH, optW), (maxH, maxW)), default
    $DPLF_TRT_PROFILE or 32x32 / 192x256 / 1088x1920; `cache_dir`: default $DPLF_CACHE or ~/.cache/dplf/trt."""

    name = "trt"
    device = "cuda"
    precisions = ("fp16", "fp32")
    priority = 40

    def __init__(self, precision: str = "fp16", threads: int | None = None, *, cache_dir=None, profile=None):
        super().__init__(precision, threads)
        self.cache_dir, self.profile = cache_dir, profile

    @classmethod
    def probe(cls) -> Probe:
        try:
            import tensorrt as trt
            version = trt.__version__
        except Exception as exc:  # noqa: BLE001 - ImportError, or OSError without libnvinfer
            return Probe(False, f"TensorRT is not installed ({type(exc).__name__}); {INSTALL}")
        try:
            import cupy
        except Exception as exc:  # noqa: BLE001
            return Probe(False, f"CuPy is not installed ({type(exc).__name__}); pip install 'dplf[gpu,tensorrt]'")
        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                return Probe(False, "CuPy sees no CUDA GPU; the trt backend needs an NVIDIA GPU")
            cc = cupy.cuda.Device().compute_capability
        except Exception as exc:  # noqa: BLE001 - CUDARuntimeError without a driver
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Probe(False, f"CuPy sees no CUDA GPU ({why}); the trt backend needs an NVIDIA GPU")
        return Probe(True, f"TensorRT {version}, GPU sm_{cc}")

    def load(self, onnx_path: Path) -> Session:
        """`onnx_path`: `<model>.onnx` or `<model>.fp16.onnx` (either; the build source follows the precision
        and the TensorRT version). Builds the engine into the cache on first use (one log line)."""
        probe = self.probe()
        if not probe.ok:
            raise BackendUnavailable(f"backend 'trt' cannot run here: {probe.reason}")
        import tensorrt as trt

        src = source_onnx(onnx_path, self.precision, trt.__version__)
        engine = load_or_build(src, self.precision, self.cache_dir, self.profile)
        return TrtSession(engine, onnx_metadata(onnx_path))

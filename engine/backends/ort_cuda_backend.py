"""`ort-cuda` backend: ONNX Runtime's CUDAExecutionProvider (onnxruntime-gpu + a CUDA GPU + CuPy), with
device I/O on the pipeline's one CUDA stream."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from .base import Backend, BackendUnavailable, Probe, Session
from .ort_session import OrtSession
from .registry import register_backend


class OrtCudaSession(OrtSession):
    """CUDA EP session whose `run_device` binds CuPy memory directly (no host round trip). It runs on the
    backend's CUDA stream (`user_compute_stream`), and ORT's end-of-run synchronisation is turned off, so work
    stays queued in order with the pipeline's kernels on that one stream."""

    device_io = True

    def __init__(self, path: Path, providers: list, threads: int | None):
        super().__init__(path, providers, threads)
        self._dev_binding = self._sess.io_binding()
        self._dev_out: dict | None = None
        self._dev_key = None
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")

    def run_device(self, feeds: dict, stream) -> dict:
        import cupy

        b = self._dev_binding
        for n in self.input_names:
            x = feeds[n]
            if x.dtype != cupy.float32 or not x.flags.c_contiguous:
                raise ValueError(f"model input {n!r} must be a C-contiguous float32 CuPy array")
            b.bind_input(n, "cuda", x.device.id, np.float32, list(x.shape), x.data.ptr)
        key = tuple((n, feeds[n].shape) for n in self.input_names)
        if key != self._dev_key:
            # first call at this size: ORT allocates on the GPU; then the session owns CuPy buffers of those shapes
            for n in self.output_names:
                b.bind_output(n, "cuda")
            self._sess.run_with_iobinding(b)
            shapes = [o.shape() for o in b.get_outputs()]
            self._dev_out = {n: cupy.empty(tuple(sh), cupy.float32) for n, sh in zip(self.output_names, shapes)}
            self._dev_key = key
            for n, buf in self._dev_out.items():
                b.bind_output(n, "cuda", buf.device.id, np.float32, list(buf.shape), buf.data.ptr)
        self._sess.run_with_iobinding(b, self._run_options)
        return self._dev_out


@register_backend
class OrtCudaBackend(Backend):
    name = "ort-cuda"
    device = "cuda"
    precisions = ("fp32", "fp16")
    priority = 30

    @classmethod
    def probe(cls) -> Probe:
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            return Probe(False, "onnxruntime has no CUDAExecutionProvider (install dplf[gpu] on a CUDA machine)")
        from importlib.util import find_spec

        if find_spec("cupy") is None:   # the pipeline's stream and device buffers
            return Probe(False, "CuPy is not installed (pip install 'dplf[gpu]')")
        return Probe(True, f"onnxruntime {ort.__version__}, CUDAExecutionProvider")

    def load(self, onnx_path: Path) -> Session:
        probe = self.probe()
        if not probe.ok:
            raise BackendUnavailable(f"backend 'ort-cuda' cannot run here: {probe.reason}")
        import cupy

        if getattr(self, "stream", None) is None:   # one stream for every model and the pipeline's kernels
            self.stream = cupy.cuda.Stream(non_blocking=True)
        cuda = ("CUDAExecutionProvider", {"device_id": cupy.cuda.Device().id,
                                          "user_compute_stream": str(self.stream.ptr)})
        return OrtCudaSession(onnx_path, [cuda, "CPUExecutionProvider"], self.threads)

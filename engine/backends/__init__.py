"""Backend registry. `auto` picks the fastest that works here: trt > ort-cuda > torch-cuda > ort-cpu."""
from __future__ import annotations

from .base import Backend, BackendUnavailable, Probe, Session
from .onnxruntime_backend import OrtCpuBackend, OrtCudaBackend
from .tensorrt_backend import TrtBackend
from .torch_cuda_backend import TorchCudaBackend

BACKENDS: dict[str, type[Backend]] = {
    b.name: b for b in (TrtBackend, OrtCudaBackend, TorchCudaBackend, OrtCpuBackend)}
AUTO_ORDER = ("trt", "ort-cuda", "torch-cuda", "ort-cpu")

__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "Probe", "Session", "select_backend", "probe_all"]


def probe_all() -> dict[str, Probe]:
    """What each known backend says about this machine (for `pipe.info()` and `dplf info`)."""
    out = {}
    for name in AUTO_ORDER:
        out[name] = BACKENDS[name].probe()
    return out


def select_backend(name: str = "auto", precision: str = "auto", threads: int | None = None) -> tuple[Backend, str]:
    """Instantiate the backend `name` (or the best available for `auto`). Returns (backend, why)."""
    if name == "auto":
        for candidate in AUTO_ORDER:
            cls = BACKENDS.get(candidate)
            if cls is None:
                continue
            probe = cls.probe()
            if probe.ok:
                prec = _pick_precision(cls, precision)
                return cls(prec, threads), f"auto: {candidate} is the fastest available ({probe.reason})"
        raise BackendUnavailable("no backend can run here (ONNX Runtime missing?); reinstall dplf")
    if name not in BACKENDS:
        known = ", ".join(["auto", *BACKENDS])
        raise ValueError(f"unknown backend {name!r}; choose one of: {known}")
    cls = BACKENDS[name]
    probe = cls.probe()
    if not probe.ok:
        raise BackendUnavailable(f"backend {name!r} cannot run here: {probe.reason}; use --backend ort-cpu")
    return cls(_pick_precision(cls, precision), threads), f"requested: {name} ({probe.reason})"


def _pick_precision(cls: type[Backend], precision: str) -> str:
    if precision == "auto":
        return "fp16" if "fp16" in cls.precisions and cls.device != "cpu" else "fp32"
    return precision

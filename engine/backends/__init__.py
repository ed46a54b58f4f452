"""Backends, registered by name (registry.py). `auto` picks the fastest that works here, in `priority` order:
trt > ort-cuda > torch-cuda > ort-cpu. Importing this package imports every backend module, which registers
it; a backend's heavy dependencies (TensorRT, torch, CuPy) are imported only when it is probed or loaded."""
from __future__ import annotations

from . import ort_cpu_backend, ort_cuda_backend, tensorrt_backend, torch_cuda_backend  # noqa: F401 - registers
from .base import Backend, BackendUnavailable, Probe, Session
from .registry import BACKENDS, auto_order, probe_all, register_backend, select_backend

__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "Probe", "Session", "auto_order", "probe_all",
           "register_backend", "select_backend"]

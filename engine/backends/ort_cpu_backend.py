"""`ort-cpu` backend: ONNX Runtime's CPUExecutionProvider. Always available; FP32 only (FP16 is slower on CPUs)."""
from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from .base import Backend, Probe, Session
from .ort_session import OrtSession
from .registry import register_backend


@register_backend
class OrtCpuBackend(Backend):
    name = "ort-cpu"
    device = "cpu"
    priority = 10

    @classmethod
    def probe(cls) -> Probe:
        return Probe(True, f"onnxruntime {ort.__version__}, CPUExecutionProvider")

    def load(self, onnx_path: Path) -> Session:
        return OrtSession(onnx_path, ["CPUExecutionProvider"], self.threads)

"""Backend interface: loaders turn an ONNX model into a Session; every backend is a peer behind it.

A Backend knows whether it can run here (`probe`) and how to load a model. A Session runs one model:
`session.run(feeds) -> {output name: array}`. Polygraphy's loader/runner split, in miniature.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class BackendUnavailable(RuntimeError):
    """The backend cannot run on this machine; the message says why and what to do."""


@dataclass(frozen=True)
class Probe:
    ok: bool
    reason: str


class Session(ABC):
    """One loaded model. `run` takes and returns host numpy arrays (GPU sessions may accept device arrays)."""

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    @abstractmethod
    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    #: True when `run_device` is implemented (GPU sessions): the pipeline then keeps a frame on the GPU.
    device_io: bool = False

    def run_device(self, feeds: dict, stream) -> dict:
        """GPU hot path. feeds: CuPy float32 C-contiguous arrays on the current device; stream: the
        `cupy.cuda.Stream` the work is enqueued on (nothing is synchronised). Returns CuPy arrays that the
        session owns and reuses: valid until the next call."""
        raise NotImplementedError(f"{type(self).__name__} has no device I/O; use run()")


class Backend(ABC):
    name: str = ""
    device: str = "cpu"
    precisions: tuple[str, ...] = ("fp32",)

    @classmethod
    @abstractmethod
    def probe(cls) -> Probe:
        """Whether this backend can run here, and why (never raises)."""

    @abstractmethod
    def load(self, onnx_path: Path) -> Session: ...

    def __init__(self, precision: str = "fp32", threads: int | None = None):
        if precision not in self.precisions:
            raise ValueError(
                f"backend {self.name!r} supports precision {'/'.join(self.precisions)}, not {precision!r}; "
                f"pass --precision {self.precisions[0]} or pick another backend")
        self.precision = precision
        self.threads = threads


def cuda_device_count() -> int:
    """CUDA devices the driver reports (0 without a driver). Uses libcuda directly, so probing a GPU backend
    imports neither torch nor CuPy. Never raises."""
    import ctypes

    try:
        lib = ctypes.CDLL("libcuda.so.1")
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    except (OSError, AttributeError):
        return 0


def onnx_metadata(path) -> dict:
    """An ONNX file's metadata_props ({} without the `onnx` package or on a read error: it is informational;
    `model_name` names the registered student)."""
    try:
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - ImportError, or an unreadable file that the backend will report itself
        return {}
    return {p.key: p.value for p in proto.metadata_props}

"""Backend interface: loaders turn an ONNX model into a Session; every backend is a peer behind it.

A Backend knows whether it can run here (`probe`) and how to load a model; each registers itself by name
(`registry.register_backend`). A Session runs one model: `session.run(feeds) -> {output name: array}` checks
the feeds once (`check_feeds`) and calls the backend's `run_impl`. Polygraphy's loader/runner split, in
miniature.
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
    """One loaded model. `run` takes and returns host numpy arrays (GPU sessions may accept device arrays).

    Subclasses set `input_names` / `output_names` and implement `run_impl`, which may assume checked feeds.
    `multiple`: H and W of every input must be multiples of it (the networks downsample by 16).
    """

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    multiple: int = 16

    def run(self, feeds: dict) -> dict:
        """feeds {input name: float32 [N, C, H, W]} (extra names are ignored) -> {output name: array}. The
        arrays returned may be the session's reused buffers, overwritten by the next call."""
        check_feeds(feeds, self.input_names, self.multiple)
        return self.run_impl(feeds)

    @abstractmethod
    def run_impl(self, feeds: dict) -> dict:
        """`run` after the feeds were checked."""

    #: True when `run_device` is implemented (GPU sessions): the pipeline then keeps a frame on the GPU.
    device_io: bool = False

    def run_device(self, feeds: dict, stream) -> dict:
        """GPU hot path. feeds: CuPy float32 C-contiguous arrays on the current device; stream: the
        `cupy.cuda.Stream` the work is enqueued on (nothing is synchronised). Returns CuPy arrays that the
        session owns and reuses: valid until the next call."""
        raise NotImplementedError(f"{type(self).__name__} has no device I/O; use run()")


class Backend(ABC):
    """Loads ONNX models into Sessions. `priority`: where `auto` tries it (highest first)."""

    name: str = ""
    device: str = "cpu"
    precisions: tuple[str, ...] = ("fp32",)
    priority: int = 0

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


def check_feeds(feeds: dict, input_names, multiple: int = 16) -> None:
    """One-line ValueError unless every input is given as a float32 4-D NCHW array with H, W multiples of
    `multiple`."""
    missing = [n for n in input_names if n not in feeds]
    if missing:
        raise ValueError(f"model inputs {missing} were not given; it needs {list(input_names)}")
    for n in input_names:
        x = feeds[n]
        shape, dtype = tuple(getattr(x, "shape", ())), getattr(x, "dtype", None)
        if dtype != np.float32:
            raise ValueError(f"model input {n!r} must be float32, got {dtype or type(x).__name__}")
        if len(shape) != 4:
            raise ValueError(f"model input {n!r} must be 4-D [N, C, H, W], got shape {shape}")
        if shape[2] % multiple or shape[3] % multiple:
            raise ValueError(f"model input {n!r} of shape {shape}: H and W must be multiples of {multiple} "
                             f"(pad the input first)")


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

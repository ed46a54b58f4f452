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

"""Backends by name. Each backend module registers its class with `@register_backend`; `auto` tries them in
order of their `priority` (highest first: trt > ort-cuda > torch-cuda > ort-cpu)."""
from __future__ import annotations

from .base import Backend, BackendUnavailable, Probe

BACKENDS: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Class decorator: make `cls` selectable as `cls.name`."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    if BACKENDS.get(cls.name, cls) is not cls:
        raise ValueError(f"backend name {cls.name!r} is taken by {BACKENDS[cls.name].__name__}")
    BACKENDS[cls.name] = cls
    return cls


def auto_order() -> tuple[str, ...]:
    """Backend names in the order `auto` tries them."""
    return tuple(sorted(BACKENDS, key=lambda name: -BACKENDS[name].priority))


def probe_all() -> dict[str, Probe]:
    """What each known backend says about this machine (for `pipe.info()` and `dplf info`)."""
    return {name: BACKENDS[name].probe() for name in auto_order()}


def select_backend(name: str = "auto", precision: str = "auto", threads: int | None = None) -> tuple[Backend, str]:
    """Instantiate the backend `name` (or the best available for `auto`). Returns (backend, why)."""
    if name == "auto":
        for candidate in auto_order():
            cls = BACKENDS[candidate]
            probe = cls.probe()
            if probe.ok:
                return cls(_pick_precision(cls, precision), threads), \
                    f"auto: {candidate} is the fastest available ({probe.reason})"
        raise BackendUnavailable("no backend can run here (ONNX Runtime missing?); reinstall dplf")
    if name not in BACKENDS:
        known = ", ".join(["auto", *auto_order()])
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

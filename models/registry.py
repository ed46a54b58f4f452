"""Model registry: every student architecture registers itself here by name, with its task, I/O names and
model card; training, export and the weights index look models up here instead of hard-coding names.

    @register_model("dp-disparity-v1", task="dp", inputs=("dp",), outputs=("disparity",), card={...},
                    default=True)
    class DPDefocusNet(nn.Module): ...

    build("dp-disparity-v1", **cfg) -> nn.Module        model_card(name) -> dict
    list_models(task=None) -> [name, ...]                default_model("dp") -> "dp-disparity-v1"

torch-free: the architectures (models.architectures, which import torch) fill the registry when imported;
`import models.architectures` before looking a model up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

#: H and W of every student's inputs must be multiples of this (the runtime pads by edge replication)
STRIDE = 16
#: version of the student family, written to the model cards and the ONNX / TorchScript metadata
VERSION = "1"


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: factory (the class), task ("dp" | "lf"), input/output names in ONNX order, the
    model card, the I/O notes written to the exported metadata, and whether it is the task's default (the
    one the runtime loads) and shipped in models/weights/."""

    name: str
    factory: Callable
    task: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    card: dict = field(default_factory=dict)
    io_notes: dict = field(default_factory=dict)
    default: bool = False
    shipped: bool = False


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, task: str, inputs, outputs, card: dict, io_notes: dict | None = None,
                   default: bool = False, shipped: bool | None = None):
    """Class decorator: register `cls` as `name`. A name is registered once; so is a task's default.
    shipped defaults to `default` (a task's default model is the one whose weights ship)."""
    def decorate(cls):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name].factory.__qualname__})")
        if default and any(s.default and s.task == task for s in _REGISTRY.values()):
            raise ValueError(f"task {task!r} already has a default model: {default_model(task)!r}")
        _REGISTRY[name] = ModelSpec(name, cls, task, tuple(inputs), tuple(outputs), dict(card),
                                    dict(io_notes or {}), default, default if shipped is None else shipped)
        return cls
    return decorate


def get_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def build(name: str, **cfg):
    """Instantiate a registered model by name; `cfg` goes to its constructor."""
    return get_spec(name).factory(**cfg)


def model_card(name: str) -> dict:
    """The card of a registered model, with its name and VERSION."""
    return dict(get_spec(name).card, name=name, version=VERSION)


def list_models(task: str | None = None, shipped: bool | None = None) -> list[str]:
    """Registered names (sorted), optionally only those of `task` and/or only the shipped ones."""
    return sorted(n for n, s in _REGISTRY.items()
                  if (task is None or s.task == task) and (shipped is None or s.shipped == shipped))


def tasks() -> list[str]:
    """Tasks that have a default model, sorted."""
    return sorted({s.task for s in _REGISTRY.values() if s.default})


def default_model(task: str) -> str:
    """The default (shipped, runtime-loaded) model name of a task."""
    for s in _REGISTRY.values():
        if s.default and s.task == task:
            return s.name
    raise ValueError(f"no default model for task {task!r}; tasks: {tasks()}")


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())

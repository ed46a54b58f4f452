"""The model weights folder, read through its `index.json` (never by importing `models`).

    store = ModelStore()                       # $DPLF_MODELS, else models/weights beside the engine package
    entry = store.default("dp")                # ModelEntry of the default DP-disparity model
    path = store.path(entry.name, "onnx_fp16") # models/weights/dp-disparity-v1.fp16.onnx

index.json ("dplf-weights/1"): {"format", "defaults": {task: name}, "models": {name: {task, version, inputs,
outputs, files: {onnx, onnx_fp16, torchscript, state_dict, card}}}}. Problems are one-line errors that say
which file and what to do: `ModelStoreError` (a ValueError) for an unreadable or malformed index or an
unknown model, `FileNotFoundError` for a missing folder, index or model file.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

INDEX = "index.json"
INDEX_FORMAT = "dplf-weights/1"
FILE_KINDS = ("onnx", "onnx_fp16", "torchscript", "state_dict", "card")
REINSTALL = "reinstall dplf, or point $DPLF_MODELS at a weights folder"


class ModelStoreError(ValueError):
    """index.json is malformed, or names no such model/task."""


def default_models_dir() -> Path:
    """$DPLF_MODELS if set, else `models/weights` beside the installed `engine` package."""
    if os.environ.get("DPLF_MODELS"):
        return Path(os.environ["DPLF_MODELS"])
    return Path(__file__).resolve().parent.parent / "models" / "weights"


@dataclass(frozen=True)
class ModelEntry:
    """One model of the index: its name, task ("dp" | "lf"), I/O names in ONNX order and files by kind."""

    name: str
    task: str
    version: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)


class ModelStore:
    """A weights folder and its index. The index is read once, when the store is made."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_models_dir()
        index = self.root / INDEX
        if not self.root.is_dir():
            raise FileNotFoundError(f"model folder {self.root} does not exist; {REINSTALL}")
        try:
            data = json.loads(index.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"model index {index} is missing; {REINSTALL}") from None
        except (OSError, ValueError) as exc:
            raise ModelStoreError(f"model index {index} is unreadable ({' '.join(str(exc).split())}); "
                                  f"{REINSTALL}") from None
        self.entries, self.defaults = _parse(data, index)

    def names(self) -> list[str]:
        return list(self.entries)

    def get(self, name: str) -> ModelEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise ModelStoreError(f"model {name!r} is not in {self.root / INDEX}; known: "
                                  f"{', '.join(self.entries) or 'none'}") from None

    def default(self, task: str) -> ModelEntry:
        """The default model for `task` ("dp" or "lf")."""
        if task not in self.defaults:
            raise ModelStoreError(f"{self.root / INDEX} names no default model for task {task!r}")
        return self.get(self.defaults[task])

    def path(self, name: str, kind: str = "onnx", must_exist: bool = True) -> Path:
        """The file of `kind` (one of FILE_KINDS) of model `name`."""
        entry = self.get(name)
        if kind not in entry.files:
            raise ModelStoreError(f"model {name!r} lists no {kind} file in {self.root / INDEX}")
        path = self.root / entry.files[kind]
        if must_exist and not path.is_file():
            raise FileNotFoundError(f"model file {path} is missing; run `dplf train` and `dplf export`, "
                                    f"or {REINSTALL}")
        return path

    def entry_for_file(self, path: str | os.PathLike) -> tuple[ModelEntry, str] | None:
        """(entry, kind) of the model that lists a file named like `path`, or None."""
        name = Path(path).name
        for entry in self.entries.values():
            for kind, file in entry.files.items():
                if file == name:
                    return entry, kind
        return None


def _parse(data, index: Path) -> tuple[dict[str, ModelEntry], dict[str, str]]:
    def bad(what: str) -> ModelStoreError:
        return ModelStoreError(f"model index {index} is malformed: {what}; {REINSTALL}")

    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        raise bad(f"format is not {INDEX_FORMAT!r}")
    models, defaults = data.get("models"), data.get("defaults", {})
    if not isinstance(models, dict) or not isinstance(defaults, dict):
        raise bad("'models' and 'defaults' must be objects")
    entries = {}
    for name, m in models.items():
        try:
            files = {str(k): str(v) for k, v in m["files"].items()}
            entries[name] = ModelEntry(name, str(m["task"]), str(m.get("version", "")), tuple(m["inputs"]),
                                       tuple(m["outputs"]), files)
        except (KeyError, TypeError, AttributeError):
            raise bad(f"model {name!r} needs task, inputs, outputs and files") from None
    for task, name in defaults.items():
        if name not in entries:
            raise bad(f"default {task} model {name!r} is not listed")
    return entries, {str(k): str(v) for k, v in defaults.items()}

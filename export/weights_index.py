"""models/weights/index.json: what the runtime reads to find the bundled models, generated from the registry.

    {"format": "dplf-weights/1", "defaults": {task: name},
     "models": {name: {task, version, inputs, outputs,
                       files: {onnx, onnx_fp16, torchscript, state_dict, card}}}}

Every shipped registered model is listed (files named after the model); `dplf export` rewrites it.
"""
from __future__ import annotations

import json
from pathlib import Path

from engine.io.atomic import atomic_write
from models.architectures import VERSION, default_model, get_spec, list_models, tasks

FORMAT = "dplf-weights/1"
INDEX_NAME = "index.json"


def model_files(name: str) -> dict[str, str]:
    return {"onnx": f"{name}.onnx", "onnx_fp16": f"{name}.fp16.onnx", "torchscript": f"{name}.ts",
            "state_dict": f"{name}.pt", "card": f"{name}.md"}


def build_index() -> dict:
    """The index of the shipped registered models."""
    models = {}
    for name in list_models(shipped=True):
        s = get_spec(name)
        models[name] = {"task": s.task, "version": VERSION, "inputs": list(s.inputs), "outputs": list(s.outputs),
                        "files": model_files(name)}
    return {"format": FORMAT, "defaults": {t: default_model(t) for t in tasks()}, "models": models}


def index_text(index: dict) -> str:
    return json.dumps(index, indent=1) + "\n"


def write_index(folder) -> Path:
    """Write <folder>/index.json from the registry."""
    return atomic_write(Path(folder) / INDEX_NAME, index_text(build_index()).encode())

"""Export trained weights: every <name>.pt of a registered model in a folder -> <name>.onnx (+ .fp16.onnx)
and <name>.ts next to it, then the folder's index.json."""
from __future__ import annotations

from pathlib import Path

import torch

from export.torchscript import export_torchscript
from export.weights_index import write_index
from models.architectures import build, list_models
from models.onnx import export_model


def registered_weights(folder) -> list[Path]:
    """The <name>.pt files in folder whose name is a registered model, sorted."""
    known = set(list_models())
    return [p for p in sorted(Path(folder).glob("*.pt")) if p.stem in known]


def load_weights(pt) -> torch.nn.Module:
    """The registered model named after pt, with pt's state dict, in eval mode on the CPU."""
    pt = Path(pt)
    model = build(pt.stem)
    model.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    return model.eval()


def export_weights(pt, opset: int = 17, fp16: bool = True, torchscript: bool = True) -> dict:
    """<name>.pt -> <name>.onnx (+ <name>.fp16.onnx), validated; and <name>.ts. -> export_model's info
    (+ "torchscript": export_torchscript's info)."""
    pt = Path(pt)
    model = load_weights(pt)
    info = export_model(model, pt.stem, pt.with_suffix(".onnx"), opset=opset, fp16=fp16)
    if torchscript:
        info["torchscript"] = export_torchscript(model, pt.stem, pt.with_suffix(".ts"))
    return info


def export_folder(folder, opset: int = 17, fp16: bool = True, torchscript: bool = True, echo=print) -> list[Path]:
    """export_weights for every registered <name>.pt in folder (one JSON line each through echo), then
    index.json. -> the ONNX paths"""
    import json

    found = registered_weights(folder)
    for pt in found:
        echo(json.dumps(export_weights(pt, opset, fp16, torchscript)))
    write_index(folder)
    return [pt.with_suffix(".onnx") for pt in found]

"""torch -> TorchScript artefact (<name>.ts) of a registered student, for the torch-cuda backend.

    info = export_torchscript(model, "dp-disparity-v1", "models/weights/dp-disparity-v1.ts")

Contract for the runtime: `m = torch.jit.load(path, map_location=device)`; `m(*inputs)` with the inputs in
the ONNX input order (dp; or rgb, dp, disparity) as float32 NCHW tensors, H and W multiples of 16, any size;
it returns a tuple of the outputs in ONNX output order. The file carries `metadata.json` (read it with
`read_metadata(path)` or `torch.jit.load(path, _extra_files={"metadata.json": ""})`): the ONNX metadata
(model_name, version, stride, training_hash, inputs, outputs, ...) plus precision "fp32", trace_size and
matching_impl.

The module is `torch.jit.trace` of the FP32 eval model on the CPU. Tracing records shapes symbolically
(sizes, reshapes, resizes follow the input), so one trace serves every H, W; export checks that on a second
size. Two things a trace would freeze are kept out of the models: the DP student's matching runs as "conv"
(pure torch; "cuda" needs CuPy, "matmul" is only faster on a CPU), and no tensor is created in forward with
an explicit device (it would stay on the tracing device).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from models.architectures import get_spec
from models.onnx import example_inputs, model_metadata

#: the size the trace runs at, and a different one the traced module is checked at
TRACE_SIZE = (64, 96)
CHECK_SIZE = (96, 128)
#: DPDefocusNet's matching implementation traced (pure torch)
TRACE_MATCHING = "conv"


class TupleOutputs(torch.nn.Module):
    """model(*inputs) with its output(s) always as a tuple (the DP student returns one tensor)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        out = self.model(*inputs)
        return out if isinstance(out, tuple) else (out,)


@torch.no_grad()
def trace_model(model: torch.nn.Module, name: str, size: tuple[int, int] = TRACE_SIZE) -> torch.jit.ScriptModule:
    """The traced FP32 eval module of a registered model (on the CPU); it returns a tuple of outputs."""
    model = model.eval().float().cpu()
    matching = getattr(model, "matching", None)
    impl = getattr(matching, "impl", None)
    if impl is not None:
        matching.impl = TRACE_MATCHING
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # deprecation notice; shape checks traced as constants
            traced = torch.jit.trace(TupleOutputs(model), example_inputs(name, *size), check_trace=False)
    finally:
        if impl is not None:
            matching.impl = impl
    return traced


@torch.no_grad()
def max_abs_difference(module, model: torch.nn.Module, name: str, size: tuple[int, int], seed: int = 2) -> float:
    """Max |module - model| over all outputs, on example inputs at size (H, W)."""
    inputs = example_inputs(name, *size, seed=seed)
    got, ref = module(*inputs), model.eval()(*inputs)
    got, ref = (got if isinstance(got, tuple) else (got,)), (ref if isinstance(ref, tuple) else (ref,))
    return max(float(np.abs(g.numpy() - r.numpy()).max()) for g, r in zip(got, ref))


def export_torchscript(model: torch.nn.Module, name: str, path, validate: bool = True) -> dict:
    """Trace `model` (registered as `name`) and save it to `path` with its metadata.
    -> {"path", "trace_size", "max_abs_err" (at CHECK_SIZE, vs the eager model), "bytes"}"""
    spec = get_spec(name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().float().cpu()
    traced = trace_model(model, name)
    meta = dict(model_metadata(model, name), precision="fp32", trace_size="x".join(map(str, TRACE_SIZE)),
                matching_impl=TRACE_MATCHING if spec.task == "dp" and hasattr(model, "matching") else "")
    torch.jit.save(traced, str(path), _extra_files={"metadata.json": json.dumps(meta, indent=1)})
    info = {"path": str(path), "trace_size": list(TRACE_SIZE), "bytes": path.stat().st_size}
    if validate:
        info["max_abs_err"] = max_abs_difference(torch.jit.load(str(path), map_location="cpu"), model, name,
                                                 CHECK_SIZE)
    return info


def read_metadata(path) -> dict:
    """The metadata.json a .ts file carries."""
    extra = {"metadata.json": ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return json.loads(extra["metadata.json"])

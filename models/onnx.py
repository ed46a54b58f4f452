"""torch -> ONNX export of the registered students: opset 17, dynamic H/W, constant folding, metadata,
validation against torch with ONNX Runtime, and an FP16 variant. Used by `dplf train` (after training) and by
`dplf export` (export/), so it lives with the models.

    info = export_model(model, "dp-disparity-v1", "models/weights/dp-disparity-v1.onnx")

The legacy TorchScript exporter (``dynamo=False``, ``dynamic_axes``) still exists in torch 2.13 and is used
first; the dynamo exporter (``dynamic_shapes``) is the fallback.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import torch

from models.architectures import STRIDE, VERSION, count_parameters, get_spec
from models.hashing import state_hash


class ExportError(ValueError):
    """Export or validation failed."""


def _spec(name: str):
    try:
        return get_spec(name)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


def model_metadata(model: torch.nn.Module, name: str) -> dict:
    """The metadata every exported file of a model carries (ONNX metadata_props, TorchScript metadata.json):
    model_name, version, stride, training_hash, params, gmacs_per_megapixel, inputs, outputs (comma-separated,
    in call order) and the model's I/O notes."""
    spec = _spec(name)
    return {
        "model_name": name, "version": VERSION, "stride": STRIDE,
        "training_hash": state_hash(model), "params": count_parameters(model),
        "gmacs_per_megapixel": round(gmacs_per_megapixel(model, name), 3),
        "inputs": ",".join(spec.inputs), "outputs": ",".join(spec.outputs),
        **spec.io_notes,
    }


def example_inputs(name: str, height: int = 64, width: int = 96, batch: int = 1, seed: int = 0) -> tuple:
    """Random inputs of a registered model, in its input order: dp [N,2,H,W] (a textured pair with parallax),
    rgb [N,3,H,W] in [0, 1), disparity [N,1,H,W] (px, std 6)."""
    spec = _spec(name)
    g = torch.Generator().manual_seed(seed)
    shapes = {"dp": (batch, 2, height, width), "rgb": (batch, 3, height, width)}
    out = []
    for key in spec.inputs:
        if key == "disparity":
            out.append(6.0 * torch.randn(batch, 1, height, width, generator=g))
        elif key == "dp":
            # a textured DP pair with parallax: pure per-pixel noise would make matching costs tie everywhere,
            # and a winner-take-all stage then flips between near-equal hypotheses on rounding differences
            base = torch.nn.functional.avg_pool2d(torch.rand(batch, 1, height + 8, width + 8, generator=g), 5, 1)
            left = base[..., 2:2 + height, 2:2 + width]
            right = base[..., 2:2 + height, 0:width]
            out.append(torch.cat([left, right], 1).contiguous())
        else:
            out.append(torch.rand(*shapes[key], generator=g))
    return tuple(out)


def gmacs_per_megapixel(model: torch.nn.Module, name: str, height: int = 192, width: int = 256) -> float:
    """GMACs of one forward pass at width x height, scaled to 1 MP (GMACs = FLOPs / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*example_inputs(name, height, width))
    return counter.get_total_flops() / 2e9 * (1e6 / (height * width))


def _export(model, inputs, path: Path, in_names, out_names, opset: int) -> str:
    dyn = {n: {0: "batch", 2: "height", 3: "width"} for n in in_names}
    for n in out_names:
        dyn[n] = {0: "batch"} if n == "planes" else (
            {0: "batch", 4: "height", 5: "width"} if n == "layers" else {0: "batch", 2: "height", 3: "width"})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, inputs, str(path), dynamo=False, opset_version=opset,
                              input_names=in_names, output_names=out_names, dynamic_axes=dyn,
                              do_constant_folding=True)
        return "torchscript"
    except (TypeError, RuntimeError) as exc:  # legacy exporter removed or failed: use dynamo
        legacy_error = exc
    try:
        h, w = torch.export.Dim("height", min=16, max=8192), torch.export.Dim("width", min=16, max=8192)
        shapes = {n: {2: h, 3: w} for n in in_names}
        prog = torch.onnx.export(model, inputs, dynamo=True, opset_version=opset, input_names=in_names,
                                 output_names=out_names, dynamic_shapes=shapes)
        prog.optimize()
        prog.save(str(path))
        return "dynamo"
    except Exception as exc:  # noqa: BLE001 - report both failures in one line
        raise ExportError(f"ONNX export of {path.name} failed (legacy: {legacy_error}; dynamo: {exc})") from exc


def _set_metadata(path: Path, meta: dict) -> None:
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, str(v)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def read_metadata(path) -> dict:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def _ort_run(path: Path, names, inputs) -> list[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {n: x.numpy() for n, x in zip(names, inputs)})


@torch.no_grad()
def validate_onnx(model, name: str, path, sizes=((64, 96), (48, 80)), seed: int = 1, half: bool = False) -> float:
    """Max |ORT - torch| over all outputs, on random inputs at each (H, W) in sizes (dynamic shapes)."""
    model.eval()
    names = _spec(name).inputs
    worst = 0.0
    for i, (h, w) in enumerate(sizes):
        inputs = example_inputs(name, h, w, seed=seed + i)
        ref = model(*inputs)
        ref = ref if isinstance(ref, tuple) else (ref,)
        got = _ort_run(Path(path), names, [x.half() for x in inputs] if half else inputs)
        for r, g in zip(ref, got):
            if tuple(r.shape) != g.shape:
                raise ExportError(f"{path}: ORT output shape {g.shape} != torch {tuple(r.shape)} at {h}x{w}")
            worst = max(worst, float(np.abs(r.numpy() - g.astype(np.float32)).max()))
    return worst


def export_model(model: torch.nn.Module, name: str, path, opset: int = 17, fp16: bool = True,
                 validate: bool = True) -> dict:
    """Export a registered student to ONNX (+ `<stem>.fp16.onnx`), write metadata, validate with ORT.

    Returns {"path", "fp16_path" | "fp16_note", "max_abs_err", "fp16_max_abs_err", "exporter", "opset",
    "params", "gmacs_per_megapixel", "training_hash"}.
    """
    spec = _spec(name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().float()
    in_names, out_names = list(spec.inputs), list(spec.outputs)
    inputs = example_inputs(name, 64, 96)
    meta = model_metadata(model, name)
    info = {"path": str(path), "opset": opset, **{k: meta[k] for k in ("params", "gmacs_per_megapixel",
                                                                        "training_hash")}}
    info["exporter"] = _export(model, inputs, path, in_names, out_names, opset)
    _set_metadata(path, dict(meta, precision="fp32"))
    if validate:
        info["max_abs_err"] = validate_onnx(model, name, path)
    if fp16:
        half_path = path.with_suffix(".fp16.onnx")
        try:
            # a copy: .half().float() in place would round the caller's FP32 weights to FP16
            _export(copy.deepcopy(model).half(), tuple(x.half() for x in inputs), half_path, in_names, out_names,
                    opset)
            _set_metadata(half_path, dict(meta, precision="fp16"))
            info["fp16_path"] = str(half_path)
            if validate:
                try:
                    info["fp16_max_abs_err"] = validate_onnx(model, name, half_path, half=True)
                except Exception as exc:  # noqa: BLE001 - ORT CPU lacks some fp16 kernels
                    info["fp16_note"] = f"fp16 ONNX written; ORT CPU could not run it: {str(exc)[:160]}"
        except Exception as exc:  # noqa: BLE001 - keep the fp32 export
            info["fp16_note"] = f"fp16 export failed: {str(exc)[:200]}"
    return info

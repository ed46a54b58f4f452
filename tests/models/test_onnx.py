"""ONNX export (models/onnx.py): ORT matches torch, dynamic H/W, metadata, FP16 variant; the shipped weights
re-export to the shipped ONNX's outputs."""
import numpy as np
import pytest
import torch

from models import WEIGHTS_DIR
from models.architectures import build, get_spec, list_models
from models.onnx import example_inputs, export_model, read_metadata, validate_onnx

torch.set_num_threads(1)


def _perturbed(name, seed=0):
    """A student with non-trivial weights (the zero-initialised heads would hide export errors)."""
    torch.manual_seed(seed)
    model = build(name).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


LEARNED_CV = "dp-learned-cv-v0"


@pytest.mark.parametrize("name,tol", [("dp-disparity-v1", 1e-2), (LEARNED_CV, 1e-3), ("lf-layers-v1", 1e-3)])
def test_export_matches_torch_with_dynamic_shapes(tmp_path, name, tol):
    model = _perturbed(name)
    info = export_model(model, name, tmp_path / f"{name}.onnx")
    assert info["opset"] == 17
    assert info["max_abs_err"] < tol  # checked at two sizes inside export_model
    # a third size, and batch 2
    import onnxruntime as ort

    sess = ort.InferenceSession(info["path"], providers=["CPUExecutionProvider"])
    inputs = example_inputs(name, 32, 128, batch=2, seed=7)
    got = sess.run(None, {i.name: x.numpy() for i, x in zip(sess.get_inputs(), inputs)})
    with torch.no_grad():
        ref = model(*inputs)
    ref = ref if isinstance(ref, tuple) else (ref,)
    for r, g in zip(ref, got):
        assert g.shape == tuple(r.shape)
        np.testing.assert_allclose(g, r.numpy(), atol=tol, rtol=1e-3)
    meta = read_metadata(info["path"])
    for key in ("model_name", "version", "training_hash", "io_normalisation", "disparity_units", "params",
                "gmacs_per_megapixel"):
        assert meta.get(key), key
    assert meta["model_name"] == name and float(meta["gmacs_per_megapixel"]) > 1.0
    assert (tmp_path / f"{name}.onnx").stat().st_size < 8e6
    # FP16 variant: written, smaller, and (where ORT CPU runs it) close to fp32 torch
    if "fp16_path" in info:
        assert read_metadata(info["fp16_path"])["precision"] == "fp16"
        if "fp16_max_abs_err" in info:
            assert info["fp16_max_abs_err"] < (0.1 if name.startswith("dp-") else 0.05)
    else:
        assert "fp16_note" in info


def test_validation_detects_a_wrong_model(tmp_path):
    name = LEARNED_CV
    model = _perturbed(name)
    info = export_model(model, name, tmp_path / "m.onnx", fp16=False)
    other = _perturbed(name, seed=1)
    assert validate_onnx(other, name, info["path"]) > 100 * max(info["max_abs_err"], 1e-5)


@pytest.mark.parametrize("name", list_models(shipped=True))
def test_reexported_shipped_weights_match_the_shipped_onnx(tmp_path, name):
    """The architecture modules + shipped .pt export to an ONNX with the shipped ONNX's outputs."""
    import onnxruntime as ort

    model = build(name)
    model.load_state_dict(torch.load(WEIGHTS_DIR / f"{name}.pt", map_location="cpu", weights_only=True))
    info = export_model(model, name, tmp_path / f"{name}.onnx", fp16=False, validate=False)
    assert read_metadata(info["path"])["training_hash"] == read_metadata(WEIGHTS_DIR / f"{name}.onnx")["training_hash"]
    new, shipped = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
                    for p in (info["path"], WEIGHTS_DIR / f"{name}.onnx"))
    inputs = {k: x.numpy() for k, x in zip(get_spec(name).inputs, example_inputs(name, 80, 112, seed=5))}
    for a, b in zip(new.run(None, inputs), shipped.run(None, inputs)):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)


def test_export_leaves_the_callers_weights_unchanged(tmp_path):
    """The FP16 variant is exported from a copy: the model (and a .ts traced after it) keeps its FP32 weights."""
    from models.hashing import state_hash

    model = _perturbed("lf-layers-v1")
    before = state_hash(model)
    export_model(model, "lf-layers-v1", tmp_path / "m.onnx", validate=False)
    assert state_hash(model) == before and all(p.dtype == torch.float32 for p in model.parameters())

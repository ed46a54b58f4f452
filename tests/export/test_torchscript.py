"""TorchScript artefacts (export/torchscript.py): the committed .ts files, traced at 64x96, give the shipped
ONNX's outputs at other sizes; no device is baked into the trace; metadata travels with the file."""
import numpy as np
import pytest
import torch

from export.torchscript import TRACE_SIZE, export_torchscript, read_metadata, trace_model
from models import WEIGHTS_DIR
from models.architectures import build, get_spec, list_models
from models.onnx import example_inputs
from models.onnx import read_metadata as onnx_metadata

torch.set_num_threads(1)
SHIPPED = list_models(shipped=True)


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("size", [(128, 160), (96, 64)])
def test_committed_ts_matches_shipped_onnx_at_other_sizes(name, size):
    import onnxruntime as ort

    assert size != TRACE_SIZE
    ts = torch.jit.load(str(WEIGHTS_DIR / f"{name}.ts"), map_location="cpu")
    inputs = example_inputs(name, *size, seed=3)
    with torch.no_grad():
        got = ts(*inputs)
    assert isinstance(got, tuple) and len(got) == len(get_spec(name).outputs)
    sess = ort.InferenceSession(str(WEIGHTS_DIR / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {k: x.numpy() for k, x in zip(get_spec(name).inputs, inputs)})
    for g, r in zip(got, ref):
        assert g.shape == r.shape
        np.testing.assert_allclose(g.numpy(), r, atol=1e-4, rtol=0)   # measured: <= 3.4e-5


@pytest.mark.parametrize("name", SHIPPED)
def test_committed_ts_metadata_matches_the_onnx(name):
    meta = read_metadata(WEIGHTS_DIR / f"{name}.ts")
    onnx = onnx_metadata(WEIGHTS_DIR / f"{name}.onnx")
    for key in ("model_name", "version", "training_hash", "inputs", "outputs", "io_normalisation"):
        assert str(meta[key]) == onnx[key], key
    assert meta["precision"] == "fp32" and meta["trace_size"] == "64x96"


def test_trace_bakes_in_no_device_and_keeps_the_matching_impl():
    model = build("dp-disparity-v1")
    model.matching.impl = "matmul"
    for name, m in (("dp-disparity-v1", model), ("lf-layers-v1", build("lf-layers-v1"))):
        code = trace_model(m, name).code
        assert "torch.device(" not in code and "cupy" not in code, name
    assert model.matching.impl == "matmul"      # restored after tracing with "conv"


def test_export_torchscript_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = build("lf-layers-v1").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    info = export_torchscript(model, "lf-layers-v1", tmp_path / "m.ts")
    assert info["max_abs_err"] < 1e-4 and info["bytes"] > 100_000
    assert read_metadata(tmp_path / "m.ts")["model_name"] == "lf-layers-v1"

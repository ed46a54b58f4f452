"""torch-cuda backend: the TorchScript artefact beside the ONNX, loaded without any `models` code. The loading
step runs on the CPU; the CUDA session itself is tested in tests/engine/test_gpu_executor.py."""
import json
import subprocess
import sys

import numpy as np
import pytest

from engine.backends import torch_cuda_backend as tcb
from engine.model_store import ModelStore

from tests.paths import ROOT

WEIGHTS = ROOT / "models" / "weights"


def test_torchscript_path_follows_the_index_or_the_stem(tmp_path):
    assert tcb.torchscript_path(WEIGHTS / "dp-disparity-v1.fp16.onnx") == WEIGHTS / "dp-disparity-v1.ts"
    assert tcb.torchscript_path(WEIGHTS / "lf-layers-v1.onnx") == WEIGHTS / "lf-layers-v1.ts"
    assert tcb.torchscript_path(tmp_path / "mine.fp16.onnx") == tmp_path / "mine.ts"   # no index there
    assert tcb.model_io(WEIGHTS / "lf-layers-v1.onnx") == (("rgb", "dp", "disparity"), ("layers", "planes"))


def test_model_io_without_an_index_reads_the_onnx(tmp_path):
    import shutil

    shutil.copy(WEIGHTS / "dp-disparity-v1.onnx", tmp_path / "x.onnx")
    assert tcb.model_io(tmp_path / "x.onnx") == (("dp",), ("disparity",))


def test_missing_or_bad_torchscript_is_one_line(tmp_path):
    pytest.importorskip("torch")
    with pytest.raises(FileNotFoundError, match="run `dplf export`") as err:
        tcb.load_torchscript(tmp_path / "none.ts", "cpu")
    assert "\n" not in str(err.value)
    (tmp_path / "junk.ts").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a loadable TorchScript file") as err:
        tcb.load_torchscript(tmp_path / "junk.ts", "cpu")
    assert "\n" not in str(err.value)


def test_a_torchscript_module_loads_on_cpu_with_its_metadata(tmp_path):
    torch = pytest.importorskip("torch")

    class Diff(torch.nn.Module):
        def forward(self, dp):
            return (dp[:, :1] - dp[:, 1:],)

    path = tmp_path / "m.ts"
    torch.jit.save(torch.jit.script(Diff()), str(path), _extra_files={"metadata.json": json.dumps({"model_name": "m"})})
    module, meta = tcb.load_torchscript(path, "cpu")
    assert meta == {"model_name": "m"} and not module.training
    dp = torch.rand(1, 2, 16, 16)
    (out,) = module(dp)
    torch.testing.assert_close(out, dp[:, :1] - dp[:, 1:])


@pytest.mark.parametrize("name", ["dp-disparity-v1", "lf-layers-v1"])
def test_bundled_torchscript_matches_onnx_on_cpu(name):
    """The exported .ts (written by `dplf export`; skipped until it exists) runs on the CPU: inputs in ONNX order,
    outputs a tuple in ONNX output order, close to ONNX Runtime."""
    torch = pytest.importorskip("torch")
    store = ModelStore()
    ts = tcb.torchscript_path(store.path(name))
    if not ts.is_file():
        pytest.skip(f"{ts.name} is not exported yet")
    import onnxruntime as ort

    entry = store.get(name)
    module, meta = tcb.load_torchscript(ts, "cpu")
    rng = np.random.default_rng(0)
    shapes = {"dp": (1, 2, 32, 48), "rgb": (1, 3, 32, 48), "disparity": (1, 1, 32, 48)}
    feeds = {n: rng.random(shapes[n], dtype=np.float32) for n in entry.inputs}
    with torch.inference_mode():
        got = module(*[torch.from_numpy(feeds[n]) for n in entry.inputs])
    got = got if isinstance(got, (tuple, list)) else (got,)
    ref = ort.InferenceSession(str(store.path(name)), providers=["CPUExecutionProvider"]).run(list(entry.outputs),
                                                                                             feeds)
    assert len(got) == len(entry.outputs)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g.float().numpy(), r, atol=1e-2, rtol=1e-2)


def test_importing_the_backend_imports_neither_torch_nor_models():
    code = ("import sys, engine.backends.torch_cuda_backend as b; b.TorchCudaBackend.probe(); "
            "print(sorted(m for m in ('torch', 'models') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"

"""engine.model_store: the weights folder read through index.json, never by importing `models`."""
import ast
import json
import shutil
from pathlib import Path

import pytest

from engine.model_store import ModelStore, ModelStoreError, default_models_dir

from tests.paths import ROOT

WEIGHTS = ROOT / "models" / "weights"
ENGINE = ROOT / "engine"


def test_bundled_index_defaults_and_files():
    store = ModelStore()
    assert store.root.resolve() == WEIGHTS.resolve() == default_models_dir().resolve()
    dp, lf = store.default("dp"), store.default("lf")
    assert (dp.task, dp.inputs, dp.outputs) == ("dp", ("dp",), ("disparity",))
    assert (lf.task, lf.inputs, lf.outputs) == ("lf", ("rgb", "dp", "disparity"), ("layers", "planes"))
    assert store.path(dp.name, "onnx") == WEIGHTS / f"{dp.name}.onnx"
    assert store.path(dp.name, "onnx_fp16") == WEIGHTS / f"{dp.name}.fp16.onnx"
    assert store.entry_for_file(WEIGHTS / f"{dp.name}.fp16.onnx") == (dp, "onnx_fp16")
    assert store.entry_for_file("other.onnx") is None


def test_dplf_models_overrides_the_folder(tmp_path, monkeypatch):
    shutil.copy(WEIGHTS / "index.json", tmp_path / "index.json")
    monkeypatch.setenv("DPLF_MODELS", str(tmp_path))
    assert ModelStore().root == tmp_path
    with pytest.raises(FileNotFoundError, match="run `dplf train` and `dplf export`") as err:
        ModelStore().path("dp-disparity-v1")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, match", [
    (None, "model index .* is missing"),
    ("{not json", "is unreadable"),
    ('{"format": "other/1"}', "format is not 'dplf-weights/1'"),
    ('{"format": "dplf-weights/1", "models": {"m": {"task": "dp"}}}', "needs task, inputs, outputs and files"),
    ('{"format": "dplf-weights/1", "defaults": {"dp": "x"}, "models": {}}', "default dp model 'x' is not listed"),
])
def test_bad_index_is_one_line(tmp_path, text, match):
    if text is not None:
        (tmp_path / "index.json").write_text(text)
    with pytest.raises((ModelStoreError, FileNotFoundError), match=match) as err:
        ModelStore(tmp_path)
    assert "\n" not in str(err.value) and "DPLF_MODELS" in str(err.value)


def test_unknown_names_say_what_is_known(tmp_path):
    (tmp_path / "index.json").write_text(json.dumps({"format": "dplf-weights/1", "defaults": {}, "models": {}}))
    store = ModelStore(tmp_path)
    with pytest.raises(ModelStoreError, match="no default model for task 'dp'"):
        store.default("dp")
    with pytest.raises(ModelStoreError, match="'nope' is not in"):
        ModelStore().path("nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ModelStore(tmp_path / "missing")


def test_pipeline_takes_model_names_from_the_index(tmp_path):
    from engine import Pipeline

    with pytest.raises(ModelStoreError, match="'no-such-model' is not in"):
        Pipeline(backend="ort-cpu", views=0, dp_model="no-such-model")
    pipe = Pipeline(backend="ort-cpu", views=0, dp_model="dp-disparity-v1")
    assert list(pipe.info()["models"]) == ["dp-disparity-v1"]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_runtime_imports_no_models_export_or_torch_code():
    """engine/ never imports models/ or export/ (not even lazily), and torch only inside the torch-cuda backend."""
    for path in ENGINE.rglob("*.py"):
        found = _imports(path)
        assert not found & {"models", "export"}, (path, found)
        if path.name != "torch_cuda_backend.py":
            assert "torch" not in found, path

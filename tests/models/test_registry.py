"""The model registry (models/registry.py, filled by models/architectures/)."""
import pytest
import torch

from models import registry
from models.architectures import (
    STRIDE,
    build,
    count_parameters,
    default_model,
    get_spec,
    list_models,
    model_card,
    tasks,
)
from models.architectures.dp_disparity_v1 import DPDefocusNet
from models.architectures.dp_learned_cv_v0 import DPDisparityNet
from models.architectures.lf_layers_v1 import LFLayersNet
from models.registry import register_model

torch.set_num_threads(1)


def test_registry_and_budgets():
    assert list_models() == ["dp-disparity-v1", "dp-disparity-v2", "dp-learned-cv-v0", "lf-layers-v1"]
    assert STRIDE == 16
    for name in list_models(task="dp"):
        assert count_parameters(build(name)) <= model_card(name)["max_params"] == 1_500_000, name
    assert count_parameters(build("lf-layers-v1")) <= 3_000_000
    card = model_card("lf-layers-v1")
    assert card["name"] == "lf-layers-v1" and card["version"] == "1" and "architecture" in card
    with pytest.raises(ValueError, match="unknown model"):
        build("nope")


def test_each_name_is_registered_once_with_its_own_class():
    """dp-disparity-v1 is the defocus-matching student from the start (no rebinding at import)."""
    assert get_spec("dp-disparity-v1").factory is DPDefocusNet
    assert get_spec("dp-learned-cv-v0").factory is DPDisparityNet
    assert get_spec("lf-layers-v1").factory is LFLayersNet
    assert "defocus-aware" in model_card("dp-disparity-v1")["architecture"]
    assert "group-correlation" in model_card("dp-learned-cv-v0")["architecture"]
    with pytest.raises(ValueError, match="already registered"):
        register_model("dp-disparity-v1", task="dp", inputs=("dp",), outputs=("disparity",), card={})(object)
    with pytest.raises(ValueError, match="already has a default"):
        register_model("dp-other", task="dp", inputs=("dp",), outputs=("disparity",), card={}, default=True)(object)
    assert "dp-other" not in list_models()


def test_defaults_and_shipped_models_per_task():
    assert tasks() == ["dp", "lf"]
    assert default_model("dp") == "dp-disparity-v1" and default_model("lf") == "lf-layers-v1"
    assert list_models(shipped=True) == ["dp-disparity-v1", "dp-disparity-v2", "lf-layers-v1"]
    assert list_models(task="lf") == ["lf-layers-v1"]
    assert get_spec("lf-layers-v1").inputs == ("rgb", "dp", "disparity")
    assert get_spec("dp-learned-cv-v0").io_notes == get_spec("dp-disparity-v1").io_notes
    with pytest.raises(ValueError, match="no default model"):
        default_model("xyz")


def test_shipped_state_dicts_load_unchanged():
    """Parameter and buffer names of the architecture modules are those of the shipped .pt files."""
    from models import WEIGHTS_DIR

    for name in list_models(shipped=True):
        state = torch.load(WEIGHTS_DIR / f"{name}.pt", map_location="cpu", weights_only=True)
        model = build(name)
        assert set(model.state_dict()) == set(state), name
        model.load_state_dict(state)                      # strict: no missing / unexpected keys


def test_registry_module_is_torch_free():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None; import models.registry, models.training.config, "
            "models.training.cli, export.cli; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-1500:]
    assert registry.count_parameters(build("lf-layers-v1")) > 0

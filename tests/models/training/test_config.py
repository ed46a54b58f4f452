"""TrainConfig (models/training/config.py): validation and defaults from the registry."""
import pytest
import torch

from models.training.config import TrainConfig

torch.set_num_threads(1)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="task must be"):
        TrainConfig(task="xyz").resolved()
    with pytest.raises(ValueError, match="multiple of 16"):
        TrainConfig(task="dp", size=40).resolved()


def test_defaults_come_from_the_registry():
    from models.architectures import default_model

    for task, size in (("dp", 128), ("lf", 96)):
        cfg = TrainConfig(task=task).resolved()
        assert cfg.name == default_model(task) and cfg.size == size


def test_model_picks_a_registered_architecture_of_the_task():
    cfg = TrainConfig(task="dp", model="dp-disparity-v2").resolved()
    assert cfg.model == cfg.name == "dp-disparity-v2"
    with pytest.raises(ValueError, match="model must be one of the registered dp models"):
        TrainConfig(task="dp", model="lf-layers-v1").resolved()

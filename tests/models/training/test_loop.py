"""The training loop (models/training/loop.py): deterministic, writes weights, card and ONNX."""
import numpy as np
import torch

from models.training.config import TrainConfig
from models.training.loop import train
from models.training.samples import flip_sample, render_training_sample

torch.set_num_threads(1)


def test_train_is_deterministic_and_writes_weights_card_onnx(tmp_path):
    def run(out):
        cfg = TrainConfig(task="dp", steps=2, minutes=5, seed=3, out=str(out), batch=2, size=32, buffer=4,
                          refresh=1, val_every=1, log_every=1)
        return train(cfg, log=lambda s: None)

    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    assert a["training_hash"] == b["training_hash"]
    for suffix in (".pt", ".md", ".onnx"):
        assert (tmp_path / "a" / f"dp-disparity-v1{suffix}").exists()
    card = (tmp_path / "a" / "dp-disparity-v1.md").read_text()
    assert "dplf train dp" in card and "Seed: 3" in card and a["training_hash"] in card
    assert a["onnx"]["max_abs_err"] < 1e-3


def test_v2_samples_and_extrapolated_views_train(tmp_path):
    """--synthetic v2 and --max-u reach the renderer: views sit beyond the aperture, and a few steps train."""
    s = render_training_sample(7, 48, "lf", views=6, synthetic="v2", max_u=3.5)
    assert np.abs(s["positions"]).max() > 1.2 and np.abs(s["positions"]).max() <= 3.5
    assert s["views"].shape == (6, 3, 48, 48) and np.isfinite(s["views"]).all()
    res = train(TrainConfig(task="lf", steps=2, batch=2, size=48, buffer=4, synthetic="v2", max_u=3.5,
                            export=False, out=str(tmp_path), val_every=1000), log=lambda m: None)
    assert res["steps"] == 2 and (tmp_path / "lf-layers-v1.pt").is_file()
    assert "--synthetic v2" in (tmp_path / "lf-layers-v1.md").read_text()


def test_lf_training_on_clips_with_consistency_losses(tmp_path):
    """--lf-geo / --lf-temporal: samples become 2-frame clips with motion and a few steps train."""
    s = render_training_sample(5, 32, "lf", views=2, clip=True)
    assert s["next_views"].shape == s["views"].shape and s["next_dp"].shape == s["dp"].shape
    assert not np.array_equal(s["next_rgb"], s["rgb"])                       # the camera moved
    f = flip_sample(s, True, False)
    np.testing.assert_array_equal(f["next_dp"][0], s["next_dp"][1][:, ::-1])
    res = train(TrainConfig(task="lf", steps=2, batch=2, size=32, buffer=4, lf_geo=0.5, lf_temporal=1.0,
                            export=False, out=str(tmp_path), val_every=1000), log=lambda m: None)
    assert res["steps"] == 2 and np.isfinite(res["final"]["val_psnr"])
    card = (tmp_path / "lf-layers-v1.md").read_text()
    assert "--lf-geo 0.5" in card and "--lf-temporal 1" in card


def test_model_option_trains_that_architecture(tmp_path):
    res = train(TrainConfig(task="dp", model="dp-disparity-v2", steps=2, batch=2, size=64, buffer=4, export=False,
                            out=str(tmp_path), val_every=1000), log=lambda m: None)
    state = torch.load(tmp_path / "dp-disparity-v2.pt", weights_only=True)
    assert res["steps"] == 2 and any(k.startswith("matching.aggregate") or k.startswith("refine.") for k in state)
    assert "dp-disparity-v2" in (tmp_path / "dp-disparity-v2.md").read_text()

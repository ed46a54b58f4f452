"""Training recipes (models/train.py): losses go down, runs are deterministic, outputs are written."""
import numpy as np
import pytest
import torch

from models.students import build
from engine.io.lightfield import synthesize_dp
from models.train import TrainConfig, affine_fit_mse, dp_loss, fixed_batch, flip_sample, lf_loss, train

torch.set_num_threads(1)


def _steps(model, loss_fn, batch, n=6, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(n):
        loss = loss_fn(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_dp_training_steps_reduce_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    batch = fixed_batch(123, 2, 32, "dp")
    losses = _steps(build("dp-disparity-v1"), dp_loss, batch, n=10)
    assert losses[-1] < 0.97 * losses[0]


def test_lf_training_steps_reduce_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    batch = fixed_batch(321, 2, 32, "lf", views=2)
    batch["disparity"] = batch["gt_disparity"]
    losses = _steps(build("lf-layers-v1"), lambda m, b: lf_loss(m, b, torch.Generator().manual_seed(0)), batch)
    assert losses[-1] < losses[0]


def test_flip_is_an_exact_symmetry_of_the_sample_layout():
    sample = {"dp": np.random.rand(2, 4, 5).astype(np.float32), "rgb": np.random.rand(3, 4, 5).astype(np.float32),
              "disparity": np.random.rand(1, 4, 5).astype(np.float32), "valid": np.ones((1, 4, 5), np.float32),
              "gt_disparity": np.random.rand(1, 4, 5).astype(np.float32),
              "views": np.random.rand(2, 3, 4, 5).astype(np.float32),
              "positions": np.array([[0.5, -0.25], [-1.0, 1.0]], np.float32)}
    f = flip_sample(sample, True, False)
    np.testing.assert_array_equal(f["dp"][0], sample["dp"][1][:, ::-1])  # new left = mirrored right
    np.testing.assert_array_equal(f["disparity"], sample["disparity"][..., ::-1])  # D keeps its sign
    np.testing.assert_array_equal(f["positions"][:, 0], -sample["positions"][:, 0])
    g = flip_sample(sample, False, True)
    np.testing.assert_array_equal(g["dp"], sample["dp"][:, ::-1])
    np.testing.assert_array_equal(g["positions"][:, 1], -sample["positions"][:, 1])
    back = flip_sample(flip_sample(sample, True, True), True, True)
    for k in sample:
        np.testing.assert_array_equal(back[k], sample[k])


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


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="task must be"):
        TrainConfig(task="xyz").resolved()
    with pytest.raises(ValueError, match="multiple of 16"):
        TrainConfig(task="dp", size=40).resolved()


def test_dp_synthesis_and_affine_fit():
    """Columns left of centre carry the left image: a LF whose views are constant per column."""
    views = np.zeros((9, 9, 4, 4, 3), np.float32)
    for c in range(9):
        views[:, c] = c / 8.0
    left, right, rgb = synthesize_dp(views, 9)
    w = np.array([1, 1, 1, 1, 0.5, 0, 0, 0, 0])
    np.testing.assert_allclose(left, (w * np.arange(9) / 8).sum() / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(right, (w[::-1] * np.arange(9) / 8).sum() / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(rgb, 0.5, rtol=1e-6)
    gt = np.random.default_rng(0).normal(size=(40, 40))
    fit, raw = affine_fit_mse(3.0 * gt + 1.0, gt)
    assert fit < 1e-12 and raw > 1.0


def test_backward_warp_is_the_spec_view_formula():
    """view(x, y) = rgb(x + D u, y + D v): an integer shift for constant D, away from the clamped border."""
    from models.train import backward_warp

    rgb = torch.rand(1, 3, 20, 24)
    d = torch.full((1, 1, 20, 24), 2.0)
    views = backward_warp(rgb, d, torch.tensor([[[1.5, 0.0], [0.0, -1.0]]]))
    torch.testing.assert_close(views[0, 0, :, :, :-3], rgb[0, :, :, 3:])       # x + 3
    torch.testing.assert_close(views[0, 1, :, 2:, :], rgb[0, :, :-2, :])       # y - 2


def test_v2_samples_and_extrapolated_views_train(tmp_path):
    """--synthetic v2 and --max-u reach the renderer: views sit beyond the aperture, and a few steps train."""
    import numpy as np

    from models.train import TrainConfig, render_training_sample, train

    s = render_training_sample(7, 48, "lf", views=6, synthetic="v2", max_u=3.5)
    assert np.abs(s["positions"]).max() > 1.2 and np.abs(s["positions"]).max() <= 3.5
    assert s["views"].shape == (6, 3, 48, 48) and np.isfinite(s["views"]).all()
    res = train(TrainConfig(task="lf", steps=2, batch=2, size=48, buffer=4, synthetic="v2", max_u=3.5,
                            export=False, out=str(tmp_path), val_every=1000), log=lambda m: None)
    assert res["steps"] == 2 and (tmp_path / "lf-layers-v1.pt").is_file()
    assert "--synthetic v2" in (tmp_path / "lf-layers-v1.md").read_text()


def test_lf_geometric_loss_prefers_the_true_disparity():
    """A fronto-parallel plane seen at integer shifts: its views warp back onto each other with the true D."""
    from models.train import backward_warp, lf_geometric_loss

    rgb = torch.rand(1, 3, 40, 48)
    d = torch.full((1, 1, 40, 48), 2.0)
    positions = torch.tensor([[[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    views = backward_warp(rgb, d, positions)
    valid = torch.ones_like(d)
    right = lf_geometric_loss(views, d, valid, positions)
    wrong = lf_geometric_loss(views, torch.zeros_like(d), valid, positions)
    assert float(wrong) > 0.1 and float(right) < 0.02 * float(wrong)
    assert float(lf_geometric_loss(views, torch.zeros_like(d), torch.zeros_like(d), positions)) == 0.0


def test_lf_temporal_loss_charges_flicker_not_a_steady_error():
    from models.train import lf_temporal_loss

    g0, g1 = torch.rand(2, 2, 3, 8, 8), torch.rand(2, 2, 3, 8, 8)
    assert float(lf_temporal_loss(g0 + 0.1, g1 + 0.1, g0, g1)) < 1e-6       # same error in both frames
    noise = 0.1 * torch.randn(2, 2, 2, 3, 8, 8)
    assert float(lf_temporal_loss(g0 + noise[0], g1 + noise[1], g0, g1)) > 0.05


def test_lf_training_on_clips_with_consistency_losses(tmp_path):
    """--lf-geo / --lf-temporal: samples become 2-frame clips with motion and a few steps train."""
    from models.train import render_training_sample

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

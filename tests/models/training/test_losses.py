"""Training losses (models/training/losses.py): they go down on a fixed batch and measure what they say."""
import torch

from models.architectures import build
from models.training.losses import backward_warp, dp_loss, lf_geometric_loss, lf_loss, lf_temporal_loss
from models.training.samples import fixed_batch

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


def test_backward_warp_is_the_spec_view_formula():
    """view(x, y) = rgb(x + D u, y + D v): an integer shift for constant D, away from the clamped border."""
    rgb = torch.rand(1, 3, 20, 24)
    d = torch.full((1, 1, 20, 24), 2.0)
    views = backward_warp(rgb, d, torch.tensor([[[1.5, 0.0], [0.0, -1.0]]]))
    torch.testing.assert_close(views[0, 0, :, :, :-3], rgb[0, :, :, 3:])       # x + 3
    torch.testing.assert_close(views[0, 1, :, 2:, :], rgb[0, :, :-2, :])       # y - 2


def test_lf_geometric_loss_prefers_the_true_disparity():
    """A fronto-parallel plane seen at integer shifts: its views warp back onto each other with the true D."""
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
    g0, g1 = torch.rand(2, 2, 3, 8, 8), torch.rand(2, 2, 3, 8, 8)
    assert float(lf_temporal_loss(g0 + 0.1, g1 + 0.1, g0, g1)) < 1e-6       # same error in both frames
    noise = 0.1 * torch.randn(2, 2, 2, 3, 8, 8)
    assert float(lf_temporal_loss(g0 + noise[0], g1 + noise[1], g0, g1)) > 0.05

"""The differentiable layered LF renderer (models/render_torch.py)."""
import numpy as np
import pytest
import torch

from models.render_torch import render_layers_torch

torch.set_num_threads(1)


def _random_layered(seed, n=1, L=3, R=2, h=12, w=17):
    g = torch.Generator().manual_seed(seed)
    layers = 0.2 + torch.rand(n, L, R, 3, h, w, generator=g)
    planes = 4 * torch.randn(n, L, generator=g)
    positions = 2 * torch.rand(5, 2, generator=g) - 1
    return layers, planes, positions


def test_renderer_integer_shift_and_border_clamp():
    layers = torch.arange(3 * 4 * 6, dtype=torch.float32).reshape(1, 1, 1, 3, 4, 6)
    planes = torch.tensor([[2.0]])
    view = render_layers_torch(layers, planes, torch.tensor([[1.0, 0.0]]))[0, 0]
    src = layers[0, 0, 0]
    torch.testing.assert_close(view[..., :4], src[..., 2:])
    torch.testing.assert_close(view[..., 4:], src[..., 5:].expand(-1, -1, 2))  # border clamp


def test_renderer_matches_kernel_reference():
    ref_mod = pytest.importorskip("kernels.render_layers")
    layers, planes, positions = _random_layered(1)
    ours = render_layers_torch(layers[0], planes[0], positions, baseline=1.3)  # [P, 3, H, W]
    ref = ref_mod.render_layers_reference(layers[0].numpy(), planes[0].numpy(), positions.numpy(), 1.3)
    np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), ref, atol=1e-4, rtol=1e-4)


def test_renderer_per_sample_positions_and_gradients():
    layers, planes, _ = _random_layered(2, n=2)
    layers.requires_grad_(True)
    pos = 2 * torch.rand(2, 3, 2) - 1
    views = render_layers_torch(layers, planes, pos)
    assert views.shape == (2, 3, 3, 12, 17)
    single = render_layers_torch(layers[1], planes[1], pos[1])
    torch.testing.assert_close(views[1], single)
    views.mean().backward()
    assert layers.grad is not None and torch.isfinite(layers.grad).all()
    with pytest.raises(ValueError, match="planes must be"):
        render_layers_torch(layers, planes[:, :2], pos)

"""Students (models/students.py) and the differentiable renderer (models/render_torch.py)."""
import numpy as np
import pytest
import torch

from models.render_torch import render_layers_torch
from models.students import MODELS, STRIDE, build, count_parameters, model_card

torch.set_num_threads(1)


def test_registry_and_budgets():
    assert {"dp-disparity-v1", "lf-layers-v1"} <= set(MODELS)
    assert STRIDE == 16
    for name in MODELS:
        if name.startswith("dp-"):
            assert count_parameters(build(name)) <= 1_500_000, name
    assert count_parameters(build("lf-layers-v1")) <= 3_000_000
    card = model_card("lf-layers-v1")
    assert card["name"] == "lf-layers-v1" and "architecture" in card
    with pytest.raises(ValueError, match="unknown model"):
        build("nope")


# The learned cost-volume student (registered as dp-learned-cv-v0 since dp-disparity-v1 became the
# defocus-matching student, models/defocus_matching.py).
LEARNED_CV = "dp-learned-cv-v0"


def test_dp_student_shapes_and_bad_input():
    model = build(LEARNED_CV).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 2, 32, 48))
    assert out.shape == (2, 1, 32, 48) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match=r"dp must be \[N, 2, H, W\]"):
        model(torch.rand(1, 3, 32, 32))


def test_cost_volume_peaks_at_the_true_shift():
    """Right features = left features moved by D=3 (right(x) = left(x + 3)): correlation peaks at d = 3."""
    model = build(LEARNED_CV, groups=4)
    fl = torch.randn(1, 32, 8, 40)
    fr = torch.roll(fl, shifts=-3, dims=3)  # fr(x) = fl(x + 3)
    vol = model.cost_volume(fl, fr).reshape(1, 25, 4, 8, 40).mean(2)
    best = vol[0, :, :, 8:30].argmax(0) - model.max_shift
    assert (best == 3).all()


def test_lf_student_starts_at_rgb_in_the_centre_view():
    torch.manual_seed(0)
    model = build("lf-layers-v1").eval()
    rgb, dp = torch.rand(2, 3, 32, 48), torch.rand(2, 2, 32, 48)
    disparity = 5 * torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        layers, planes = model(rgb, dp, disparity)
        centre = render_layers_torch(layers, planes, torch.zeros(1, 2))[:, 0]
    assert layers.shape == (2, 3, 12, 3, 32, 48) and planes.shape == (2, 3)
    assert (layers > 0).all()
    torch.testing.assert_close(centre, rgb + model.eps, atol=2e-5, rtol=1e-4)


def test_lf_student_init_is_dibr_for_constant_disparity():
    """Constant D = 4: the initial off-centre view at u = 1 is the rgb moved by 4 px (I(x + D u))."""
    torch.manual_seed(0)
    model = build("lf-layers-v1").eval()
    rgb = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        layers, planes = model(rgb, torch.rand(1, 2, 32, 48), torch.full((1, 1, 32, 48), 4.0))
        view = render_layers_torch(layers, planes, torch.tensor([[1.0, 0.0]]))[0, 0]
    expected = rgb[0, :, :, 4:40] + model.eps
    assert (view[:, :, :36] - expected).abs().mean() < 0.01


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


def test_lf_planes_ignore_a_few_far_outliers_but_keep_a_small_near_object():
    import torch

    from models.students import build

    net = build("lf-layers-v1").eval()
    offsets = net.plane_offsets.detach().view(-1)
    clean = torch.full((1, 1, 80, 80), -2.0)
    clean[..., 56:, 56:] = 3.0                               # a near object on 9 % of the frame: range [-2, 3]
    noisy = clean.clone()
    noisy[..., :8, :8] = -16.0                               # one 8x8 block of a far-off D (a flat-region failure)
    with torch.no_grad():
        (p_clean, _), (p_noisy, _) = net.planes_from(clean), net.planes_from(noisy)
    expected = 0.5 * (3.0 - 2.0) + 0.5 * (3.0 + 2.0) * offsets
    # the quantiles are read off a 256-step grid between min and max: (3 - -16) / 255 = 0.075 px resolution
    torch.testing.assert_close(p_clean[0], expected, atol=0.08, rtol=0)
    torch.testing.assert_close(p_noisy[0], expected, atol=0.08, rtol=0)   # min/max alone: a plane at -16

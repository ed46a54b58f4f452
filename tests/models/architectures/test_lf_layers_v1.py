"""lf-layers-v1 (models/architectures/lf_layers_v1.py): the initial state is the rgb / a layered DIBR; robust planes."""
import torch

from models.architectures import build
from models.render_torch import render_layers_torch

torch.set_num_threads(1)


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


def test_lf_planes_ignore_a_few_far_outliers_but_keep_a_small_near_object():
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

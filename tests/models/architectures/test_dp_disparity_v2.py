"""dp-disparity-v2 (models/architectures/dp_disparity_v2.py): whole-image matching at half resolution +
refinement, upsampled to the input's size."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.architectures import build, count_parameters, model_card
from models.onnx import export_model
from tests.models.test_zncc_matching import _plane_dp

torch.set_num_threads(1)


def test_registered_within_the_parameter_budget():
    net = build("dp-disparity-v2")
    assert model_card("dp-disparity-v2")["task"].startswith("DP pair")
    assert count_parameters(net) <= 1_500_000


def test_untrained_student_is_the_half_resolution_matcher_upsampled():
    dp = _plane_dp(6.0, "lf-grid", size=64)
    net = build("dp-disparity-v2").eval()
    with torch.no_grad():
        d0, _ = net.matching(F.avg_pool2d(dp, 2))
        want = F.interpolate(2.0 * d0, size=(64, 64), mode="bilinear", align_corners=False)
        got = net(dp)
    assert got.shape == (1, 1, 64, 64)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    assert abs(float(got[0, 0, 16:-16, 16:-16].median()) - 6.0) < 1.0   # px at the input's resolution


def test_onnx_export_matches_torch(tmp_path):
    net = build("dp-disparity-v2").eval()
    torch.nn.init.normal_(net.refine.head.weight, std=0.05)   # a non-trivial refinement
    info = export_model(net, "dp-disparity-v2", tmp_path / "v2.onnx", fp16=False)
    assert info["max_abs_err"] < 1e-3


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"dp must be \[N, 2, H, W\]"):
        build("dp-disparity-v2")(torch.rand(1, 3, 32, 32))

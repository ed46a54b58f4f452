"""dp-disparity-v1 (models/architectures/dp_disparity_v1.py): matching + refinement + gated guided filter."""
import numpy as np
import pytest
import torch

from models.architectures.dp_disparity_v1 import DPDefocusNet
from tests.models.test_defocus_matching import _plane_dp

torch.set_num_threads(1)


def test_untrained_student_returns_the_matching_estimate():
    """Without the guided filter (smooth_radius=0) an untrained student is the matching itself (the default's
    filtered version: tests/models/test_guided_filter.py)."""
    dp = _plane_dp(4.0, "lf-grid")
    net = DPDefocusNet(smooth_radius=0).eval()
    with torch.no_grad():
        np.testing.assert_allclose(net(dp).numpy(), net.matching(dp)[0].numpy(), atol=1e-6)


def test_matching_implementations_agree_and_bad_input_is_refused():
    dp = _plane_dp(-3.0, "lf-grid", size=64)
    net = DPDefocusNet().eval()
    with torch.no_grad():
        conv = net(dp)
        net.matching.impl = "matmul"
        torch.testing.assert_close(net(dp), conv, atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match=r"dp must be \[N, 2, H, W\]"):
        net(torch.rand(1, 3, 32, 32))

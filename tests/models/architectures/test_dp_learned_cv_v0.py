"""dp-learned-cv-v0 (models/architectures/dp_learned_cv_v0.py): shapes, input checks, the cost volume."""
import pytest
import torch

from models.architectures import build

torch.set_num_threads(1)

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

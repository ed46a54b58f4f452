"""engine.backends.base: Session.run checks the feeds once, then calls run_impl."""
import numpy as np
import pytest

from engine.backends.base import Session, check_feeds
from engine.backends.ort_cpu_backend import OrtCpuBackend
from engine.model_store import ModelStore


class Echo(Session):
    input_names, output_names = ("dp",), ("disparity",)

    def __init__(self):
        self.calls = 0

    def run_impl(self, feeds):
        self.calls += 1
        return {"disparity": feeds["dp"][:, :1]}


@pytest.mark.parametrize("feeds, match", [
    ({}, r"model inputs \['dp'\] were not given"),
    ({"dp": np.zeros((1, 2, 16, 16), np.float64)}, "must be float32, got float64"),
    ({"dp": np.zeros((2, 16, 16), np.float32)}, r"must be 4-D \[N, C, H, W\]"),
    ({"dp": np.zeros((1, 2, 16, 24), np.float32)}, "H and W must be multiples of 16"),
])
def test_bad_feeds_fail_before_run_impl(feeds, match):
    sess = Echo()
    with pytest.raises(ValueError, match=match) as err:
        sess.run(feeds)
    assert sess.calls == 0 and "\n" not in str(err.value)


def test_good_feeds_reach_run_impl_and_extras_are_ignored():
    sess = Echo()
    dp = np.ones((1, 2, 32, 16), np.float32)
    assert sess.run({"dp": dp, "rgb": "ignored"})["disparity"].shape == (1, 1, 32, 16) and sess.calls == 1
    check_feeds({"dp": np.zeros((1, 2, 8, 8), np.float32)}, ("dp",), multiple=8)


def test_ort_session_goes_through_the_checks():
    sess = OrtCpuBackend().load(ModelStore().path("dp-disparity-v1"))
    with pytest.raises(ValueError, match="multiples of 16"):
        sess.run({"dp": np.zeros((1, 2, 20, 32), np.float32)})
    out = sess.run({"dp": np.full((1, 2, 32, 32), 0.5, np.float32)})["disparity"]
    assert out.shape == (1, 1, 32, 32) and np.isfinite(out).all()

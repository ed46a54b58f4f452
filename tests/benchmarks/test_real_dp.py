"""The real-DP metric (benchmarks/real_dp.py): Spearman against scipy, the in-focus offset search, and the
section on the real Pixel 4 captures."""
import numpy as np
import pytest
from scipy.stats import spearmanr

from benchmarks import real_dp


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 20, 500).astype(float)     # many ties
    b = a + rng.normal(0, 5, 500)
    assert real_dp.spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_rank_score_finds_the_in_focus_offset():
    """A signed D whose |D - 1.5| is the GT scores 1 at D0 = 1.5; its negative scores the same (sign-free)."""
    rng = np.random.default_rng(1)
    d = rng.uniform(-3, 6, (64, 80)).astype(np.float32)
    gt = np.abs(d - 1.5) + 0.01
    rho, d0 = real_dp.rank_score(d, gt)
    assert rho > 0.99 and abs(d0 - 1.5) < 0.3
    assert real_dp.rank_score(-d, gt)[0] > 0.99
    assert real_dp.rank_score(rng.normal(size=d.shape).astype(np.float32), gt)[0] < 0.2


def test_real_captures_section(data_dir):
    rows, notes = real_dp.real_dp_rows(data_dir, dplf_disparity=None, log=lambda m: None)
    if notes:
        pytest.skip(notes[0])
    assert {r["scene"] for r in rows} == {f"pixel4_dp/{n}" for n in real_dp.DEV_CAPTURES}
    scores = real_dp.summary(rows)["sgbm"]
    assert 0.0 < scores["min"] <= scores["mean"] < 1.0 and scores["captures"] == 6

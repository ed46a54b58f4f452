"""benchmarks/demo_truth.py: the demo sample scored against its shipped ground truth."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import demo_truth


@pytest.fixture(scope="module")
def truth():
    return demo_truth.load_truth()[0]


def test_metrics_on_the_ground_truth_itself(truth):
    gt = truth[:2]
    for g in gt:
        assert demo_truth.pearson(g, g) == pytest.approx(1.0, abs=1e-12)
        assert demo_truth.pearson(-g, g) == pytest.approx(-1.0, abs=1e-12)
        mae, gain, offset = demo_truth.affine_mae(2.5 * g - 0.7, g)   # an affine copy: exact after the fit
        assert mae == pytest.approx(0.0, abs=1e-5)
        assert (gain, offset) == (pytest.approx(0.4, abs=1e-5), pytest.approx(0.28, abs=1e-5))
    s = demo_truth.score_frames([3.0 * g + 1.0 for g in gt], gt)
    assert s["pearson_min"] == pytest.approx(1.0, abs=1e-9) and s["mae_affine_px_max"] == pytest.approx(0, abs=1e-5)
    assert len(s["pearson_per_frame"]) == 2
    noisy = [g + np.random.default_rng(i).normal(0, 0.2, g.shape).astype(np.float32) for i, g in enumerate(gt)]
    s = demo_truth.score_frames(noisy, gt)
    assert 0 < s["pearson_min"] < 0.99 and s["mae_affine_px_mean"] > 0.01
    assert demo_truth.pearson(np.ones_like(gt[0]), gt[0]) != demo_truth.pearson(np.ones_like(gt[0]), gt[0])  # nan
    with pytest.raises(ValueError, match="predictions"):
        demo_truth.score_frames([gt[0]], gt)


def test_evaluate_demo_on_two_frames(truth):
    rows = demo_truth.evaluate_demo(frames=[0, 20], threads=1, log=lambda m: None)
    by = {r["name"]: r for r in rows}
    assert set(by) == {"dplf", "sgbm"}
    for r in rows:
        assert r["scene"] == "demo" and r["frames"] == [0, 20]
        assert (r["height"], r["width"]) == truth.shape[1:]
        m = r["metrics"]
        assert len(m["pearson_per_frame"]) == 2 and m["pearson_min"] <= m["pearson_mean"] <= 1.0
        assert m["mae_affine_px_mean"] > 0 and r["latency_ms"]["p50"] > 0
    dplf = by["dplf"]["metrics"]
    assert dplf["dp_model"] == "dp-disparity-v1" and by["dplf"]["backend"] == "ort-cpu"
    assert all(r > 0.3 for r in dplf["pearson_per_frame"])   # measured 0.43 / 0.64
    assert by["sgbm"]["metrics"]["sgbm"] == {"max_disparity": 16.0, "upscale": 2}
    assert demo_truth.demo_gaps(rows, want_dplf=True) == []
    assert demo_truth.demo_gaps(rows[1:], want_dplf=True) == ["demo: no dplf row"]


def test_quality_cli_demo_only(tmp_path, capsys):
    from benchmarks import quality

    out = tmp_path / "q.json"
    assert quality.main(["--demo-only", "--demo-frames", "1", "--threads", "1", "--json", str(out)]) == 0
    assert "demo sample vs its ground truth" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert [(r["scene"], r["name"]) for r in doc["rows"]] == [("demo", "dplf"), ("demo", "sgbm")]
    assert doc["report_missing"] == [] and doc["settings"]["demo"]["frames"] == 1
    assert quality.main(["--demo-only", "--no-demo"]) == 2

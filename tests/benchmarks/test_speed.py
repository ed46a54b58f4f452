"""benchmarks/speed.py: rows, JSON shape and the pipeline rows."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.common import parse_sizes, synthetic_frame
from engine.latency import latency_summary


def _image(seed=0, h=64, w=80):
    _, _, rgb = synthetic_frame(h, w, seed=seed)
    return np.clip(np.rint(rgb * 200 + 20), 0, 255).astype(np.uint8)  # away from 0/255: no clipping below


# ---- speed.py --------------------------------------------------------------------------------------------
def test_common_helpers():
    assert parse_sizes("256x192, 640x480") == [(192, 256), (480, 640)]
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_sizes("640by480")
    p = latency_summary(list(range(1, 101)))
    assert p["p50"] == pytest.approx(50.5) and p["p99"] == pytest.approx(99.01)


def test_speed_baseline_row_and_json_shape(tmp_path):
    from benchmarks import speed
    from benchmarks.common import host_info, write_json

    from benchmarks.classical_speed import bench_sgbm_dibr

    frame = synthetic_frame(32, 48)
    row = bench_sgbm_dibr((32, 48), 3, iters=3, warmup=1, frame=frame, max_seconds=5.0)
    path = tmp_path / "s.json"
    write_json(path, "cpu: test", host_info(1), [row])
    doc = json.loads(path.read_text())
    r = doc["rows"][0]
    for key in ("name", "kind", "backend", "precision", "height", "width", "views", "fps", "latency_ms",
                "params", "gmacs", "metrics"):
        assert key in r
    assert (r["height"], r["width"], r["views"], r["iters"]) == (32, 48, 3, 3)
    assert r["fps"] > 0 and r["latency_ms"]["p50"] <= r["latency_ms"]["p99"]
    assert {"python", "numpy", "onnxruntime", "opencv", "torch", "threads"} <= set(doc["host"])


def test_speed_smoke_with_pipeline():
    from benchmarks import speed

    rows, notes = speed.run([(48, 64)], ["ort-cpu"], views=3, iters=2, warmup=1, threads=1, baselines=(),
                            log=lambda m: None)
    assert not notes, notes
    assert [r["name"] for r in rows] == ["dplf", "dplf-layers", "dplf-disparity"]
    for row in rows:
        assert row["kind"] == "dplf" and row["backend"] == "ort-cpu" and row["fps"] > 0
        assert {"preprocess", "disparity", "total"} <= set(row["stages_ms"])
        assert ("render" in row["stages_ms"]) == (row["views"] > 0)
        assert row["params"] and row["params"] > 0 and row["metrics"]["dtype"] == "uint8"
    assert [r["views"] for r in rows] == [3, 3, 0]


def test_classical_rows_and_ratios():
    """sgbm / sgbm-dibr / remap-floor at one size, each with the stages it times, and the ratio rules."""
    from benchmarks import classical_speed, speed

    frame = synthetic_frame(32, 48)
    rows = classical_speed.bench_classical((32, 48), 3, iters=3, warmup=1, frame=frame, max_seconds=5.0)
    assert [r["name"] for r in rows] == ["sgbm", "sgbm-dibr", "remap-floor"]
    assert [r["views"] for r in rows] == [0, 3, 3]
    assert set(rows[0]["stages_ms"]) == {"disparity", "total"} and set(rows[2]["stages_ms"]) == {"render", "total"}
    assert rows[1]["metrics"]["dtype"] == rows[2]["metrics"]["dtype"] == "uint8"
    fake = lambda name, views, fps, render=None: {  # noqa: E731
        "name": name, "kind": "dplf", "backend": "ort-cpu", "height": 32, "width": 48, "views": views, "fps": fps,
        "stages_ms": {"render": {"p50": render}} if render else {}}
    dplf, disp = fake("dplf", 3, 10.0, render=6.0), fake("dplf-disparity", 0, 40.0)
    rel = speed.ratios([dplf, disp, *rows])
    assert {(r["dplf_backend"], r["baseline"]) for r in rel} == {("ort-cpu", "sgbm-dibr"), ("ort-cpu", "remap-floor"),
                                                                ("ort-cpu", "sgbm")}
    (vs_sgbm,) = [r for r in rel if r["baseline"] == "sgbm"]
    assert vs_sgbm["fps_ratio"] == pytest.approx(40.0 / rows[0]["fps"], rel=1e-2, abs=1e-3)  # rounded to 3 decimals
    (render,) = classical_speed.render_ratios([dplf, *rows])
    assert render["ratio"] == pytest.approx(6.0 / rows[2]["stages_ms"]["render"]["p50"], rel=1e-2, abs=1e-3)


def test_sgbm_dibr_uint8_views_are_the_float_views_rounded():
    from benchmarks.baselines.dibr_baseline import SgbmDibr

    left, right, rgb = synthetic_frame(32, 48)
    d8, v8 = SgbmDibr(views=3, dtype=np.uint8)(left, right, rgb)
    d32, v32 = SgbmDibr(views=3)(left, right, rgb)
    assert v8.dtype == np.uint8 and v32.dtype == np.float32
    np.testing.assert_array_equal(d8, d32)
    diff = np.abs(v8.astype(np.int16) - np.clip(np.rint(v32 * 255), 0, 255).astype(np.int16))
    assert diff.max() <= 1


def test_disparity_vs_sgbm_row():
    """The disparity stage and SGBM timed interleaved on one frame: structure and positive times (no speed)."""
    from benchmarks import disparity_speed, speed

    row = disparity_speed.bench_disparity_vs_sgbm("ort-cpu", (96, 128), threads=1, iters=3, warmup=1,
                                                  dp_model="dp-disparity-v1", cost=speed.dplf_cost)
    assert (row["name"], row["kind"], row["backend"], row["views"]) == ("disparity-vs-sgbm", "disparity", "ort-cpu", 0)
    assert (row["height"], row["width"], row["iters"]) == (96, 128, 3)
    m = row["metrics"]
    assert m["dp_model"] == "dp-disparity-v1" and m["threads"] == 1
    assert m["sgbm"] == {"max_disparity": 16.0, "upscale": 2}   # the SGBM baseline's own settings
    assert row["latency_ms"]["p50"] > 0 and m["sgbm_ms"]["p50"] > 0 and row["fps"] > 0
    assert set(row["stages_ms"]) == {"preprocess", "disparity", "total"}
    assert m["ratio_p50"] == pytest.approx(row["latency_ms"]["p50"] / m["sgbm_ms"]["p50"], rel=1e-2)
    assert m["ratio_mean"] > 0 and m["ratio_paired_median"] > 0 and m["ratio_preprocess_disparity_p50"] > 0
    assert row["params"] > 0 and list(row["models"]) == ["dp-disparity-v1"]
    assert "SGBM" in disparity_speed.describe(row)


def test_speed_cli_disparity_row_only(tmp_path, capsys):
    from benchmarks import speed

    out = tmp_path / "s.json"
    assert speed.main(["--disparity-row", "only", "--disparity-size", "128x96", "--disparity-threads", "1",
                       "--backends", "ort-cpu", "--iters", "3", "--warmup", "1", "--json", str(out)]) == 0
    assert "x SGBM's time" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert [r["name"] for r in doc["rows"]] == ["disparity-vs-sgbm"]
    (ratio,) = doc["disparity_ratios"]
    assert ratio["dp_model"] == "dp-disparity-v1" and ratio["threads"] == 1 and ratio["ratio_p50"] > 0
    rows, notes = speed.disparity_rows(["ort-cpu"], (96, 128), 1, iters=3, warmup=1, dp_model="no-such-model",
                                       log=lambda m: None)
    assert rows == [] and "no-such-model" in notes[0]

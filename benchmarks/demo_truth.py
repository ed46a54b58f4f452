"""The demo sample against its ground truth, for benchmarks/quality.py (docs/benchmarks.md, "Demo sample").

samples/make_demo.py writes samples/demo.dp and, beside it, samples/demo_gt.npz: the true D of every frame.
Per frame, a method's D is scored against it over the image minus a border of DEMO_BORDER pixels:

- Pearson correlation of D with the ground truth (1 = an exact affine copy; the sign matters),
- the mean absolute error after the least-squares affine fit gain * D + offset ~ GT (pixels of D),

and per method the mean and the worst frame (lowest correlation, highest error). Methods: `dplf` (the
pipeline's DP student, `Pipeline(views=0)` on the chosen backend and DP model) and `sgbm` (OpenCV SGBM on the
same DP pair with the baseline's settings, benchmarks/baselines/dibr_baseline.py).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import metrics as M  # noqa: E402
from benchmarks.common import ROOT, fmt, print_table  # noqa: E402

DEMO = ROOT / "samples" / "demo.dp"
DEMO_BORDER = 8
SCENE = "demo"


def gt_path(demo: Path = DEMO) -> Path:
    """The ground truth that samples/make_demo.py writes beside `demo`: `<stem>_gt.npz`."""
    demo = Path(demo)
    return demo.with_name(demo.stem + "_gt.npz")


def load_truth(demo: Path = DEMO) -> tuple[np.ndarray, dict]:
    """(GT D float32 [N, H, W], metadata dict) of a demo file."""
    path = gt_path(demo)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python samples/make_demo.py` to write it")
    with np.load(path) as z:
        return z["disparity"].astype(np.float32), json.loads(str(z["meta"]))


def pearson(pred: np.ndarray, gt: np.ndarray, border: int = DEMO_BORDER) -> float:
    """Pearson correlation of two maps [H, W] over the interior (nan if either is constant there)."""
    M._check_same(pred, gt, "pearson")
    x = M.interior(pred, border).astype(np.float64).ravel()
    y = M.interior(gt, border).astype(np.float64).ravel()
    x, y = x - x.mean(), y - y.mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else float("nan")


def affine_mae(pred: np.ndarray, gt: np.ndarray, border: int = DEMO_BORDER) -> tuple[float, float, float]:
    """(mean |gain * pred + offset - gt|, gain, offset) over the interior, gain/offset by least squares."""
    gain, offset = M.affine_fit(pred, gt, border)
    err = M.interior(gain * pred.astype(np.float64) + offset - gt.astype(np.float64), border)
    return float(np.abs(err).mean()), gain, offset


def score_frames(preds, truth, border: int = DEMO_BORDER) -> dict:
    """Per-frame and summary scores of D maps `preds` [N][H, W] against `truth` [N, H, W]."""
    if len(preds) != len(truth) or not len(preds):
        raise ValueError(f"score_frames: {len(preds)} predictions for {len(truth)} ground-truth frames")
    r = [pearson(p, g, border) for p, g in zip(preds, truth)]
    fits = [affine_mae(p, g, border) for p, g in zip(preds, truth)]
    mae = [f[0] for f in fits]
    return {"pearson_per_frame": [round(v, 4) for v in r], "pearson_mean": float(np.mean(r)),
            "pearson_min": float(np.min(r)), "mae_affine_px_per_frame": [round(v, 4) for v in mae],
            "mae_affine_px_mean": float(np.mean(mae)), "mae_affine_px_max": float(np.max(mae)),
            "affine_gain_per_frame": [round(f[1], 4) for f in fits],
            "affine_offset_per_frame": [round(f[2], 4) for f in fits]}


def read_frames(demo: Path = DEMO, frames=None) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """[(index, left, right, rgb)] normalised to float32 in [0, 1]; frames: indices (default: all)."""
    from engine.io.dpfile import DPReader

    with DPReader(demo) as reader:
        idx = range(len(reader)) if frames is None else frames
        out = []
        for i in idx:
            f = reader.normalised(reader[i])
            rgb = f.rgb if f.rgb is not None else np.repeat(((f.left + f.right) / 2)[..., None], 3, -1)
            out.append((i, f.left.astype(np.float32), f.right.astype(np.float32), rgb.astype(np.float32)))
    return out


def _row(name: str, kind: str, backend: str, precision: str, shape, ms: list[float], frames: list[int],
         metrics: dict) -> dict:
    p50 = float(np.median(ms)) if ms else None
    return {"name": name, "kind": kind, "backend": backend, "precision": precision, "height": shape[0],
            "width": shape[1], "views": 0, "fps": None if not p50 else round(1e3 / p50, 3),
            "latency_ms": {"p50": None if p50 is None else round(p50, 2), "p95": None, "p99": None},
            "params": None, "gmacs": None, "scene": SCENE, "protocol": "synthetic", "frames": frames,
            "figures": [], "metrics": metrics}


def evaluate_demo(demo: Path = DEMO, frames=None, backend: str | None = "ort-cpu", threads: int | None = None,
                  models_dir=None, dp_model: str | None = None, border: int = DEMO_BORDER,
                  sgbm: bool = True, log=print) -> list[dict]:
    """Rows (quality.py's row shape, scene "demo") for the dplf student (backend=None: none) and SGBM.

    frames: demo frame indices (default: every frame). dplf runs `Pipeline(views=0)` (disparity only).
    """
    from benchmarks.baselines.dibr_baseline import SgbmDibr, sgbm_disparity

    truth_all, _ = load_truth(demo)
    data = read_frames(demo, frames)
    idx = [i for i, *_ in data]
    truth = truth_all[idx]
    shape = truth.shape[1:]
    rows = []
    if backend is not None:
        from engine import Pipeline

        pipe = Pipeline(backend=backend, views=0, threads=threads, models_dir=models_dir, dp_model=dp_model)
        info = pipe.info()
        preds, ms = [], []
        for _, left, right, rgb in data:
            out = pipe(left, right, rgb)
            preds.append(out.disparity.copy())
            ms.append(out.timings["total"])
        name = next(iter(info["models"]))
        metrics = {"dp_model": name, "sha256": info["models"][name].get("sha256"), **score_frames(preds, truth, border)}
        rows.append(_row("dplf", "dplf", info["backend"], info["precision"], shape, ms, idx, metrics))
    if sgbm:
        base = SgbmDibr()
        preds, ms = [], []
        for _, left, right, _rgb in data:
            t = time.perf_counter()
            preds.append(sgbm_disparity(left, right, base.max_disparity, base.upscale))
            ms.append((time.perf_counter() - t) * 1e3)
        metrics = {"sgbm": {"max_disparity": base.max_disparity, "upscale": base.upscale},
                   **score_frames(preds, truth, border)}
        rows.append(_row("sgbm", "baseline", "opencv-cpu", "fp32", shape, ms, idx, metrics))
    for r in rows:
        m = r["metrics"]
        log(f"  demo/{r['name']}: Pearson mean {m['pearson_mean']:.3f}, min {m['pearson_min']:.3f}; "
            f"affine MAE mean {m['mae_affine_px_mean']:.3f} px over {len(idx)} frames")
    return rows


def demo_gaps(rows: list[dict], want_dplf: bool) -> list[str]:
    """What the demo section must report that `rows` lack (empty when complete)."""
    have = {r["name"] for r in rows if r.get("scene") == SCENE}
    need = ("dplf", "sgbm") if want_dplf else ("sgbm",)
    return [f"demo: no {n} row" for n in need if n not in have]


def print_demo(rows: list[dict], file=None) -> None:
    demo = [r for r in rows if r.get("scene") == SCENE]
    if not demo:
        return
    cols = ["name", "model", "backend", "frames", "Pearson mean", "Pearson min", "MAE aff mean px",
            "MAE aff max px", "ms/frame p50"]
    table = [[r["name"], m.get("dp_model", "-"), r["backend"], len(r["frames"]), fmt(m["pearson_mean"], 3),
              fmt(m["pearson_min"], 3), fmt(m["mae_affine_px_mean"], 3), fmt(m["mae_affine_px_max"], 3),
              fmt(r["latency_ms"]["p50"], 1)] for r in demo for m in [r["metrics"]]]
    print_table(f"demo sample vs its ground truth (D per frame, {DEMO_BORDER}-px border left out)", cols, table,
                file=file)

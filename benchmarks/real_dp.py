"""Disparity on real dual-pixel captures: the Pixel 4 captures of Xin et al. (ICCV 2021) in ../shared/data.

The ground truth is a defocus map (unsigned blur size), DP disparity is signed blur size, so |D - D0| should
rank like it for the in-focus offset D0. The score is the Spearman rank correlation of |D - D0| with the GT,
best D0 over 41 steps across D's 2-98 % range; GT = 0 pixels left out, an 8-pixel border left out.

    captures = find_pixel4(data_dir / "pixel4_dp", names=DEV_CAPTURES)
    rho, d0 = rank_score(disparity_fn(cap.left, cap.right), cap.gt)
    rows, notes = real_dp_rows(data_dir, disparity_fn)        # the section of benchmarks/quality.py
Inputs are measured at 672 x 504, half the GT map's size (the raw planes are 3x larger, the GT 2x).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEV_CAPTURES = ("001", "002", "003", "004", "005", "006")
HOLDOUT_CAPTURES = ("015",)     # acceptance only: never tune on it
SIZE = (672, 504)               # (W, H) of the measurement
BLACK, WHITE = 1024, 16383      # Pixel 4 raw levels (14-bit, black level 1024)
BORDER = 8
OFFSET_STEPS = 41


@dataclass
class Capture:
    name: str
    left: np.ndarray    # float32 [H, W] in [0, 1]
    right: np.ndarray
    gt: np.ndarray      # float32 [H, W], unsigned blur size; 0 = no ground truth


def _plane(path: Path) -> np.ndarray:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise OSError(f"cannot read {path}")
    plane = np.clip((raw.astype(np.float32) - BLACK) / (WHITE - BLACK), 0.0, 1.0)
    return cv2.resize(plane, SIZE, interpolation=cv2.INTER_AREA)


def load_pixel4(root: Path, name: str) -> Capture:
    root = Path(root)
    gt = cv2.imread(str(root / "gt_defocus_map" / f"{name}_gt.png"), cv2.IMREAD_UNCHANGED)
    if gt is None:
        raise OSError(f"cannot read the ground truth of capture {name} in {root / 'gt_defocus_map'}")
    gt = cv2.resize(gt.astype(np.float32), SIZE, interpolation=cv2.INTER_NEAREST)
    return Capture(name, _plane(root / f"{name}_left.png"), _plane(root / f"{name}_right.png"), gt)


def find_pixel4(root: Path, names=DEV_CAPTURES) -> list[Capture]:
    return [load_pixel4(root, n) for n in names if (Path(root) / f"{n}_left.png").is_file()]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as Spearman's rho needs. [N] -> float64 [N]"""
    order = np.argsort(x, kind="mergesort")
    sx = x[order]
    first = np.r_[True, sx[1:] != sx[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], sx.size]
    mean_rank = (starts + ends - 1) / 2.0
    ranks = np.empty(x.size)
    ranks[order] = mean_rank[group]
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else 0.0


def rank_score(disparity: np.ndarray, gt: np.ndarray, subsample: int = 2) -> tuple[float, float]:
    """(best Spearman of |D - D0| with gt, that D0). disparity, gt: [H, W] of one shape."""
    if disparity.shape != gt.shape:
        raise ValueError(f"disparity {disparity.shape} and ground truth {gt.shape} differ in shape")
    inner = (slice(BORDER, -BORDER, subsample), slice(BORDER, -BORDER, subsample))
    d, g = disparity[inner].astype(np.float64), gt[inner]
    keep = (g > 0) & np.isfinite(d)
    d, g = d[keep], g[keep]
    lo, hi = np.percentile(d, [2, 98])
    best = (-2.0, 0.0)
    gr = _ranks(g)
    gr -= gr.mean()
    for d0 in np.linspace(lo, hi, OFFSET_STEPS):
        r = _ranks(np.abs(d - d0))
        r -= r.mean()
        den = np.sqrt((r * r).sum() * (gr * gr).sum())
        rho = float((r * gr).sum() / den) if den > 0 else 0.0
        if rho > best[0]:
            best = (rho, float(d0))
    return best


def score_captures(disparity_fn, captures: list[Capture]) -> dict[str, float]:
    """{capture name: rank score} for disparity_fn(left, right) -> D [H, W]."""
    return {c.name: rank_score(disparity_fn(c.left, c.right), c.gt)[0] for c in captures}


def real_dp_rows(data: Path, dplf_disparity=None, holdout: bool = False, log=print) -> tuple[list[dict], list[str]]:
    """The real-DP section of benchmarks/quality.py: one row per (capture, method), methods `dplf`
    (dplf_disparity(left, right) -> D, when given) and `sgbm` (the classical baseline on the same pair).
    Returns (rows, notes); no rows (and a note) when the captures are not in `data`."""
    from benchmarks.baselines.dibr_baseline import sgbm_disparity

    root = Path(data) / "pixel4_dp"
    captures = find_pixel4(root, HOLDOUT_CAPTURES if holdout else DEV_CAPTURES)
    if not captures:
        return [], [f"real DP captures skipped: none found under {root}"]
    methods = {"sgbm": sgbm_disparity}
    if dplf_disparity is not None:
        methods = {"dplf": dplf_disparity, **methods}
    rows = []
    for cap in captures:
        for name, fn in methods.items():
            rho, d0 = rank_score(fn(cap.left, cap.right), cap.gt)
            rows.append({"name": name, "kind": "dplf" if name == "dplf" else "baseline", "scene": f"pixel4_dp/{cap.name}",
                         "protocol": "real-dp", "height": SIZE[1], "width": SIZE[0],
                         "metrics": {"rank_corr": round(rho, 4), "in_focus_d": round(d0, 4)}})
        log(f"  pixel4_dp/{cap.name}: " + ", ".join(f"{r['name']} {r['metrics']['rank_corr']:.3f}"
                                                    for r in rows if r["scene"] == f"pixel4_dp/{cap.name}"))
    return rows, []


def summary(rows: list[dict]) -> dict:
    """{method: {"mean", "min", "wins_over_sgbm", "captures"}} over the real-DP rows."""
    by = {}
    for r in rows:
        if r.get("protocol") == "real-dp":
            by.setdefault(r["name"], {})[r["scene"]] = r["metrics"]["rank_corr"]
    out = {}
    for name, scores in by.items():
        sgbm = by.get("sgbm", {})
        out[name] = {"mean": round(float(np.mean(list(scores.values()))), 4),
                     "min": round(float(min(scores.values())), 4), "captures": len(scores),
                     "wins_over_sgbm": sum(v > sgbm.get(k, np.inf) for k, v in scores.items())}
    return out

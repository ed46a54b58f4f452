"""Temporal stability for benchmarks/quality.py: a video made by sliding a crop window over a light field by
known integer steps; flicker = mean |difference| of consecutive outputs after undoing the motion."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import metrics as M  # noqa: E402
from benchmarks.teacher_views import TEACHER, sgbm_settings, teacher_disparity  # noqa: E402

SHARP_ORACLE = "oracle-sharp-dibr"
DPLF_RENDERERS = (("dibr", "dplf"), ("dibr-deblur", "dplf-deblur"), ("dibr-dp", "dplf-dp"),
                  ("layers", "dplf-layers"))   # (renderer, row)


def crop_offsets(frames: int, step: tuple[int, int] = (3, 5)) -> list[tuple[int, int]]:
    """Known integer (y, x) offsets of the sliding crop window, frame by frame."""
    return [(t * step[0], t * step[1]) for t in range(frames)]


def temporal_stability(views_u8, gt_d, frames: int, crop: int, dplf, aperture: int,
                       log=print, teacher: bool = False) -> list[dict]:
    """Flicker of each method's centre view, corner view (u = v = -max) and disparity on a sliding crop (with GT:
    both oracles, `oracle-dibr` of the full-aperture RGB and, for odd K, `oracle-sharp-dibr` of the sharp centre view).
    teacher: also the stereo teacher (on the same crops of its three LF views)."""
    from benchmarks.baselines.dibr_baseline import dibr_views, sgbm_disparity, to_u8
    from engine.conventions import grid_positions, half_aperture_centroid
    from engine.io.lightfield import synthesize_dp

    k = views_u8.shape[0]
    cbar = half_aperture_centroid(aperture)
    baseline = ((k - 1) / 2.0) / (2.0 * cbar)
    left, right, rgb = synthesize_dp(views_u8, aperture)
    offsets = crop_offsets(frames)
    h, w = left.shape
    if crop + offsets[-1][0] > h or crop + offsets[-1][1] > w:
        raise ValueError(f"temporal: crop {crop} + motion {offsets[-1]} exceeds the {h}x{w} scene; use a smaller crop")
    pos = grid_positions(3, 1.0).reshape(-1, 2)[[4, 0]]  # centre, top-left corner
    methods = {"copy": [], "sgbm-dibr": [], "oracle-dibr": []}
    if teacher and k >= 3:
        methods[TEACHER] = []
    use_dplf = dplf is not None and dplf.available()
    if use_dplf:
        methods.update({label: [] for _, label in DPLF_RENDERERS})
    for oy, ox in offsets:
        sl = (slice(oy, oy + crop), slice(ox, ox + crop))
        l, r, c = left[sl], right[sl], rgb[sl]
        methods["copy"].append((to_u8(c), to_u8(c), None))
        d = sgbm_disparity(l, r, **sgbm_settings(aperture))
        v = to_u8(dibr_views(c, d, pos, baseline))
        methods["sgbm-dibr"].append((v[0], v[1], d))
        if TEACHER in methods:
            d = teacher_disparity(views_u8[:, :, sl[0], sl[1]], aperture)
            v = to_u8(dibr_views(c, d, pos, baseline))
            methods[TEACHER].append((v[0], v[1], d))
        if gt_d is not None:
            d = (2.0 * cbar * gt_d[sl]).astype(np.float32)
            v = to_u8(dibr_views(c, d, pos, baseline))
            methods["oracle-dibr"].append((v[0], v[1], d))
            if k % 2:
                v = to_u8(dibr_views(views_u8[k // 2, k // 2][sl], d, pos, baseline))
                methods.setdefault(SHARP_ORACLE, []).append((v[0], v[1], d))
        if use_dplf:
            for renderer, label in DPLF_RENDERERS:
                if methods[label] is None:
                    continue
                try:
                    views, d, _ = dplf(renderer, l, r, c, 3, baseline)
                    methods[label].append((views[1, 1], views[0, 0], d))
                except Exception as exc:  # noqa: BLE001
                    log(f"  temporal {label} skipped: {type(exc).__name__}: {exc}")
                    methods[label] = None
    rows = []
    for name, seq in methods.items():
        if not seq:
            continue
        metrics = {"flicker_centre": M.flicker(M.align_crops([s[0] for s in seq], offsets)),
                   "flicker_corner": M.flicker(M.align_crops([s[1] for s in seq], offsets))}
        if seq[0][2] is not None:
            metrics["flicker_disparity_px"] = M.flicker(M.align_crops([s[2] for s in seq], offsets))
        kind = "dplf" if name.startswith("dplf") else "baseline"
        rows.append({"name": name, "kind": kind, "backend": "ort-cpu" if kind == "dplf" else "opencv-cpu",
                     "precision": "fp32", "height": crop, "width": crop, "views": 3, "fps": None,
                     "latency_ms": {"p50": None, "p95": None, "p99": None}, "params": None, "gmacs": None,
                     "scene": "temporal", "protocol": "full" if aperture == k else "phone", "aperture": aperture,
                     "frames": frames, "offsets": offsets, "metrics": metrics})
    return rows

"""Baselines that see more than the DP pair, for benchmarks/quality.py: the stereo teacher (models.teacher's
SGBM on three real views of a light field's centre row, in D units) and the SGBM settings per protocol."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def sgbm_settings(aperture: int) -> dict:
    """Search range and horizontal upsampling of SGBM per protocol: phone-like DP disparities are ~1 px."""
    return {"max_disparity": 16.0, "upscale": 2} if aperture >= 5 else {"max_disparity": 6.0, "upscale": 4}



TEACHER = "teacher-sgbm-3view"
# Training (models/training/samples.py) runs sgbm_teacher(stereo, 2.0, d_range=(-20, 20)): cameras at u = -2, 0, +2, so
# the SGBM search reaches +-40 px between the centre camera and each side camera. Here the same pixel reach.
TEACHER_PAIR_REACH_PX = 40.0


def teacher_rig(k: int) -> tuple[int, int, int]:
    """(row, centre column, m) of the teacher's 3-view rig on a K x K LF: views [row, col - m], [row, col],
    [row, col + m], the widest symmetric triple of the centre row. Even K has no centre view: the rig is
    centred on view (K/2 - 1, K/2 - 1), half a step up-left of the grid centre (see teacher_disparity)."""
    if k < 3:
        raise ValueError(f"teacher_rig: need a light field of at least 3x3 views, got {k}x{k}")
    c = k // 2 if k % 2 else k // 2 - 1
    return c, c, c


def teacher_disparity(views_u8: np.ndarray, aperture: int) -> np.ndarray:
    """D [H, W] float32 (the units of D for the DP pair synthesised over the central aperture x aperture views)
    from models.teacher.sgbm_teacher on three views of the LF's centre row.  views_u8 [K, K, H, W, 3].

    Units. LF view (r, c) sees I[r, c](x, y) = I_c(x + d (c - ctr), y + d (r - ctr)), d = disparity per view
    step (the HCI convention, verified on the data: shared/data/README.md). synthesize_dp over A x A views puts
    the half-aperture centroids at -+c-bar view steps (engine.conventions.half_aperture_centroid), so the DP
    pair's disparity is D = 2 c-bar d and a view k steps from the centre sits at u = k / (2 c-bar)
    (engine.conventions.lf_view_u: I_u(x) = I_c(x + D u)). The views at columns ctr -+ m are therefore
    the teacher rig's cameras at u = -+s with s = m / (2 c-bar) in D units -- exactly render_sample's
    stereo_baseline -- and sgbm_teacher(views3, s) returns D (each side pair has pixel disparity d m = D s,
    which sgbm_teacher divides by s). Phone-like and full-aperture protocols see the same three images; only
    s (hence the D units) differs. Even K: the rig's centre camera sits at (u0, v0) = -0.5 / (2 c-bar) (both
    axes), where it sees I_c(x + D u0, y + D v0); its D map is moved onto the centre grid by solving
    D_c(p) = D_cam(p - D_c(p) (u0, v0)) by fixed-point iteration (|D u0| is a fraction of a pixel).
    """
    import cv2

    from engine.conventions import lf_view_u
    from models.teacher import sgbm_teacher

    k = views_u8.shape[0]
    row, col, m = teacher_rig(k)
    s = lf_view_u(m, aperture)
    views3 = views_u8[row, [col - m, col, col + m]].astype(np.float32) / 255.0
    reach = TEACHER_PAIR_REACH_PX / s
    d_cam = sgbm_teacher(views3, s, d_range=(-reach, reach))
    ctr = (k - 1) / 2.0
    u0, v0 = lf_view_u(col - ctr, aperture), lf_view_u(row - ctr, aperture)
    if u0 == 0.0 and v0 == 0.0:
        return d_cam
    h, w = d_cam.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d = d_cam
    for _ in range(4):
        d = cv2.remap(d_cam, xs - d * np.float32(u0), ys - d * np.float32(v0), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    return d.astype(np.float32)

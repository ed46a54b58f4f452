"""Synthetic refocus and aperture from a light field by shift-and-add (docs/outputs.md, "Refocus").

A view at aperture position (u, v) is I_(u,v)(x, y) = I_c(x + D u, y + D v) (engine/conventions.py), so shifting
it back by slope * (u, v) aligns every point whose disparity D equals `slope`:

    refocus(x, y) = mean over views with sqrt(u^2 + v^2) <= R of  I_(u,v)(x - slope u, y - slope v)

Points at D = slope come out as sharp as the centre view; points at other D are averaged over a disc of radius
|D - slope| * R pixels (a synthetic aperture R in the units of (u, v): the DP half-aperture centroids are at
u = +-1/2, the physical aperture's rim at about 3 pi / 8 = 1.18). slope 0 keeps the captured focal plane.
Sampling is bilinear (OpenCV warpAffine, border replicate). Pure numpy + OpenCV, no torch.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

_EPS = 1e-6


def aperture_views(positions: np.ndarray, radius: float | None) -> np.ndarray:
    """Indices (into the flattened [P, 2] positions) of the views inside the synthetic aperture.

    radius None = every view. When no view lies within `radius` (radius 0 on an even grid, which has no centre
    view), the views nearest the centre are used.
    """
    pos = np.asarray(positions, np.float64).reshape(-1, 2)
    if radius is None:
        return np.arange(len(pos))
    dist = np.hypot(pos[:, 0], pos[:, 1])
    inside = np.flatnonzero(dist <= radius + _EPS)
    return inside if inside.size else np.flatnonzero(dist <= dist.min() + _EPS)


def refocus(views: np.ndarray, positions: np.ndarray, slope: float = 0.0,
            aperture_radius: float | None = None) -> np.ndarray:
    """Shift-and-add refocus.

    Args:
        views: [V, U, H, W, C] (or [P, H, W, C]) uint8 or float.
        positions: (u, v) of every view, [V, U, 2] or [P, 2] (a dplf-run manifest's `positions`, which
            include the baseline).
        slope: the disparity D (pixels) brought into focus.
        aperture_radius: synthetic aperture radius in (u, v) units; None = all views, 0 = the centre view.
    Returns:
        [H, W, C], uint8 for uint8 views (rounded), else float32.
    """
    views = np.asarray(views)
    if views.ndim == 5:
        views = views.reshape(-1, *views.shape[2:])
    if views.ndim != 4 or views.shape[0] < 1 or min(views.shape[1:3]) < 1:
        raise ValueError(f"refocus: views must be [V, U, H, W, C] or [P, H, W, C], got shape {views.shape}")
    pos = np.asarray(positions, np.float64).reshape(-1, 2) if np.size(positions) else np.zeros((0, 2))
    if len(pos) != views.shape[0]:
        raise ValueError(f"refocus: {len(pos)} positions for {views.shape[0]} views")
    if not (np.isfinite(pos).all() and math.isfinite(slope)):
        raise ValueError("refocus: positions and slope must be finite")
    if aperture_radius is not None and not (math.isfinite(aperture_radius) and aperture_radius >= 0):
        raise ValueError(f"refocus: aperture radius must be >= 0, got {aperture_radius}")
    if views.dtype != np.uint8 and not np.issubdtype(views.dtype, np.floating):
        raise ValueError(f"refocus: views must be uint8 or float, got {views.dtype}")
    h, w = views.shape[1:3]
    acc = np.zeros(views.shape[1:], np.float32)
    tmp = np.empty_like(acc)
    chosen = aperture_views(pos, aperture_radius)
    for p in chosen:
        src = views[p].astype(np.float32, copy=False)
        du, dv = -slope * pos[p, 0], -slope * pos[p, 1]
        if abs(du) < _EPS and abs(dv) < _EPS:
            acc += src
            continue
        m = np.float64([[1, 0, du], [0, 1, dv]])
        warped = cv2.warpAffine(src, m, (w, h), dst=tmp, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
        acc += warped.reshape(acc.shape)
    acc /= np.float32(len(chosen))
    if views.dtype == np.uint8:
        return np.clip(np.rint(acc), 0, 255).astype(np.uint8)
    return acc


def refocus_file(input, out, frame: int | None = None, slope: float = 0.0, focus_at: str | None = None,
                 aperture: float | None = None, views: int = 9, baseline: float = 1.0, max_size: int | None = None,
                 backend: str = "auto") -> str:
    """`dplf refocus`: one refocused image of a frame of a run folder, or of a source rendered on the fly
    (`views` x `views` at `baseline`). `focus_at` "X,Y" focuses on the disparity at that pixel (overrides
    `slope`). Writes `out` atomically; returns the summary line."""
    from pathlib import Path

    from engine.io.atomic import atomic_write
    from engine.io.run_folder import RunFolder

    input, out = Path(input), Path(out)
    if not input.exists():
        raise ValueError(f"input {input} does not exist; pass a dplf-run output folder or a .dp file")
    if input.is_dir() and (input / "manifest.json").is_file():
        run = RunFolder(input)
        frame = run.frame(frame)
        lf, positions, disparity = run.views(frame), run.positions, run.disparity(frame)
    else:
        from engine.conventions import grid_positions
        from engine.io.sources import open_source
        from engine.pipeline import Pipeline
        from engine.validation import check_baseline

        if views < 1:
            raise ValueError(f"--views must be >= 1, got {views}")
        check_baseline(baseline)
        frame = frame or 0
        with open_source(input, max_size=max_size, start=frame, frames=1) as source:
            f = source[0]
        res = Pipeline(backend=backend, views=views, baseline=baseline, dtype=np.uint8)(
            f.left, f.right, f.rgb, index=f.index)
        lf, positions, disparity = res.views, grid_positions(views, baseline), res.disparity
    if focus_at is not None:
        try:
            x, y = (int(t) for t in focus_at.split(","))
        except ValueError:
            raise ValueError(f"--focus-at must be X,Y in pixels, got {focus_at!r}") from None
        h, w = disparity.shape
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"--focus-at {x},{y} is outside the {w}x{h} image")
        slope = float(np.median(disparity[max(0, y - 2):y + 3, max(0, x - 2):x + 3]))
    image = refocus(lf, positions, slope, aperture)
    ok, buf = cv2.imencode(out.suffix or ".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError(f"cannot encode {out}: use a .png (or another OpenCV image) file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, buf.tobytes())
    n = len(aperture_views(np.asarray(positions).reshape(-1, 2), aperture))
    return f"dplf refocus: frame {frame}, slope {slope:+.3f} px, {n} views -> {out}"

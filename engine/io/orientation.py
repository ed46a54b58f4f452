"""Which way a DP pair's parallax runs, and turning planes by multiples of 90 degrees.

dplf stores DP planes with horizontal parallax (docs/dp-format.md, "Rotation and orientation");
``parallax_axis`` measures it, ``parse_rotate`` reads a ``--rotate`` value, ``rotate_planes`` turns a frame.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.conventions import dp_gray

ROTATIONS = (0, 90, 180, 270)
AUTO_ROTATION = 270  # vertical parallax -> turn 90 deg counter-clockwise (a portrait phone/DSLR frame -> sensor)


def parallax_axis(left: np.ndarray, right: np.ndarray, max_side: int = 512) -> tuple[float, float]:
    """Which way the DP parallax of a pair runs: (horizontal share, fit R^2).

    Per 16x16 tile, ``left - right`` is fitted by ``a * dI/dx + b * dI/dy`` of the mean image (the first-order
    effect of a small shift, whatever its sign); the horizontal share is the energy explained by the x terms
    over that of both (1 = horizontal parallax, 0 = vertical), R^2 how much of ``left - right`` the fit explains
    (near 0: no measurable parallax, the share means nothing). Images are reduced to ``max_side`` first.
    """
    lf, rf = np.asarray(left, np.float32), np.asarray(right, np.float32)
    if lf.ndim == 3:
        lf, rf = dp_gray(lf), dp_gray(rf)
    s = min(1.0, max_side / max(lf.shape))
    if s < 1.0:
        size = (max(1, round(lf.shape[1] * s)), max(1, round(lf.shape[0] * s)))
        lf, rf = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (lf, rf))
    lf, rf = (cv2.GaussianBlur(x, (0, 0), 1.0) for x in (lf, rf))
    mean, diff = 0.5 * (lf + rf), lf - rf
    ix = cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=3)
    iy = cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=3)
    t = 16
    hh, ww = (diff.shape[0] // t) * t, (diff.shape[1] // t) * t
    if hh == 0 or ww == 0:
        return 0.5, 0.0

    def tiles(a):
        a = a[:hh, :ww].reshape(hh // t, t, ww // t, t).transpose(0, 2, 1, 3).reshape(-1, t * t).astype(np.float64)
        return a - a.mean(axis=1, keepdims=True)

    d, x, y = tiles(diff), tiles(ix), tiles(iy)
    sxx, syy, sxy = (x * x).sum(1), (y * y).sum(1), (x * y).sum(1)
    sxd, syd, sdd = (x * d).sum(1), (y * d).sum(1), (d * d).sum(1)
    det = sxx * syy - sxy ** 2
    ok = det > 1e-6 * sxx * syy + 1e-20
    safe = np.where(ok, det, 1.0)
    a = np.where(ok, (syy * sxd - sxy * syd) / safe, 0.0)
    b = np.where(ok, (sxx * syd - sxy * sxd) / safe, 0.0)
    ex, ey = float((a * a * sxx).sum()), float((b * b * syy).sum())
    r2 = float((a * sxd + b * syd).sum() / max(float(sdd.sum()), 1e-20))
    return (ex / (ex + ey) if ex + ey > 0 else 0.5), max(0.0, r2)


def parallax_verdict(share: float, r2: float) -> str:
    """'horizontal', 'vertical' or 'unclear' from ``parallax_axis``."""
    if r2 < 0.2:
        return "unclear"
    return "horizontal" if share >= 0.7 else "vertical" if share <= 0.3 else "unclear"


def parse_rotate(value, where: str = "--rotate"):
    if isinstance(value, str):
        v = value.strip().lower()
        if v == "auto":
            return "auto"
        try:
            value = int(v)
        except ValueError:
            value = v
    if isinstance(value, bool) or value not in ROTATIONS:
        raise ValueError(f"{where} must be 0, 90, 180, 270 (degrees clockwise) or auto, got {value!r}")
    return int(value)


def rotate_planes(deg: int):
    """(left, right, rgb) -> the same turned ``deg`` degrees clockwise (contiguous copies)."""
    k = -(deg // 90)

    def turn(left, right, rgb):
        r = (lambda a: None if a is None else np.ascontiguousarray(np.rot90(a, k)))  # noqa: E731
        return r(left), r(right), r(rgb)
    return turn

"""`deblur`: undo part of the defocus of the full-aperture RGB before DIBR warps it (issue 17).

A point at DP disparity D is blurred in the full-aperture image over the aperture: in the engine's units
(docs/dp-format.md: the half-aperture centroids sit at u = -1/2 and +1/2) the blur spans u in [-R, R] for an
aperture of half-width R, i.e. R*|D| pixels either side. The model here is a square box of half-width
h = R*|D(x)| + 1/2 pixels around each pixel (h = 1/2: the pixel itself), with the disparity of the pixel
being restored, and `deblur` runs Richardson-Lucy iterations with it:

    x_0 = b,   x_{k+1} = x_k * B(b / max(B(x_k), EPS))          (B: the spatially varying box blur)

B's adjoint is replaced by B itself (exact where D is locally constant). The box of real half-width is
integrated exactly over the piecewise-constant image with a float64 summed-area table (bilinear in the
table), clamped to the image (normalised by the area inside). R = 0.9 is the default: the half-width of the
full 9x9 LF aperture in these units (0.75 for 3x3; a uniform disc of radius 3 pi / 8 has the same second moment
as a box of half-width 1.02); on the dev light fields every R in 0.75-1.18 gained (docs/kernels.md, "deblur").

`method`: "numba" (kernels/deblur_numba.py, compiled, default) or "numpy" (this file's reference).
"""
from __future__ import annotations

import numpy as np

from . import cpu_method

try:
    from . import deblur_numba
except ImportError:   # numba missing: the numpy reference
    deblur_numba = None

EPS = 1e-3
RADIUS = 0.9


def default_method() -> str:
    """$DPLF_DEBLUR when set ("numba" | "numpy"), else "numba" when it imports, else "numpy"."""
    return cpu_method.default_method("DPLF_DEBLUR", deblur_numba is not None)


def warm_up(method: str | None = None) -> None:
    if (method or default_method()) == "numba" and deblur_numba is not None:
        deblur_numba.warm_up()


def radii(radius) -> tuple[float, float]:
    """(R_x, R_y) of a radius given as R (a square box) or as (R_x, R_y) (a rectangle, e.g. a half aperture)."""
    rx, ry = (radius, radius) if np.ndim(radius) == 0 else tuple(radius)
    return float(rx), float(ry)


def box_corners(disparity: np.ndarray, radius) -> tuple[np.ndarray, ...]:
    """Per pixel, the box [y0, y1] x [x0, x1] in pixel-edge coordinates (pixel j spans [j, j + 1]), clamped to
    the image, and its area. disparity [H, W], radius R or (R_x, R_y) -> (y0, y1, x0, x1, area) float64 [H, W]."""
    h, w = disparity.shape
    rx, ry = radii(radius)
    mag = np.abs(disparity.astype(np.float64))
    half_x, half_y = rx * mag, ry * mag
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    y0, y1 = np.clip(ys - half_y, 0, h), np.clip(ys + 1 + half_y, 0, h)
    x0, x1 = np.clip(xs - half_x, 0, w), np.clip(xs + 1 + half_x, 0, w)
    return y0, y1, x0, x1, (y1 - y0) * (x1 - x0)


def _table_at(table: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear read of the summed-area table [H+1, W+1, C] at real (y, x) [H, W] -> [H, W, C]."""
    hh, ww = table.shape[0] - 1, table.shape[1] - 1
    iy, ix = np.minimum(np.floor(y).astype(np.int64), hh - 1), np.minimum(np.floor(x).astype(np.int64), ww - 1)
    ty, tx = (y - iy)[..., None], (x - ix)[..., None]
    a, b = table[iy, ix], table[iy, ix + 1]
    c, d = table[iy + 1, ix], table[iy + 1, ix + 1]
    return a + tx * (b - a) + ty * ((c + tx * (d - c)) - (a + tx * (b - a)))


def box_blur(image: np.ndarray, corners) -> np.ndarray:
    """The mean of `image` [H, W, C] over each pixel's box (`box_corners`), float64 [H, W, C]."""
    y0, y1, x0, x1, area = corners
    table = np.zeros((image.shape[0] + 1, image.shape[1] + 1, image.shape[2]), np.float64)
    table[1:, 1:] = np.cumsum(np.cumsum(image, axis=0, dtype=np.float64), axis=1)
    total = _table_at(table, y1, x1) - _table_at(table, y0, x1) - _table_at(table, y1, x0) + _table_at(table, y0, x0)
    return total / area[..., None]


def deblur_reference(rgb: np.ndarray, disparity: np.ndarray, iterations: int, radius=RADIUS) -> np.ndarray:
    """Richardson-Lucy with the box model, numpy. rgb float32 [H, W, C] in [0, 1], disparity float32 [H, W]
    (pixels), radius R or (R_x, R_y) -> float32 [H, W, C] in [0, 1]."""
    corners = box_corners(disparity, radius)
    b = rgb.astype(np.float64)
    x = b.copy()
    for _ in range(iterations):
        x = x * box_blur(b / np.maximum(box_blur(x, corners), EPS), corners)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def deblur(rgb: np.ndarray, disparity: np.ndarray, iterations: int = 3, radius=RADIUS,
           out: np.ndarray | None = None, method: str | None = None) -> np.ndarray:
    """Sharpen the full-aperture RGB by `iterations` Richardson-Lucy steps of the defocus model above.

    Args:
        rgb: float32 [H, W, 3] in [0, 1]; disparity: float32 [H, W], D in pixels; radius: R (aperture half-width
        in u units, >= 0), or (R_x, R_y) for a rectangular aperture (a DP half: (R / 2, R)); out: optional
        float32 [H, W, 3] to write into; method: "numba" | "numpy".
    Returns:
        float32 [H, W, 3] in [0, 1] (`out` when given); iterations 0 returns a copy of rgb.
    """
    method = method or default_method()
    cpu_method.check_method("deblur", method)
    rgb = np.ascontiguousarray(rgb, np.float32)
    disparity = np.ascontiguousarray(disparity, np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or disparity.shape != rgb.shape[:2]:
        raise ValueError(f"deblur: rgb must be [H, W, 3] and disparity [H, W] of the same size, got {rgb.shape} "
                         f"and {disparity.shape}")
    try:
        rx, ry = radii(radius)
    except (TypeError, ValueError):
        raise ValueError(f"deblur: radius must be a number or a pair (R_x, R_y), got {radius!r}") from None
    if iterations < 0 or not (np.isfinite(rx) and np.isfinite(ry)) or min(rx, ry) < 0:
        raise ValueError(f"deblur: iterations must be >= 0 and radius finite values >= 0, got {iterations}, "
                         f"{radius}")
    if out is None:
        out = np.empty_like(rgb)
    if method == "numba" and deblur_numba is not None:
        return deblur_numba.deblur(rgb, disparity, int(iterations), (rx, ry), out)
    np.copyto(out, deblur_reference(rgb, disparity, int(iterations), (rx, ry)))
    return out

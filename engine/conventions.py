"""Conventions shared by every part of dplf (disparity sign, aperture coordinates, view grid). Pure numpy, no torch.

- Disparity D = x_left - x_right (pixels); larger D is nearer.
- Aperture coordinates (u, v): DP half-aperture centres at u = -1/2 (left) and u = +1/2 (right).
  A view at (u, v) of the in-focus centre image I_c is I_c(x + D*u, y + D*v).
- A grid of N x N views: u, v in linspace(-1, 1, N) * baseline; arrays are [V, U, H, W, 3].
"""
from __future__ import annotations

import numpy as np

# Radius (in u units) of the circular aperture whose half-discs have their centroids at u = +-1/2:
# the centroid of a half-disc of radius rho sits at 4 rho / (3 pi).
APERTURE_RADIUS = 3.0 * np.pi / 8.0


def grid_positions(views: int, baseline: float = 1.0) -> np.ndarray:
    """(u, v) positions of an N x N view grid, row-major (v is the row).

    Returns float32 [N, N, 2] with [..., 0] = u (column), [..., 1] = v (row).
    """
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    t = np.linspace(-1.0, 1.0, views) * baseline if views > 1 else np.zeros(1)
    v, u = np.meshgrid(t, t, indexing="ij")
    return np.stack([u, v], axis=-1).astype(np.float32)


def dp_gray(rgb: np.ndarray) -> np.ndarray:
    """Single-channel DP plane from linear RGB: the channel mean.  [..., 3] -> [...]"""
    return rgb.mean(axis=-1)


def half_aperture_weights(aperture: int) -> np.ndarray:
    """Column weights of the left half-aperture over an A-wide grid of LF views.

    Columns left of centre weigh 1, the centre column (odd A) 1/2, the rest 0. The right
    half-aperture is the mirror image. Returns float64 [A].
    """
    if aperture < 2:
        raise ValueError(f"aperture must be >= 2 views, got {aperture}")
    offsets = np.arange(aperture) - (aperture - 1) / 2.0
    w = np.where(offsets < 0, 1.0, 0.0)
    w[offsets == 0] = 0.5
    return w


def half_aperture_centroid(aperture: int) -> float:
    """c-bar: distance, in view steps, of a half-aperture centroid from the centre column.

    2.222 for A = 9, 2.5 for A = 10, 0.667 for A = 3, 1.0 for A = 4.
    """
    w = half_aperture_weights(aperture)
    offsets = np.arange(aperture) - (aperture - 1) / 2.0
    return float(-(w * offsets).sum() / w.sum())


def lf_view_u(offset: float, aperture: int) -> float:
    """Aperture coordinate u of the LF view at `offset` view steps from the centre (u = k / (2 c-bar))."""
    return offset / (2.0 * half_aperture_centroid(aperture))


def phone_like_aperture(grid: int) -> int:
    """Aperture of the phone-like protocol for a K x K light field: 3 for odd K, 4 for even K."""
    return 3 if grid % 2 else 4

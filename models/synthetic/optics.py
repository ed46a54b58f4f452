"""DP optics of the synthetic engine: half-aperture weights and DP vignetting. Pure numpy.

Two PSF models for `aperture="disc"` (SceneConfig.psf):
- "ideal": each DP half collects one sharp half of a uniform disc (the v1 engine, `render.disc_pattern`).
- "pixel4": a soft, spatially varying split fitted to the Google Pixel 4 calibration of Xin et al., "Defocus
  Map Estimation and Deblurring from a Single Dual-Pixel Image" (ICCV 2021), as shipped in
  `../shared/data/pixel4_dp/calibration/` (blur_kernels_left/right.npy: 48 = 6 x 8 per-position PSFs of
  61 x 61 px across the 1512 x 2016 frame; white_sheet_left/right.png: flat-field DP planes).
  The left half-aperture weight of an aperture point at u (disc of radius R_u, t = u / R_u in [-1, 1]) is
  a logistic  w_L(t) = 1 / (1 + exp((t - t0(xn)) / tau(xn))),  w_R = 1 - w_L,  where xn is the pixel's
  horizontal position in the frame (-1 = left edge, +1 = right edge). Re-measure with
  `python -m models.synthetic.calibrate_pixel4`.

Both keep the DP convention (engine/conventions.py): the DP pair of a plane with disparity D matches at a shift of D. For the ideal model the
half-aperture centroids are 1 apart in u; a soft split matches at a larger shift than its centroid separation
(1.13x on the real kernels, 1.15x on the model's), so the pixel4 centroids are 1 / 1.15 apart. The soft split makes the disc larger
in u units (R_u = 1.81 instead of 3 pi / 8 = 1.18): the full-aperture blur of a given D is about 1.5x the ideal
model's, as on the phone.

Frame coordinates (vignetting, spatially varying split): the Pixel 4 frame is 4:3; xn in [-1, 1] across its
width, yn in [-0.75, 0.75] down its height (same unit). A rendered image is a window of that frame
(`Scene.frame_window` = (xc, yc, k): centre and frame units per pixel).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_HALF_HEIGHT = 0.75          # Pixel 4 frame 1512 x 2016 (y half-extent in units of the x half-width)


@dataclass(frozen=True)
class DPModel:
    """Soft-split DP PSF + DP vignetting (see module docstring). Polynomials are np.polyval order."""

    tau: tuple                    # split softness tau(xn), in units of the disc radius
    t0: tuple                     # split offset t0(xn) (> 0: the left half-aperture gets more of the disc)
    vignetting: tuple             # log common falloff: ((i, j, c), ...) -> sum c xn^i yn^j (frame coords)
    split: tuple                  # left share of the light s(xn) = L / (L + R) of a flat field
    match_gain: float = 1.0       # SSD-matching shift / centroid separation of the DP pair (see below)
    name: str = ""


# Fitted to ../shared/data/pixel4_dp/calibration (Xin et al. 2021) by `python -m models.synthetic.calibrate_pixel4`
# (see docs/synthetic.md for the measured numbers). Kernel i is taken to sit at the centre of block
# (i // 8, i % 8) of a 6 x 8 tiling of the frame; PSFs weighted by the white-sheet energies of their block.
PIXEL4 = DPModel(
    # split softness by column: measured 0.63 0.54 0.47 0.43 0.44 0.49 0.58 0.70 (left -> right edge)
    tau=(0.3052, 0.0392, 0.4341),
    # split offset by column: measured 0.23 0.11 0.08 0.10 0.12 0.14 0.14 0.10
    t0=(-0.2563, 0.0745, 0.1218, 0.1022),
    # common falloff (L + R) / 2 of the white sheets, deg-4 log-polynomial: 0.32 at the corners, 0.43 at the
    # left / right edges, 0.57 at the top / bottom edges
    vignetting=((0, 0, -0.0341), (0, 1, -0.1040), (0, 2, -1.0746), (0, 3, 0.2254), (0, 4, 0.2061),
                (1, 0, -0.0218), (1, 1, -0.0138), (1, 2, -0.0124), (1, 3, -0.0812), (2, 0, -1.0376),
                (2, 1, -0.0404), (2, 2, 0.5474), (3, 0, 0.0533), (3, 1, 0.1673), (4, 0, 0.2161)),
    # left share L / (L + R) of the white sheets across the width: 0.57 at the left edge, 0.50 at xn = -0.4,
    # 0.58 at xn = +0.5, 0.53 at the right edge (0.542 at the centre: the left plane is 1.19x brighter)
    split=(-0.1382, 0.0078, 0.0852, 0.5425),
    # A soft split makes the left/right pair of a textured plane match (SSD, as tests/test_synthetic.py measures
    # it) at a larger shift than the difference of the PSF centroids: 1.13x on the real kernels (central 4 x 4
    # positions, 3 textures x 3 pre-blurs), 1.15x on this model's kernels. The engine takes D = its matching
    # shift (the convention's "effective centres" at u = -+1/2), so its PSF centroids sit at u = -+1/(2 * 1.15).
    match_gain=1.15,
    name="pixel4",
)


def split_left(t: np.ndarray, tau: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """Left half-aperture weight at normalised aperture coordinate t (u / R_u): logistic split."""
    z = np.clip((np.asarray(t, np.float64) - t0) / np.maximum(tau, 1e-3), -60.0, 60.0)
    return 1.0 / (1.0 + np.exp(z))


def split_params(model: DPModel, xn, tau_scale: float = 1.0, t0_shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(tau, t0) of the split at frame positions xn."""
    xn = np.clip(np.asarray(xn, np.float64), -1.0, 1.0)
    tau = np.maximum(np.polyval(model.tau, xn), 0.05) * tau_scale
    return tau, np.polyval(model.t0, xn) + t0_shift


def disc_centroids(tau, t0, n: int = 4001) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (in units of the disc radius) of the left / right half-aperture weights over a uniform unit
    disc, for arrays of (tau, t0).  -> (c_left, c_right)"""
    t = np.linspace(-1.0, 1.0, n)
    dens = np.sqrt(np.clip(1.0 - t * t, 0.0, None))                       # chord length / 2
    tau, t0 = np.broadcast_arrays(np.asarray(tau, np.float64), np.asarray(t0, np.float64))
    wl = split_left(t[None, :], tau.reshape(-1, 1), t0.reshape(-1, 1)) * dens
    wr = (1.0 - wl / np.maximum(dens, 1e-300)) * dens
    cl = (wl * t).sum(1) / wl.sum(1)
    cr = (wr * t).sum(1) / wr.sum(1)
    return cl.reshape(tau.shape), cr.reshape(tau.shape)


def radius_u(model: DPModel, tau_scale: float = 1.0, t0_shift: float = 0.0) -> float:
    """Disc radius in u units for which the half-aperture centroids at the frame centre are 1 / match_gain
    apart (the DP pair then matches at a shift of D)."""
    tau, t0 = split_params(model, 0.0, tau_scale, t0_shift)
    cl, cr = disc_centroids(tau, t0)
    return float(1.0 / (model.match_gain * (cr - cl)))


def lattice(radius: float, samples: int) -> tuple[np.ndarray, float]:
    """Mirror-symmetric square lattice clipped to a disc of `radius`, with at least `samples` points.
    -> (positions float64 [P, 2], spacing)"""
    if samples < 2:
        raise ValueError(f"disc aperture needs >= 2 samples, got {samples}")
    spacing = np.sqrt(np.pi * radius * radius / samples)
    while True:
        k = int(np.ceil(radius / spacing))
        g = np.arange(-k, k + 1) * spacing
        uu, vv = np.meshgrid(g, g)
        keep = uu**2 + vv**2 <= radius * radius
        if keep.sum() >= samples:
            return np.stack([uu[keep], vv[keep]], -1), float(spacing)
        spacing *= 0.98


def _exact_centroids(w: np.ndarray, u: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Tilt weights w [S, X] by (1 + beta u) per column so their u-centroid is `target` [X]; normalise."""
    s0 = w.sum(0)
    s1 = (w * u[:, None]).sum(0)
    s2 = (w * (u * u)[:, None]).sum(0)
    beta = (target * s0 - s1) / (s2 - target * s1)
    out = w * np.clip(1.0 + beta[None, :] * u[:, None], 0.0, None)
    return out / out.sum(0, keepdims=True)


def soft_aperture(samples: int, xn_cols: np.ndarray, model: DPModel = PIXEL4, tau_scale: float = 1.0,
                  t0_shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Aperture samples and per-column half-aperture weights of the soft-split model.

    xn_cols: frame position of every image column [W]. Weights are normalised per column and tilted so that the
    left / right centroids are exactly 1 / match_gain apart in u at every column (DP matching shift = D,
    engine/conventions.py); their midpoint keeps the model's asymmetry.
    Returns (positions float32 [P, 2], w_left [P, W], w_right [P, W], spacing).
    """
    ru = radius_u(model, tau_scale, t0_shift)
    pos, spacing = lattice(ru, samples)
    u = pos[:, 0]
    tau, t0 = split_params(model, xn_cols, tau_scale, t0_shift)
    wl = split_left(u[:, None] / ru, tau[None, :], t0[None, :])
    wr = 1.0 - wl
    wl, wr = wl / wl.sum(0, keepdims=True), wr / wr.sum(0, keepdims=True)
    cl, cr = (wl * u[:, None]).sum(0), (wr * u[:, None]).sum(0)
    mid = 0.5 * (cl + cr)
    half = 0.5 / model.match_gain
    wl, wr = _exact_centroids(wl, u, mid - half), _exact_centroids(wr, u, mid + half)
    return pos.astype(np.float32), wl.astype(np.float32), wr.astype(np.float32), spacing


def frame_coords(height: int, width: int, window=None) -> tuple[np.ndarray, np.ndarray]:
    """Frame coordinates of the pixel columns [W] and rows [H] of an image that is `window` = (xc, yc, k)
    of the frame (None: the largest centred window with the image's aspect)."""
    xc, yc, k = full_window(height, width) if window is None else window
    xn = xc + (np.arange(width) - (width - 1) / 2.0) * k
    yn = yc + (np.arange(height) - (height - 1) / 2.0) * k
    return xn, yn


def full_window(height: int, width: int, fraction: float = 1.0) -> tuple[float, float, float]:
    """Centred window covering `fraction` of the largest window of the frame with the image's aspect."""
    k = min(2.0 / width, 2.0 * FRAME_HALF_HEIGHT / height) * fraction
    return 0.0, 0.0, float(k)


def random_window(height: int, width: int, rng: np.random.Generator, fraction: tuple) -> tuple[float, float, float]:
    """A window of the frame of a random size (`fraction` of the largest, uniform) at a random position."""
    _, _, k = full_window(height, width, float(rng.uniform(*fraction)))
    hx = 1.0 - k * (width - 1) / 2.0
    hy = FRAME_HALF_HEIGHT - k * (height - 1) / 2.0
    return float(rng.uniform(-hx, hx)), float(rng.uniform(-hy, hy)), float(k)


def common_vignetting(model: DPModel, xn: np.ndarray, yn: np.ndarray) -> np.ndarray:
    """Common (lens) falloff of a flat field at frame coords (broadcast), relative to the white sheets' centre
    (the fit gives 0.97 at the exact centre; 1.0 is the mean of its central 4 x 4 blocks of 24 px)."""
    logv = sum(c * np.power(xn, i) * np.power(yn, j) for i, j, c in model.vignetting)
    return np.exp(logv)


def dp_vignetting(model: DPModel, height: int, width: int, window=None, strength: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Gain maps (left, right) float32 [H, W] of a flat field: common falloff ** strength times the DP energy
    split, 2 s(xn) for the left and 2 (1 - s(xn)) for the right, its deviation from 1/2 scaled by strength."""
    xn, yn = frame_coords(height, width, window)
    xn, yn = np.clip(xn, -1, 1), np.clip(yn, -FRAME_HALF_HEIGHT, FRAME_HALF_HEIGHT)
    logv = np.zeros((height, width))
    for i, j, c in model.vignetting:     # separable terms: outer products of 1-D powers
        logv += c * np.outer(yn**j, xn**i)
    common = np.exp(strength * logv)
    s = (0.5 + strength * (np.polyval(model.split, xn) - 0.5))[None, :]
    return (common * 2.0 * s).astype(np.float32), (common * 2.0 * (1.0 - s)).astype(np.float32)


def model_kernels(radius_px: float, xn: float, size: int = 61, centre=None, model: DPModel | None = PIXEL4,
                  supersample: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """PSFs (left, right), each summing to 1, of a point at DP disparity D < 0 whose full-aperture blur has
    radius `radius_px` (image x = +u direction), at frame column xn. model=None: the ideal sharp split.
    -> float64 [size, size] x 2"""
    cx, cy = ((size - 1) / 2.0, (size - 1) / 2.0) if centre is None else centre
    t = (np.arange(size * supersample) + 0.5) / supersample - 0.5
    xs, ys = np.meshgrid(t - cx, t - cy)
    inside = (xs**2 + ys**2 <= radius_px**2).astype(np.float64)
    if model is None:
        wl = np.where(xs < 0, 1.0, np.where(xs == 0, 0.5, 0.0))
    else:
        tau, t0 = split_params(model, xn)
        wl = split_left(xs / radius_px, tau, t0)
    kl = (inside * wl).reshape(size, supersample, size, supersample).sum((1, 3))
    kr = (inside * (1.0 - wl)).reshape(size, supersample, size, supersample).sum((1, 3))
    return kl / kl.sum(), kr / kr.sum()

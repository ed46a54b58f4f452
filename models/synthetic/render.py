"""Rendering of a Scene: pinhole views, thin-lens DP/RGB, GT disparity, sensor noise. numpy + OpenCV."""
from __future__ import annotations

import cv2
import numpy as np

from engine.conventions import APERTURE_RADIUS, dp_gray, half_aperture_weights, lf_view_u

from . import optics
from .scene import Layer, Scene, SceneConfig

_MAX_REMAP_ROWS = 32000  # cv2.remap asserts dst rows < SHRT_MAX
_CHUNK_PIXELS = 1 << 18


def _layer_window(scene: Scene, layer: Layer, frame: int, reach: float) -> tuple[int, int, int, int] | None:
    """Image window (x0, y0, x1, y1) that `layer` can touch in views with |u|,|v| <= reach."""
    h, w = scene.height, scene.width
    if layer.bbox is None:
        return 0, 0, w, h
    tx, ty = layer.trajectory[frame]
    m = scene.margin
    x0, y0, x1, y1 = layer.bbox
    corners_x = np.array([x0, x1, x0, x1], np.float32) - m + tx
    corners_y = np.array([y0, y0, y1, y1], np.float32) - m + ty
    if layer.dmap is None:
        dmax = float(np.abs(scene.disparity_at(layer, frame, corners_x, corners_y)).max())
    else:  # the plane's extreme is at a corner; the curved part adds at most max |dmap|
        d0, gx, gy = layer.plane
        corner_d = d0 + gx * (corners_x - tx - (w - 1) / 2.0) + gy * (corners_y - ty - (h - 1) / 2.0)
        dmax = float(np.abs(corner_d).max()) + layer.dmap_absmax
    pad = dmax * reach + 2.0
    wx0, wx1 = int(np.floor(x0 - m + tx - pad)), int(np.ceil(x1 - m + tx + pad))
    wy0, wy1 = int(np.floor(y0 - m + ty - pad)), int(np.ceil(y1 - m + ty + pad))
    wx0, wy0, wx1, wy1 = max(wx0, 0), max(wy0, 0), min(wx1, w), min(wy1, h)
    if wx0 >= wx1 or wy0 >= wy1:
        return None
    return wx0, wy0, wx1, wy1


def _prefilter(scene: Scene, layer: Layer, spacing: float) -> np.ndarray:
    """Blur a layer by sigma = spacing * |D| / 2 so that a lattice of aperture samples with `spacing`
    integrates like the continuous aperture (no ghosting). Slanted layers blend a stack of blurs.
    -> float32 [Hc, Wc, 4]"""
    d0, gx, gy = layer.plane
    hc, wc = layer.rgba.shape[:2]
    if not layer.slanted and not layer.curved:
        sigma = 0.5 * spacing * abs(d0)
        return cv2.GaussianBlur(layer.rgba, (0, 0), sigma) if sigma > 0.3 else layer.rgba
    m = scene.margin
    ys, xs = np.mgrid[0:hc, 0:wc].astype(np.float32)
    dmap = d0 + gx * (xs - m - (scene.width - 1) / 2.0) + gy * (ys - m - (scene.height - 1) / 2.0)
    if layer.dmap is not None:
        dmap = dmap + layer.dmap
    sigma = 0.5 * spacing * np.abs(dmap)
    if sigma.max() <= 0.3:
        return layer.rgba
    levels = [0.0] + list(0.5 * 2.0 ** np.arange(0, np.ceil(np.log2(sigma.max() / 0.5)) + 1))
    stack = [layer.rgba if s == 0 else cv2.GaussianBlur(layer.rgba, (0, 0), s) for s in levels]
    out = np.zeros_like(layer.rgba)
    for i in range(len(levels) - 1):
        lo, hi = levels[i], levels[i + 1]
        sel = (sigma >= lo) & (sigma <= hi) if i == 0 else (sigma > lo) & (sigma <= hi)
        if not sel.any():
            continue
        t = ((sigma[sel] - lo) / (hi - lo))[:, None]
        out[sel] = (1 - t) * stack[i][sel] + t * stack[i + 1][sel]
    return out


def render_views(scene: Scene, positions: np.ndarray, frame: int = 0, spacing: float = 0.0) -> np.ndarray:
    """Pinhole views: over-composite of the layers, each sampled at (x + D*u, y + D*v).

    positions: [P, 2] (u, v). spacing > 0 prefilters layers for aperture integration (see _prefilter).
    Returns float32 [P, H, W, 3].
    """
    positions = np.asarray(positions, np.float32).reshape(-1, 2)
    p, h, w = len(positions), scene.height, scene.width
    out = np.empty((p, h, w, 3), np.float32)
    step = max(1, _CHUNK_PIXELS // (h * w))
    sources = [_prefilter(scene, layer, spacing) if spacing > 0 else layer.rgba for layer in scene.layers]
    for s in range(0, p, step):
        out[s:s + step] = _render_chunk(scene, positions[s:s + step], frame, sources)
    return out


def _render_chunk(scene: Scene, pos: np.ndarray, frame: int, sources: list) -> np.ndarray:
    p, h, w, m = len(pos), scene.height, scene.width, scene.margin
    reach = float(np.abs(pos).max()) if p else 0.0
    out = np.zeros((p, h, w, 3), np.float32)
    u = pos[:, 0][:, None, None]
    v = pos[:, 1][:, None, None]
    for i, (layer, src) in enumerate(zip(scene.layers, sources)):
        win = _layer_window(scene, layer, frame, reach)
        if win is None:
            continue
        x0, y0, x1, y1 = win
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = scene.disparity_at(layer, frame, xs, ys)
        tx, ty = layer.trajectory[frame]
        map_x = (xs + (m - tx))[None] + d[None] * u
        map_y = (ys + (m - ty))[None] + d[None] * v
        rgba = _remap(src, map_x, map_y)
        region = out[:, y0:y1, x0:x1]
        if i == 0:
            # background: fully opaque everywhere (border reflection keeps alpha 1)
            region[:] = rgba[..., :3]
        else:
            region *= 1.0 - rgba[..., 3:]
            region += rgba[..., :3]
    return out


def _remap(src: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Bilinear sampling of src [Hc, Wc, C] at maps [P, h, w] -> [P, h, w, C] (batched over P)."""
    p, h, w = map_x.shape
    mx, my = map_x.reshape(p * h, w), map_y.reshape(p * h, w)
    if p * h < _MAX_REMAP_ROWS:
        res = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    else:
        res = np.concatenate([cv2.remap(src, mx[r:r + _MAX_REMAP_ROWS], my[r:r + _MAX_REMAP_ROWS],
                                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                              for r in range(0, p * h, _MAX_REMAP_ROWS)])
    return res.reshape(p, h, w, src.shape[2])


def render_disparity(scene: Scene, frame: int = 0) -> np.ndarray:
    """GT D at the centre view: D of the front-most layer with alpha > 0.5.  -> float32 [H, W]"""
    h, w, m = scene.height, scene.width, scene.margin
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w), np.float32)
    for i, layer in enumerate(scene.layers):
        d = scene.disparity_at(layer, frame, xs, ys)
        if i == 0:
            out[:] = d
            continue
        tx, ty = layer.trajectory[frame]
        alpha = cv2.remap(np.ascontiguousarray(layer.rgba[..., 3]), xs + (m - tx), ys + (m - ty),
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        np.copyto(out, d, where=alpha > 0.5)
    return out


def disc_pattern(samples: int) -> tuple[np.ndarray, float]:
    """Deterministic, mirror-symmetric aperture samples: a square lattice clipped to the disc of radius
    APERTURE_RADIUS, rescaled so the sampled half-disc centroids sit exactly at u = -1/2, +1/2.

    Returns (positions float32 [P, 2], lattice spacing in u units).
    """
    if samples < 2:
        raise ValueError(f"disc aperture needs >= 2 samples, got {samples}")
    r = APERTURE_RADIUS
    spacing = np.sqrt(np.pi * r * r / samples)
    while True:  # the clipped lattice count fluctuates around the area estimate: shrink until enough
        k = int(np.ceil(r / spacing))
        g = np.arange(-k, k + 1) * spacing
        uu, vv = np.meshgrid(g, g)
        keep = uu**2 + vv**2 <= r * r
        if keep.sum() >= samples:
            break
        spacing *= 0.98
    pts = np.stack([uu[keep], vv[keep]], -1)
    wl = np.where(pts[:, 0] < 0, 1.0, np.where(pts[:, 0] == 0, 0.5, 0.0))
    centroid = -(wl * pts[:, 0]).sum() / wl.sum()
    scale = 0.5 / centroid
    return (pts * scale).astype(np.float32), float(spacing * scale)


def half_weights(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right half-aperture weights of aperture samples (u < 0: 1, u == 0: 1/2), each summing to 1."""
    u = positions[:, 0]
    on_axis = np.abs(u) < 1e-6
    wl = np.where(on_axis, 0.5, (u < 0).astype(np.float64))
    wr = np.where(on_axis, 0.5, (u > 0).astype(np.float64))
    return wl / wl.sum(), wr / wr.sum()


def aperture_samples(scene: Scene, cfg: SceneConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Aperture sample positions and their (left, right) weights for cfg.aperture / cfg.psf.

    Returns (positions [P, 2], w_left, w_right, prefilter spacing (0 = none)); the weights are [P] (the same
    for every pixel) or, for psf="pixel4", [P, W] (per image column: the split varies across the frame).
    """
    if cfg.aperture == "lf-grid":
        k = cfg.aperture_views
        offs = np.arange(k) - (k - 1) / 2.0
        us = np.array([lf_view_u(o, k) for o in offs])
        vv, uu = np.meshgrid(us, us, indexing="ij")
        pos = np.stack([uu.ravel(), vv.ravel()], -1).astype(np.float32)
        col = half_aperture_weights(k)
        wl = np.tile(col, k)
        wr = np.tile(col[::-1], k)
        return pos, wl / wl.sum(), wr / wr.sum(), 0.0
    dmax = max(abs(layer.plane[0]) + _slant_extent(scene, layer) + layer.dmap_absmax for layer in scene.layers)
    soft = cfg.psf == "pixel4"
    if soft:
        tau_scale, t0_shift = scene.psf_params
        radius = optics.radius_u(optics.PIXEL4, tau_scale, t0_shift)
    else:
        radius = APERTURE_RADIUS
    if cfg.aperture_samples > 0:
        n = cfg.aperture_samples
    else:
        spacing_needed = cfg.ghost_px / max(dmax, 1e-6)
        n = int(np.ceil(np.pi * radius**2 / spacing_needed**2))
        n = int(np.clip(n, cfg.min_aperture_samples, cfg.max_aperture_samples))
    if soft:
        xn, _ = optics.frame_coords(scene.height, scene.width, scene.frame_window)
        pos, wl, wr, spacing = optics.soft_aperture(n, xn, optics.PIXEL4, *scene.psf_params)
    else:
        pos, spacing = disc_pattern(n)
        wl, wr = half_weights(pos)
    # prefilter only where the lattice would ghost
    return pos, wl, wr, (spacing if spacing * dmax > cfg.ghost_px else 0.0)


def _slant_extent(scene: Scene, layer: Layer) -> float:
    _, gx, gy = layer.plane
    return abs(gx) * scene.width / 2.0 + abs(gy) * scene.height / 2.0


def _weighted(w: np.ndarray, views: np.ndarray, h: int, wd: int) -> np.ndarray:
    """sum_p w[p] * views[p] for weights [P] or per-column weights [P, W].  views [P, h*w*3] -> [h, w, 3]"""
    if w.ndim == 1:
        return (w.astype(np.float32) @ views).reshape(h, wd, 3)
    v = views.reshape(len(w), h, wd, 3)
    return np.einsum("px,pyxc->yxc", w.astype(np.float32), v, optimize=True)


def render_dp(scene: Scene, cfg: SceneConfig, frame: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Noise-free thin-lens capture: left, right [H, W] (dp_gray of the half-aperture means) and
    rgb [H, W, 3] (full-aperture mean), with vignetting / DP gain imbalance / DP vignetting (left, right only),
    exposure (all three) and white balance (rgb only) applied.  + info dict."""
    pos, wl, wr, spacing = aperture_samples(scene, cfg)
    h, w = scene.height, scene.width
    acc_l = np.zeros((h, w, 3), np.float32)
    acc_r = np.zeros((h, w, 3), np.float32)
    acc = np.zeros((h, w, 3), np.float32)
    step = max(1, _CHUNK_PIXELS // (h * w))
    sources = [_prefilter(scene, layer, spacing) if spacing > 0 else layer.rgba for layer in scene.layers]
    for s in range(0, len(pos), step):
        views = _render_chunk(scene, pos[s:s + step], frame, sources).reshape(-1, h * w * 3)
        acc_l += _weighted(wl[s:s + step], views, h, w)
        acc_r += _weighted(wr[s:s + step], views, h, w)
        acc += views.sum(axis=0).reshape(h, w, 3)
    rgb = acc / len(pos)
    left, right = dp_gray(acc_l), dp_gray(acc_r)
    if scene.vignetting > 0 or scene.dp_imbalance > 0:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        xn = (xs - (w - 1) / 2.0) / ((w - 1) / 2.0)
        yn = (ys - (h - 1) / 2.0) / ((h - 1) / 2.0)
        vig = 1.0 - scene.vignetting * (xn**2 + yn**2) / 2.0
        rgb = rgb * vig[..., None]
        left = left * vig * (1.0 - scene.dp_imbalance * xn)
        right = right * vig * (1.0 + scene.dp_imbalance * xn)
    if cfg.dp_vignetting > 0:
        gl, gr = optics.dp_vignetting(optics.PIXEL4, h, w, scene.frame_window, cfg.dp_vignetting)
        left, right = left * gl, right * gr
    if scene.exposure != 1.0:
        left, right, rgb = left * scene.exposure, right * scene.exposure, rgb * scene.exposure
    if tuple(scene.white_balance) != (1.0, 1.0, 1.0):
        rgb = rgb * np.asarray(scene.white_balance, np.float32)
    info = {"aperture_samples": len(pos), "prefilter_spacing": spacing}
    return left.astype(np.float32), right.astype(np.float32), rgb.astype(np.float32), info


def sensor(x: np.ndarray, noise: float, bit_depth: int, rng: np.random.Generator) -> np.ndarray:
    """Shot + read noise (std `noise` at 0.5; read part = noise/2) then clip and quantise to bit_depth."""
    x = np.asarray(x, np.float32)
    if noise > 0:
        var = noise**2 * (0.75 * np.clip(x, 0, None) / 0.5 + 0.25)
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * np.sqrt(var).astype(np.float32)
    x = np.clip(x, 0.0, 1.0)
    if bit_depth and bit_depth > 0:
        q = float(2**bit_depth - 1)
        x = np.round(x * q) / q
    return x.astype(np.float32)

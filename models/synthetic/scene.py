"""Scene model of the synthetic engine: a back-to-front list of textured, alpha-masked planes.

Coordinates: image pixel (x, y), x right, y down. A layer stores its premultiplied RGBA on a canvas that
extends `margin` px beyond the image on every side; its disparity plane is affine in the layer's own
frame, centred on the image centre: D(p) = d0 + gx * px + gy * py with p = (x - (W-1)/2, y - (H-1)/2).
At frame f a layer is translated by t(f) (object motion + camera pan with parallax ~ D), so its content
and its D at image pixel x are those of the layer frame point x - t(f).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .textures import MASK_FAMILIES, TEXTURE_FAMILIES, mask, texture

APERTURES = ("disc", "lf-grid")


@dataclass(frozen=True)
class SceneConfig:
    """Random-scene distribution and camera model of the synthetic engine (see docs/synthetic.md)."""

    max_disparity: float = 14.0          # max |D| (px at the rendered resolution) over the image
    n_layers: tuple = (2, 5)             # inclusive range of layer counts (background included)
    aperture: str = "disc"               # "disc" (dense thin-lens aperture) or "lf-grid" (SPEC §2 LF->DP)
    aperture_views: int = 9              # K of the K x K grid for aperture="lf-grid"
    noise: float = 0.01                  # sensor noise std at mid-grey (shot + read); 0 disables
    bit_depth: int = 8                   # quantisation of left/right/rgb; 0 disables
    slanted_prob: float = 0.3            # probability that a layer is a slanted (affine-D) plane
    disparity_scale: tuple = (0.3, 1.0)  # a scene's max |D| is max_disparity times a draw from this range
    focus_on_layer_prob: float = 0.3     # probability that the focal plane lies exactly on a layer
    texture_families: tuple = TEXTURE_FAMILIES
    mask_families: tuple = MASK_FAMILIES
    soft_edge_prob: float = 0.4          # probability that a mask edge is softened (sigma 0.3-1.5 px)
    aperture_samples: int = 0            # disc samples; 0 = adaptive (spacing * max|D| <= ghost_px)
    min_aperture_samples: int = 24
    max_aperture_samples: int = 64       # beyond this, layers are prefiltered instead (see docs)
    ghost_px: float = 1.5
    vignetting: float = 0.0              # max radial falloff at the corners (drawn per scene in [0, v])
    dp_imbalance: float = 0.0            # max opposite left/right gain ramps across x (drawn in [0, b])
    view_reach: float = 2.5              # |u|, |v| up to which views need no border reflection
    object_speed: float = 1.0            # object motion, px/frame (std)
    camera_speed: float = 1.0            # camera pan, common shift px/frame (std)
    camera_parallax: float = 0.05        # camera pan, extra shift per unit D per frame (std)


@dataclass
class Layer:
    rgba: np.ndarray                     # float32 [Hc, Wc, 4], premultiplied
    plane: tuple                         # (d0, gx, gy) in D units
    bbox: tuple | None                   # (x0, y0, x1, y1) of alpha > 0 on the canvas; None = background
    trajectory: np.ndarray               # float32 [F, 2] translation (tx, ty) per frame, px

    @property
    def slanted(self) -> bool:
        return self.plane[1] != 0.0 or self.plane[2] != 0.0


@dataclass
class Scene:
    height: int
    width: int
    margin: int
    layers: list                         # back (far, small D) to front (near, large D)
    frames: int = 1
    vignetting: float = 0.0
    dp_imbalance: float = 0.0
    seed: int | None = None
    info: dict = field(default_factory=dict)

    def disparity_at(self, layer: Layer, frame: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """D of `layer` seen at image pixels (xs, ys) at `frame` (layer frame point = pixel - t)."""
        d0, gx, gy = layer.plane
        tx, ty = layer.trajectory[frame]
        return (d0 + gx * (xs - tx - (self.width - 1) / 2.0) + gy * (ys - ty - (self.height - 1) / 2.0)).astype(
            np.float32)


def _check_config(cfg: SceneConfig, height: int, width: int) -> None:
    if cfg.aperture not in APERTURES:
        raise ValueError(f"SceneConfig.aperture={cfg.aperture!r} is unknown; use one of {APERTURES}")
    if cfg.aperture == "lf-grid" and cfg.aperture_views < 2:
        raise ValueError(f"SceneConfig.aperture_views={cfg.aperture_views} must be >= 2 for 'lf-grid'")
    if not (cfg.max_disparity >= 0):
        raise ValueError(f"SceneConfig.max_disparity={cfg.max_disparity} must be >= 0")
    if len(cfg.n_layers) != 2 or not 1 <= cfg.n_layers[0] <= cfg.n_layers[1]:
        raise ValueError(f"SceneConfig.n_layers={cfg.n_layers} must be (lo, hi) with 1 <= lo <= hi")
    if height < 8 or width < 8:
        raise ValueError(f"image size {height}x{width} is too small; use at least 8x8")


def _trajectory(rng: np.random.Generator, frames: int, speed: float) -> np.ndarray:
    """Smooth 2-D path starting at 0: constant velocity + a slow wobble.  -> [F, 2]"""
    f = np.arange(frames, dtype=np.float64)[:, None]
    vel = rng.normal(0.0, speed, 2)
    amp = rng.normal(0.0, speed, 2)
    period = rng.uniform(8.0, 40.0)
    phase = rng.uniform(0, 2 * np.pi, 2)
    return vel * f + amp * (np.sin(2 * np.pi * f / period + phase) - np.sin(phase))


def make_scene(seed: int, height: int = 128, width: int = 128, cfg: SceneConfig = SceneConfig(),
               frames: int = 1, camera_motion: bool = True, object_motion: bool = True) -> Scene:
    """Draw a random layered scene, deterministic in (seed, height, width, cfg, frames, motion flags)."""
    _check_config(cfg, height, width)
    if frames < 1:
        raise ValueError(f"frames={frames} must be >= 1")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(cfg.n_layers[0], cfg.n_layers[1] + 1))

    # Depth order first: non-overlapping intervals of a unit "inverse depth" z, so that a nearer layer
    # is nearer everywhere in the image even when planes are slanted.
    cuts = np.sort(rng.uniform(0, 1, n - 1))
    edges = np.concatenate([[0.0], cuts, [1.0]])
    planes_z, z_lo, z_hi = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        pad = 0.1 * (hi - lo)
        lo, hi = lo + pad, hi - pad
        if rng.random() < cfg.slanted_prob:
            span = (hi - lo) * rng.uniform(0.3, 1.0)
            start = rng.uniform(lo, hi - span)
            ang = rng.uniform(0, 2 * np.pi)
            extent = abs(np.cos(ang)) * (width - 1) + abs(np.sin(ang)) * (height - 1)
            k = span / max(extent, 1.0)
            gx, gy = k * np.cos(ang), k * np.sin(ang)
            zc = start + span / 2.0
            planes_z.append((zc, gx, gy))
            z_lo.append(start)
            z_hi.append(start + span)
        else:
            z = rng.uniform(lo, hi)
            planes_z.append((z, 0.0, 0.0))
            z_lo.append(z)
            z_hi.append(z)
    zmin, zmax = min(z_lo), max(z_hi)
    if rng.random() < cfg.focus_on_layer_prob:
        focus = planes_z[int(rng.integers(0, n))][0]
    else:
        focus = rng.uniform(zmin, zmax)
    scale = cfg.max_disparity * rng.uniform(*cfg.disparity_scale)
    gain = scale / max(focus - zmin, zmax - focus, 1e-6)
    planes = [(float(gain * (z - focus)), float(gain * gx), float(gain * gy)) for z, gx, gy in planes_z]

    # Motion: object paths, and a camera pan that shifts every layer by a + b * D (parallax ~ D).
    cam_common = _trajectory(rng, frames, cfg.camera_speed) if camera_motion else np.zeros((frames, 2))
    cam_parallax = _trajectory(rng, frames, cfg.camera_parallax) if camera_motion else np.zeros((frames, 2))
    trajectories = []
    for i, (d0, _, _) in enumerate(planes):
        own = _trajectory(rng, frames, cfg.object_speed) if (object_motion and i > 0) else np.zeros((frames, 2))
        trajectories.append((own + cam_common + cam_parallax * d0).astype(np.float32))
    travel = max(float(np.abs(t).max()) for t in trajectories)
    margin = int(np.ceil(cfg.max_disparity * cfg.view_reach + travel)) + 4
    hc, wc = height + 2 * margin, width + 2 * margin

    layers = []
    for i, plane in enumerate(planes):
        family = cfg.texture_families[int(rng.integers(0, len(cfg.texture_families)))]
        tex = texture(family, (hc, wc), rng)
        if i == 0:
            alpha = np.ones((hc, wc), np.float32)
            bbox = None
        else:
            kind = cfg.mask_families[int(rng.integers(0, len(cfg.mask_families)))]
            center = (margin + rng.uniform(0, width), margin + rng.uniform(0, height))
            size = rng.uniform(0.15, 0.7) * min(height, width)
            soft = rng.uniform(0.3, 1.5) if rng.random() < cfg.soft_edge_prob else 0.0
            alpha = mask(kind, (hc, wc), rng, center, size, soft)
            ys_nz, xs_nz = np.nonzero(alpha > 1e-4)
            if len(xs_nz) == 0:
                continue
            bbox = (int(xs_nz.min()), int(ys_nz.min()), int(xs_nz.max()) + 1, int(ys_nz.max()) + 1)
        rgba = np.concatenate([tex * alpha[..., None], alpha[..., None]], axis=-1).astype(np.float32)
        layers.append(Layer(rgba=rgba, plane=plane, bbox=bbox, trajectory=trajectories[i]))

    return Scene(height=height, width=width, margin=margin, layers=layers, frames=frames,
                 vignetting=float(rng.uniform(0, cfg.vignetting)), dp_imbalance=float(rng.uniform(0, cfg.dp_imbalance)),
                 seed=seed, info={"n_layers": len(layers), "focus_z": float(focus), "scale": float(scale)})


def scene_from_layers(height: int, width: int, layers: list, margin: int | None = None) -> Scene:
    """Hand-built static scene (tests, demos). layers: back-to-front list of (rgb, alpha, plane) with
    rgb float32 [H + 2m, W + 2m, 3], alpha [H + 2m, W + 2m] or None (opaque; required for the first),
    plane = D (float, fronto-parallel) or (d0, gx, gy). margin m defaults to (rgb height - H) / 2."""
    if not layers:
        raise ValueError("scene_from_layers needs at least one (rgb, alpha, plane) layer")
    hc, wc = layers[0][0].shape[:2]
    m = (hc - height) // 2 if margin is None else margin
    if hc != height + 2 * m or wc != width + 2 * m:
        raise ValueError(f"layer canvas {hc}x{wc} must be the image {height}x{width} plus a margin on every side")
    out = []
    for i, (rgb, alpha, plane) in enumerate(layers):
        plane = (float(plane), 0.0, 0.0) if np.isscalar(plane) else tuple(float(p) for p in plane)
        if alpha is None:
            alpha = np.ones((hc, wc), np.float32)
        elif i == 0:
            raise ValueError("the first (background) layer must be opaque: pass alpha=None")
        alpha = np.asarray(alpha, np.float32)
        rgba = np.concatenate([np.asarray(rgb, np.float32) * alpha[..., None], alpha[..., None]], -1)
        ys_nz, xs_nz = np.nonzero(alpha > 1e-4)
        bbox = None if i == 0 else (int(xs_nz.min()), int(ys_nz.min()), int(xs_nz.max()) + 1, int(ys_nz.max()) + 1)
        out.append(Layer(rgba=rgba, plane=plane, bbox=bbox, trajectory=np.zeros((1, 2), np.float32)))
    return Scene(height=height, width=width, margin=m, layers=out, seed=0)

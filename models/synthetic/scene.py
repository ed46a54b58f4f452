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

import cv2

from . import optics
from .textures import MASK_FAMILIES, TEXTURE_FAMILIES, mask, texture, value_noise

APERTURES = ("disc", "lf-grid")
PSFS = ("ideal", "pixel4")
SURFACES = ("sphere", "cylinder", "heightfield")


@dataclass(frozen=True)
class SceneConfig:
    """Random-scene distribution and camera model of the synthetic engine (see docs/synthetic.md)."""

    max_disparity: float = 14.0          # max |D| (px at the rendered resolution) over the image
    n_layers: tuple = (2, 5)             # inclusive range of layer counts (background included)
    aperture: str = "disc"               # "disc" (dense thin-lens aperture) or "lf-grid" (the exact LF->DP synthesis)
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
    # --- v2 options: the defaults keep the v1 engine bit for bit (see presets.realistic_config) ---
    psf: str = "ideal"                   # disc: "ideal" sharp half discs | "pixel4" soft split fitted to the Pixel 4
    psf_jitter: float = 0.0              # pixel4: per-scene relative jitter of the split softness and offset
    dp_vignetting: float = 0.0           # Pixel-4-fitted DP vignetting on left/right: 0 off, 1 as measured
    frame_fraction: tuple = (1.0, 1.0)   # the image is a window of the sensor frame (vignetting / PSF vary over
    #                                      the frame): size as a fraction of the largest window, drawn per scene
    curved_prob: float = 0.0             # probability that a layer is curved (sphere cap, cylinder, height field)
    focus_range: tuple = (0.0, 1.0)      # focal plane drawn in this part of the scene's depth span (< 0 or > 1:
    #                                      focused in front of / behind everything, all D one sign)
    exposure: float = 0.0                # per-scene exposure gain 2 ** U(-e, e) (highlights clip)
    white_balance: float = 0.0           # per-scene rgb channel gains exp(N(0, wb)) (the DP planes are raw)


@dataclass
class Layer:
    rgba: np.ndarray                     # float32 [Hc, Wc, 4], premultiplied
    plane: tuple                         # (d0, gx, gy) in D units
    bbox: tuple | None                   # (x0, y0, x1, y1) of alpha > 0 on the canvas; None = background
    trajectory: np.ndarray               # float32 [F, 2] translation (tx, ty) per frame, px
    dmap: np.ndarray | None = None       # float32 [Hc, Wc] D added to the plane (curved surfaces), canvas frame
    info: dict = field(default_factory=dict)

    @property
    def slanted(self) -> bool:
        return self.plane[1] != 0.0 or self.plane[2] != 0.0

    @property
    def curved(self) -> bool:
        return self.dmap is not None

    @property
    def dmap_absmax(self) -> float:
        if self.dmap is None:
            return 0.0
        if "dmap_absmax" not in self.info:
            self.info["dmap_absmax"] = float(np.abs(self.dmap).max())
        return self.info["dmap_absmax"]


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
    psf_params: tuple = (1.0, 0.0)       # pixel4 split jitter: (tau scale, t0 shift)
    frame_window: tuple | None = None    # (xc, yc, k): the image in sensor-frame coords (optics.py); None = largest
    exposure: float = 1.0                # gain on left, right, rgb
    white_balance: tuple = (1.0, 1.0, 1.0)  # rgb channel gains

    def disparity_at(self, layer: Layer, frame: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """D of `layer` seen at image pixels (xs, ys) at `frame` (layer frame point = pixel - t)."""
        d0, gx, gy = layer.plane
        tx, ty = layer.trajectory[frame]
        d = (d0 + gx * (xs - tx - (self.width - 1) / 2.0) + gy * (ys - ty - (self.height - 1) / 2.0)).astype(
            np.float32)
        if layer.dmap is not None:
            m = self.margin
            mx = np.asarray(xs + (m - tx), np.float32)
            my = np.asarray(ys + (m - ty), np.float32)
            shape = mx.shape
            flat = (-1, shape[-1]) if mx.ndim else (1, 1)
            d = d + cv2.remap(layer.dmap, mx.reshape(flat), my.reshape(flat), cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE).reshape(shape)
        return d


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
    if cfg.psf not in PSFS:
        raise ValueError(f"SceneConfig.psf={cfg.psf!r} is unknown; use one of {PSFS}")
    if cfg.psf != "ideal" and cfg.aperture != "disc":
        raise ValueError(f"SceneConfig.psf={cfg.psf!r} needs aperture='disc'; 'lf-grid' is the exact "
                         "LF->DP synthesis of docs/dp-format.md and has no PSF model")
    if len(cfg.frame_fraction) != 2 or not 0 < cfg.frame_fraction[0] <= cfg.frame_fraction[1] <= 1:
        raise ValueError(f"SceneConfig.frame_fraction={cfg.frame_fraction} must be (lo, hi) with 0 < lo <= hi <= 1")
    if len(cfg.focus_range) != 2 or not cfg.focus_range[0] <= cfg.focus_range[1]:
        raise ValueError(f"SceneConfig.focus_range={cfg.focus_range} must be (lo, hi) with lo <= hi")
    if cfg.dp_vignetting < 0 or cfg.exposure < 0 or cfg.white_balance < 0 or cfg.psf_jitter < 0:
        raise ValueError("SceneConfig.dp_vignetting, exposure, white_balance and psf_jitter must be >= 0")


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
    # v2 options draw from their own stream, after the v1 draws they modify: with v2 options off the scene is
    # the v1 scene bit for bit.
    rng2 = np.random.default_rng([abs(int(seed or 0)), 0x5E2])
    n = int(rng.integers(cfg.n_layers[0], cfg.n_layers[1] + 1))

    # Depth order first: non-overlapping intervals of a unit "inverse depth" z, so that a nearer layer
    # is nearer everywhere in the image even when planes are slanted or curved.
    cuts = np.sort(rng.uniform(0, 1, n - 1))
    edges = np.concatenate([[0.0], cuts, [1.0]])
    planes_z, z_lo, z_hi = [], [], []
    curved = {}                          # layer index -> (surface kind, z span of the bump)
    for idx, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
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
        if cfg.curved_prob > 0 and rng2.random() < cfg.curved_prob:
            # a bump towards the camera of z extent `span` on a fronto base: D = base + amp * shape, shape in [0, 1]
            kinds = ("heightfield", "cylinder") if idx == 0 else SURFACES
            kind = kinds[int(rng2.integers(0, len(kinds)))]
            span = (hi - lo) * rng2.uniform(0.3, 1.0)
            base = rng2.uniform(lo, hi - span)
            planes_z[-1], z_lo[-1], z_hi[-1] = (base, 0.0, 0.0), base, base + span
            curved[idx] = (kind, span)
    zmin, zmax = min(z_lo), max(z_hi)
    if rng.random() < cfg.focus_on_layer_prob:
        focus = planes_z[int(rng.integers(0, n))][0]
    else:
        focus = rng.uniform(zmin, zmax)
        if tuple(cfg.focus_range) != (0.0, 1.0):
            focus = zmin + (zmax - zmin) * rng2.uniform(*cfg.focus_range)
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
        surface = curved.get(i)
        dmap, info = None, {"texture": family}
        if i == 0:
            alpha = np.ones((hc, wc), np.float32)
            bbox = None
            center, size = (margin + (width - 1) / 2.0, margin + (height - 1) / 2.0), float(max(height, width))
        else:
            kind = cfg.mask_families[int(rng.integers(0, len(cfg.mask_families)))]
            center = (margin + rng.uniform(0, width), margin + rng.uniform(0, height))
            size = rng.uniform(0.15, 0.7) * min(height, width)
            soft = rng.uniform(0.3, 1.5) if rng.random() < cfg.soft_edge_prob else 0.0
            if surface is not None and surface[0] in ("sphere", "cylinder"):
                kind = surface[0]  # the silhouette of the surface itself
                alpha = None
            else:
                alpha = mask(kind, (hc, wc), rng, center, size, soft)
            info["mask"] = kind
        if surface is not None:
            amp = gain * surface[1]
            shape, alpha_s, sinfo = curved_surface(surface[0], (hc, wc), rng2, center, size, soft=(
                0.0 if i == 0 else soft))
            dmap = (amp * shape).astype(np.float32)
            alpha = alpha if alpha is not None else alpha_s
            info.update(sinfo, surface=surface[0], amplitude=float(amp))
        if i > 0:
            ys_nz, xs_nz = np.nonzero(alpha > 1e-4)
            if len(xs_nz) == 0:
                continue
            bbox = (int(xs_nz.min()), int(ys_nz.min()), int(xs_nz.max()) + 1, int(ys_nz.max()) + 1)
        rgba = np.concatenate([tex * alpha[..., None], alpha[..., None]], axis=-1).astype(np.float32)
        layers.append(Layer(rgba=rgba, plane=plane, bbox=bbox, trajectory=trajectories[i], dmap=dmap, info=info))

    scene = Scene(height=height, width=width, margin=margin, layers=layers, frames=frames,
                  vignetting=float(rng.uniform(0, cfg.vignetting)), dp_imbalance=float(rng.uniform(0, cfg.dp_imbalance)),
                  seed=seed, info={"n_layers": len(layers), "focus_z": float(focus), "scale": float(scale)})
    # v2 camera draws (rng2): PSF jitter, window of the sensor frame, exposure, white balance
    if cfg.psf != "ideal" and cfg.psf_jitter > 0:
        scene.psf_params = (float(np.exp(rng2.normal(0.0, cfg.psf_jitter))),
                            float(rng2.normal(0.0, 0.5 * cfg.psf_jitter)))
    if tuple(cfg.frame_fraction) != (1.0, 1.0):
        scene.frame_window = optics.random_window(height, width, rng2, cfg.frame_fraction)
    if cfg.exposure > 0:
        scene.exposure = float(2.0 ** rng2.uniform(-cfg.exposure, cfg.exposure))
    if cfg.white_balance > 0:
        scene.white_balance = tuple(float(g) for g in np.exp(rng2.normal(0.0, cfg.white_balance, 3)))
    if cfg.psf != "ideal" or scene.frame_window is not None or cfg.exposure > 0 or cfg.white_balance > 0:
        scene.info.update(psf=cfg.psf, psf_params=scene.psf_params, frame_window=scene.frame_window,
                          exposure=scene.exposure, white_balance=scene.white_balance)
    return scene


def cap_profile(r: np.ndarray, k: float) -> np.ndarray:
    """Height of a spherical cap over its base disc, r = distance / base radius: 1 at the centre, 0 at r >= 1.
    k in (0, 1]: how much of the hemisphere (k = 1: a hemisphere, vertical at the rim)."""
    r2 = np.clip(np.asarray(r, np.float64) ** 2, 0.0, 1.0)
    lo = np.sqrt(1.0 - k)
    return ((np.sqrt(1.0 - k * r2) - lo) / (1.0 - lo)).astype(np.float32)


def curved_surface(kind: str, shape: tuple[int, int], rng: np.random.Generator, center: tuple[float, float],
                   size: float, soft: float = 0.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """A curved surface on a layer canvas: (shape [Hc, Wc] in [0, 1] (D = base + amplitude * shape),
    its silhouette alpha [Hc, Wc], parameters). sphere: a spherical cap over a disc; cylinder: a cap profile
    across a long band; heightfield: smooth value noise (any silhouette; alpha = 1)."""
    hc, wc = shape
    ys, xs = np.mgrid[0:hc, 0:wc].astype(np.float64)
    cx, cy = center
    if kind == "sphere":
        radius = 0.5 * size
        k = float(rng.uniform(0.5, 0.9))
        prof = cap_profile(np.hypot(xs - cx, ys - cy) / radius, k)
        alpha = np.zeros((hc, wc), np.float32)
        cv2.circle(alpha, (int(round(cx * 16)), int(round(cy * 16))), int(round(radius * 16)), 1.0, -1,
                   cv2.LINE_AA, shift=4)
        info = {"center": (float(cx), float(cy)), "radius": float(radius), "k": k}
    elif kind == "cylinder":
        half = float(rng.uniform(0.1, 0.3)) * size + 1.5
        length = float(rng.uniform(1.5, 4.0)) * size
        ang = float(rng.uniform(0, np.pi))
        k = float(rng.uniform(0.5, 0.9))
        nx, ny = -np.sin(ang), np.cos(ang)              # across the axis
        prof = cap_profile(((xs - cx) * nx + (ys - cy) * ny) / half, k)
        alpha = np.zeros((hc, wc), np.float32)
        box = cv2.boxPoints(((cx, cy), (length, 2 * half), float(np.degrees(ang))))
        cv2.fillPoly(alpha, [np.round(box * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
        info = {"center": (float(cx), float(cy)), "half_width": half, "angle": ang, "k": k}
    elif kind == "heightfield":
        scale = float(rng.uniform(0.3, 1.0)) * size
        field = value_noise((hc, wc), rng, max(scale, 4.0))
        field = cv2.GaussianBlur(field, (0, 0), max(scale, 4.0) / 4.0)
        lo, hi = float(field.min()), float(field.max())
        prof = ((field - lo) / max(hi - lo, 1e-6)).astype(np.float32)
        alpha = np.ones((hc, wc), np.float32)
        info = {"scale": scale}
    else:
        raise ValueError(f"unknown surface {kind!r}; use one of {SURFACES}")
    if soft > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), soft)
    return prof.astype(np.float32), np.clip(alpha, 0.0, 1.0), info


def scene_from_layers(height: int, width: int, layers: list, margin: int | None = None) -> Scene:
    """Hand-built static scene (tests, demos). layers: back-to-front list of (rgb, alpha, plane) or
    (rgb, alpha, plane, dmap) with rgb float32 [H + 2m, W + 2m, 3], alpha [H + 2m, W + 2m] or None (opaque;
    required for the first), plane = D (float, fronto-parallel) or (d0, gx, gy), dmap [H + 2m, W + 2m] D added
    to the plane (curved surfaces) or None. margin m defaults to (rgb height - H) / 2."""
    if not layers:
        raise ValueError("scene_from_layers needs at least one (rgb, alpha, plane) layer")
    hc, wc = layers[0][0].shape[:2]
    m = (hc - height) // 2 if margin is None else margin
    if hc != height + 2 * m or wc != width + 2 * m:
        raise ValueError(f"layer canvas {hc}x{wc} must be the image {height}x{width} plus a margin on every side")
    out = []
    for i, entry in enumerate(layers):
        if len(entry) not in (3, 4):
            raise ValueError(f"layer {i}: expected (rgb, alpha, plane) or (rgb, alpha, plane, dmap), got {len(entry)} items")
        rgb, alpha, plane = entry[:3]
        dmap = None if len(entry) == 3 or entry[3] is None else np.ascontiguousarray(entry[3], np.float32)
        if dmap is not None and dmap.shape != (hc, wc):
            raise ValueError(f"layer {i}: dmap shape {dmap.shape} must be the canvas {(hc, wc)}")
        plane = (float(plane), 0.0, 0.0) if np.isscalar(plane) else tuple(float(p) for p in plane)
        if alpha is None:
            alpha = np.ones((hc, wc), np.float32)
        elif i == 0:
            raise ValueError("the first (background) layer must be opaque: pass alpha=None")
        alpha = np.asarray(alpha, np.float32)
        rgba = np.concatenate([np.asarray(rgb, np.float32) * alpha[..., None], alpha[..., None]], -1)
        ys_nz, xs_nz = np.nonzero(alpha > 1e-4)
        bbox = None if i == 0 else (int(xs_nz.min()), int(ys_nz.min()), int(xs_nz.max()) + 1, int(ys_nz.max()) + 1)
        out.append(Layer(rgba=rgba, plane=plane, bbox=bbox, trajectory=np.zeros((1, 2), np.float32), dmap=dmap))
    return Scene(height=height, width=width, margin=m, layers=out, seed=0)

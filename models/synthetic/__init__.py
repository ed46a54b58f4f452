"""Synthetic data engine: thin-lens rendering of layered, textured, moving scenes.

    sample = render_sample(seed, 128, 128, positions, cfg, stereo_baseline=2.0)
    clip = render_clip(seed, frames, 128, 128)
    views3, d = render_stereo(seed, 128, 128, cfg=cfg, baseline_u=2.0)   # same scene as render_sample(seed)
    cfg = realistic_config(np.random.default_rng([seed, 11]))            # v2 training draw (presets.py)

Pure numpy + OpenCV, deterministic by seed. See docs/synthetic.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .render import disc_pattern, render_disparity, render_dp, render_views, sensor
from .scene import APERTURES, PSFS, SURFACES, Layer, Scene, SceneConfig, make_scene, scene_from_layers
from .textures import (ALL_MASK_FAMILIES, ALL_TEXTURE_FAMILIES, MASK_FAMILIES, PHOTO_FAMILY, TEXTURE_FAMILIES,
                       THIN_MASK_FAMILIES)

__all__ = ["SceneConfig", "Sample", "Scene", "Layer", "make_scene", "render_sample", "render_clip",
           "render_stereo", "render_scene", "scene_from_layers", "render_dp", "render_views", "render_disparity", "disc_pattern",
           "APERTURES", "PSFS", "SURFACES", "TEXTURE_FAMILIES", "MASK_FAMILIES", "PHOTO_FAMILY", "THIN_MASK_FAMILIES",
           "ALL_TEXTURE_FAMILIES", "ALL_MASK_FAMILIES", "realistic_config", "classic_config", "render_realistic_sample"]


@dataclass
class Sample:
    left: np.ndarray                     # float32 [H, W], noisy + quantised DP left half-aperture image
    right: np.ndarray                    # float32 [H, W]
    rgb: np.ndarray                      # float32 [H, W, 3], full aperture (defocused), noisy + quantised
    disparity: np.ndarray                # float32 [H, W], GT D at the centre view
    views: np.ndarray                    # float32 [P, H, W, 3], pinhole views at `positions`, noise-free
    positions: np.ndarray                # float32 [P, 2], (u, v)
    stereo: np.ndarray | None = None     # float32 [3, H, W, 3], pinhole views at u = -s, 0, +s (teacher rig)
    stereo_baseline: float | None = None  # s
    seed: int | None = None
    frame: int = 0
    info: dict = field(default_factory=dict)


def _positions(positions) -> np.ndarray:
    if positions is None:
        return np.zeros((1, 2), np.float32)
    pos = np.asarray(positions, np.float32)
    if pos.ndim < 1 or pos.shape[-1] != 2 or pos.size == 0:
        raise ValueError(f"positions must be (u, v) pairs of shape [P, 2] (or [V, U, 2]); got shape {pos.shape}")
    if not np.isfinite(pos).all():
        raise ValueError("positions contain NaN/Inf; pass finite (u, v) values")
    return pos.reshape(-1, 2)


def render_stereo_views(scene: Scene, baseline_u: float, frame: int = 0) -> np.ndarray:
    """Sharp pinhole 3-camera rig at u = -s, 0, +s (v = 0).  -> float32 [3, H, W, 3]"""
    if not baseline_u > 0:
        raise ValueError(f"stereo baseline_u={baseline_u} must be > 0")
    s = float(baseline_u)
    return render_views(scene, np.array([[-s, 0.0], [0.0, 0.0], [s, 0.0]], np.float32), frame)


def render_scene(scene: Scene, cfg: SceneConfig = SceneConfig(), frame: int = 0, positions=None,
                 stereo_baseline: float | None = None, noise_seed: int | None = None) -> Sample:
    """Render one frame of a Scene: DP pair + RGB (thin lens, noisy), GT D, GT pinhole views, stereo rig."""
    if not 0 <= frame < scene.frames:
        raise ValueError(f"frame={frame} is outside the scene's {scene.frames} frames")
    pos = _positions(positions)
    left, right, rgb, info = render_dp(scene, cfg, frame)
    seed = scene.seed if noise_seed is None else noise_seed
    rng = np.random.default_rng([abs(int(seed or 0)), frame, 7])
    left = sensor(left, cfg.noise, cfg.bit_depth, rng)
    right = sensor(right, cfg.noise, cfg.bit_depth, rng)
    rgb = sensor(rgb, cfg.noise, cfg.bit_depth, rng)
    stereo = render_stereo_views(scene, stereo_baseline, frame) if stereo_baseline is not None else None
    info = dict(scene.info, **info)
    return Sample(left=left, right=right, rgb=rgb, disparity=render_disparity(scene, frame),
                  views=render_views(scene, pos, frame), positions=pos, stereo=stereo,
                  stereo_baseline=None if stereo_baseline is None else float(stereo_baseline),
                  seed=scene.seed, frame=frame, info=info)


def render_sample(seed: int, height: int = 128, width: int = 128, positions=None,
                  cfg: SceneConfig = SceneConfig(), stereo_baseline: float | None = None) -> Sample:
    """One random scene, deterministic by seed. positions=None renders the centre view only (P=1, (0, 0)).
    stereo_baseline=s also fills sample.stereo with the teacher's 3-view rig of the SAME scene."""
    scene = make_scene(seed, height, width, cfg)
    return render_scene(scene, cfg, 0, positions, stereo_baseline)


def render_clip(seed: int, frames: int, height: int = 128, width: int = 128, positions=None,
                cfg: SceneConfig = SceneConfig(), camera_motion: bool = True, object_motion: bool = True,
                stereo_baseline: float | None = None) -> list[Sample]:
    """A temporally coherent clip: layers move smoothly, the camera pans (shift a + b*D per layer)."""
    scene = make_scene(seed, height, width, cfg, frames, camera_motion, object_motion)
    return [render_scene(scene, cfg, f, positions, stereo_baseline) for f in range(frames)]


def render_stereo(seed_or_scene, height: int = 128, width: int = 128, cfg: SceneConfig = SceneConfig(),
                  baseline_u: float = 2.0, frame: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Teacher rig of a scene: (views [3, H, W, 3] at u = -s, 0, +s, GT D [H, W]).

    seed_or_scene: an int seed (the same scene as render_sample(seed, height, width, cfg=cfg)) or a Scene.
    """
    scene = seed_or_scene if isinstance(seed_or_scene, Scene) else make_scene(int(seed_or_scene), height, width, cfg)
    return render_stereo_views(scene, baseline_u, frame), render_disparity(scene, frame)


from .presets import classic_config, realistic_config, render_realistic_sample

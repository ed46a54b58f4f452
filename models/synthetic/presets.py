"""Scene-config draws for training: the v1 ("classic") draw and the v2 realistic draw.

    rng = np.random.default_rng([seed, 11])
    cfg = realistic_config(rng)                     # v2: photos, curved + thin geometry, Pixel 4 DP optics, ...
    cfg = classic_config(rng, (3.0, 18.0))          # v1: exactly models.training.samples._scene_config's draw
    sample = render_realistic_sample(seed, 128, 128, positions)   # both steps, one call

Both take the generator and consume draws from it in a fixed order, so a caller's seed -> config is stable.
"""
from __future__ import annotations

import numpy as np

from .scene import SceneConfig
from .textures import MASK_FAMILIES, PHOTO_FAMILY, THIN_MASK_FAMILIES, TEXTURE_FAMILIES

PROTOCOLS = ("full", "phone")


def classic_config(rng: np.random.Generator, max_disparity: tuple = (3.0, 18.0)) -> SceneConfig:
    """The v1 training draw (same draws, same order as models.training.samples._scene_config at the time of v2)."""
    return SceneConfig(
        max_disparity=float(rng.uniform(*max_disparity)),
        aperture=str(rng.choice(["disc", "lf-grid"])),
        aperture_views=int(rng.choice([9, 9, 3, 4])),
        noise=float(rng.uniform(0.002, 0.02)),
        bit_depth=8,
    )


def realistic_config(rng: np.random.Generator, protocol: str | None = None, full_range: tuple = (8.0, 15.0),
                     phone_range: tuple = (1.5, 5.0), phone_prob: float = 0.35, photo_share: float = 0.5,
                     **overrides) -> SceneConfig:
    """A v2 scene/camera config drawn for training.

    protocol: "full" (full-aperture defocus, scene max |D| up to about 14 px) or "phone" (mild blur, a few px);
    None draws it (phone with `phone_prob`). The scene's max |D| is max_disparity * U(0.4, 1), max_disparity
    drawn from full_range / phone_range. Optics: 50 % disc with the Pixel-4-fitted soft split (psf="pixel4",
    jittered, DP vignetting of random strength on a random window of the frame), 20 % ideal disc, 30 % the
    LF grid of engine/conventions.py (K = 9 or 10 full, 3 or 4 phone). Geometry: 2-6 layers, slanted (30 %) and curved (30 %)
    surfaces, thin occluders among the masks, focal plane anywhere from slightly in front of to slightly behind
    the scene. Textures: photographs (share `photo_share`, procedural without scikit-image) and all
    procedural families. Sensor: exposure +-0.7 stop, white balance jitter, shot + read noise 0.002-0.03 at
    mid-grey, 8 / 10 / 12 / 14-bit. `overrides` replace any field afterwards.
    """
    if protocol is None:
        protocol = "phone" if rng.random() < phone_prob else "full"
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol={protocol!r} is unknown; use one of {PROTOCOLS}")
    lo, hi = phone_range if protocol == "phone" else full_range
    max_disparity = float(rng.uniform(lo, hi))
    optics_draw = rng.random()
    if optics_draw < 0.3:
        aperture, psf = "lf-grid", "ideal"
    elif optics_draw < 0.5:
        aperture, psf = "disc", "ideal"
    else:
        aperture, psf = "disc", "pixel4"
    views = int(rng.choice([3, 4])) if protocol == "phone" else int(rng.choice([9, 9, 10]))
    dp_vig = float(rng.uniform(0.0, 1.0)) if (psf == "pixel4" or rng.random() < 0.3) else 0.0
    n_proc = len(TEXTURE_FAMILIES)
    n_photo = int(round(photo_share / max(1e-6, 1.0 - photo_share) * n_proc)) if photo_share < 1 else 1
    textures = TEXTURE_FAMILIES * (1 if photo_share < 1 else 0) + (PHOTO_FAMILY,) * n_photo
    masks = MASK_FAMILIES * 2 + THIN_MASK_FAMILIES      # thin occluders in 3 of 11 foreground layers
    cfg = dict(
        max_disparity=max_disparity,
        n_layers=(2, 6),
        aperture=aperture,
        aperture_views=views,
        psf=psf,
        psf_jitter=0.15 if psf == "pixel4" else 0.0,
        dp_vignetting=dp_vig,
        frame_fraction=(0.15, 1.0),
        disparity_scale=(0.4, 1.0),
        slanted_prob=0.3,
        curved_prob=0.3,
        focus_range=(-0.15, 1.15),
        texture_families=textures,
        mask_families=masks,
        noise=float(np.exp(rng.uniform(np.log(0.002), np.log(0.03)))),
        bit_depth=int(rng.choice([8, 10, 12, 14])),
        exposure=0.7,
        white_balance=0.08,
    )
    cfg.update(overrides)
    return SceneConfig(**cfg)


def render_realistic_sample(seed: int, height: int = 128, width: int = 128, positions=None,
                            stereo_baseline: float | None = None, protocol: str | None = None, **kwargs):
    """render_sample with realistic_config drawn from default_rng([seed, 11]) (the stream train.py uses)."""
    from . import render_sample

    cfg = realistic_config(np.random.default_rng([seed, 11]), protocol, **kwargs)
    return render_sample(seed, height, width, positions=positions, cfg=cfg, stereo_baseline=stereo_baseline)

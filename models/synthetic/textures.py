"""Procedural textures and alpha masks for the synthetic engine. Pure numpy + OpenCV.

Every function takes a `np.random.Generator` and a canvas shape and returns float32 arrays:
textures `[H, W, 3]` in [0, 1] (linear intensity), masks `[H, W]` in [0, 1].
"""
from __future__ import annotations

import cv2
import numpy as np

TEXTURE_FAMILIES = ("gradient", "value_noise", "stripes", "checker", "shapes", "pink_noise", "flat")
MASK_FAMILIES = ("blob", "ellipse", "polygon", "bar")
# v2 (opt-in through SceneConfig.texture_families / mask_families; see presets.realistic_config)
PHOTO_FAMILY = "photo"               # crops of real photographs bundled with scikit-image (procedural without it)
THIN_MASK_FAMILIES = ("wire", "branch", "fence")   # 1-4 px structures
ALL_TEXTURE_FAMILIES = TEXTURE_FAMILIES + (PHOTO_FAMILY,)
ALL_MASK_FAMILIES = MASK_FAMILIES + THIN_MASK_FAMILIES


def _colors(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random linear-RGB colours, mostly desaturated like natural scenes.  -> [n, 3]"""
    grey = rng.uniform(0.05, 0.9, size=(n, 1))
    tint = rng.normal(0.0, 0.15, size=(n, 3)) * rng.uniform(0.2, 1.0)
    return np.clip(grey + tint, 0.0, 1.0)


def _colorize(field: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map a scalar field [H, W] in [0, 1] between two random colours -> [H, W, 3]."""
    c0, c1 = _colors(rng, 2)
    if rng.random() < 0.3:  # low-contrast surfaces are common and hard for stereo
        c1 = c0 + (c1 - c0) * rng.uniform(0.05, 0.3)
    return (c0 + field[..., None] * (c1 - c0)).astype(np.float32)


def _normalize(field: np.ndarray) -> np.ndarray:
    lo, hi = float(field.min()), float(field.max())
    return ((field - lo) / max(hi - lo, 1e-6)).astype(np.float32)


def _coords(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return x, y


def _rotated(shape, rng) -> np.ndarray:
    x, y = _coords(shape)
    a = rng.uniform(0, np.pi)
    return x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)


def value_noise(shape: tuple[int, int], rng: np.random.Generator, scale: float) -> np.ndarray:
    """Smooth random field with features of about `scale` px: bicubic upsampling of a coarse grid. -> [H, W]"""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / scale)) + 2), max(2, int(np.ceil(w / scale)) + 2)
    coarse = rng.random((gh, gw)).astype(np.float32)
    big = cv2.resize(coarse, (int(gw * scale), int(gh * scale)), interpolation=cv2.INTER_CUBIC)
    oy, ox = rng.integers(0, max(1, big.shape[0] - h)), rng.integers(0, max(1, big.shape[1] - w))
    return big[oy:oy + h, ox:ox + w]


def pink_noise(shape: tuple[int, int], rng: np.random.Generator, beta: float) -> np.ndarray:
    """Natural-image-like noise: amplitude spectrum ~ 1/f^beta (beta ~ 1).  -> [H, W] in [0, 1]"""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f**beta
    spec[0, 0] = 0.0
    return _normalize(np.fft.irfft2(spec, s=(h, w)))


def texture(family: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One procedural texture of the named family (see TEXTURE_FAMILIES).  -> float32 [H, W, 3]"""
    h, w = shape
    if family == "gradient":
        u, _ = _rotated(shape, rng)
        tex = _colorize(_normalize(u), rng)
        tex += 0.02 * value_noise(shape, rng, rng.uniform(4, 16))[..., None]
    elif family == "value_noise":
        octaves = rng.integers(1, 5)
        base = rng.uniform(2.0, 48.0)
        field = sum(value_noise(shape, rng, base * 2.0**k) * 0.6**(octaves - 1 - k) for k in range(octaves))
        if rng.random() < 0.5:  # per-channel fields: colourful texture
            tex = np.stack([_normalize(value_noise(shape, rng, base)) for _ in range(3)], -1)
            tex = 0.5 * tex + 0.5 * _normalize(field)[..., None]
            tex = tex * rng.uniform(0.3, 1.0) + rng.uniform(0.0, 0.3)
        else:
            tex = _colorize(_normalize(field), rng)
    elif family == "stripes":
        u, _ = _rotated(shape, rng)
        period = rng.uniform(3.0, 30.0)
        s = 0.5 + 0.5 * np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.5:
            s = (s > 0.5).astype(np.float32)
        tex = _colorize(s.astype(np.float32), rng)
    elif family == "checker":
        u, v = _rotated(shape, rng)
        period = rng.uniform(4.0, 40.0)
        s = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
        tex = _colorize(s, rng)
    elif family == "shapes":
        tex = np.empty((h, w, 3), np.float32)
        tex[:] = _colors(rng, 1)[0]
        for _ in range(int(rng.integers(5, 40))):
            color = tuple(float(c) for c in _colors(rng, 1)[0])
            cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
            r = int(rng.uniform(2, max(3, min(h, w) / 5)))
            if rng.random() < 0.5:
                cv2.circle(tex, (cx, cy), r, color, -1, cv2.LINE_AA)
            else:
                cv2.fillPoly(tex, [_random_polygon(rng, cx, cy, r)], color, cv2.LINE_AA)
    elif family == "pink_noise":
        beta = rng.uniform(0.8, 1.6)
        if rng.random() < 0.5:
            tex = np.stack([pink_noise(shape, rng, beta) for _ in range(3)], -1) * rng.uniform(0.3, 1.0)
            tex = 0.5 * tex + 0.5 * pink_noise(shape, rng, beta)[..., None]
        else:
            tex = _colorize(pink_noise(shape, rng, beta), rng)
    elif family == PHOTO_FAMILY:
        from .photos import photo_texture

        tex = photo_texture(shape, rng)
        if tex is None:  # scikit-image absent: a procedural natural-image stand-in, no error
            return texture("pink_noise", shape, rng)
    elif family == "flat":
        tex = np.empty((h, w, 3), np.float32)
        tex[:] = _colors(rng, 1)[0]
        tex += rng.uniform(0.0, 0.01) * value_noise(shape, rng, rng.uniform(2, 20))[..., None]
    else:
        raise ValueError(f"unknown texture family {family!r}; use one of {ALL_TEXTURE_FAMILIES}")
    return np.clip(tex, 0.0, 1.0).astype(np.float32)


def _random_polygon(rng: np.random.Generator, cx: float, cy: float, r: float) -> np.ndarray:
    n = int(rng.integers(3, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.4, 1.0, n)
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], -1)
    return np.round(pts).astype(np.int32)


def mask(family: str, shape: tuple[int, int], rng: np.random.Generator, center: tuple[float, float],
         size: float, softness: float) -> np.ndarray:
    """Alpha mask of one foreground object centred at `center` (x, y) of about `size` px.

    softness: Gaussian sigma of the edge in px (0 = hard, anti-aliased).  -> float32 [H, W] in [0, 1]
    """
    h, w = shape
    cx, cy = center
    m = np.zeros((h, w), np.float32)
    if family == "blob":
        field = value_noise(shape, rng, rng.uniform(0.3, 0.8) * size)
        x, y = _coords(shape)
        d2 = ((x - cx) ** 2 + (y - cy) ** 2) / (0.5 * size) ** 2
        m = ((field - 0.8 * d2) > 0.25).astype(np.float32)
        m = cv2.GaussianBlur(m, (0, 0), 0.6)  # stand-in for anti-aliasing of the threshold edge
    elif family == "ellipse":
        axes = (max(2, int(size * rng.uniform(0.2, 0.6))), max(2, int(size * rng.uniform(0.2, 0.6))))
        cv2.ellipse(m, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
    elif family == "polygon":
        cv2.fillPoly(m, [_random_polygon(rng, cx, cy, 0.6 * size)], 1.0, cv2.LINE_AA)
    elif family == "bar":
        length = size * rng.uniform(1.0, 3.0)
        width = rng.uniform(1.5, 8.0)
        box = cv2.boxPoints(((cx, cy), (length, width), float(rng.uniform(0, 180))))
        cv2.fillPoly(m, [np.round(box * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    elif family in THIN_MASK_FAMILIES:
        m = thin_mask(family, shape, rng, center, size)
    else:
        raise ValueError(f"unknown mask family {family!r}; use one of {ALL_MASK_FAMILIES}")
    if softness > 0:
        m = cv2.GaussianBlur(m, (0, 0), softness)
    return np.clip(m, 0.0, 1.0)


_SS = 4  # supersampling of thin structures (fractional widths, anti-aliasing)


def _poly_ss(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts, np.float64) * _SS + (_SS - 1) / 2.0).astype(np.int32)


def _bezier(p0, p1, p2, n: int = 64) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t**2 * np.asarray(p2)


def thin_mask(family: str, shape: tuple[int, int], rng: np.random.Generator, center: tuple[float, float],
              size: float) -> np.ndarray:
    """Thin occluders 1-4 px wide: "wire" (1-3 sagging cables across the canvas), "branch" (a tapering
    branching tree), "fence" (a lattice or a row of thin bars). Drawn 4x supersampled.  -> [H, W] in [0, 1]"""
    h, w = shape
    big = np.zeros((h * _SS, w * _SS), np.uint8)
    cx, cy = center

    def line(pts, width):
        t = max(1, int(round(width * _SS)))
        cv2.polylines(big, [_poly_ss(pts)], False, 255, t, cv2.LINE_AA)

    if family == "wire":
        ang = rng.uniform(-0.6, 0.6) + (np.pi / 2 if rng.random() < 0.25 else 0.0)
        d = np.array([np.cos(ang), np.sin(ang)])
        nrm = np.array([-d[1], d[0]])
        half = 0.75 * np.hypot(h, w)
        gap = rng.uniform(4.0, 20.0)
        sag = rng.uniform(-0.15, 0.15) * half
        width = rng.uniform(1.0, 4.0)
        for k in range(int(rng.integers(1, 4))):
            c = np.array([cx, cy]) + nrm * k * gap
            line(_bezier(c - half * d, c + sag * nrm, c + half * d), width)
    elif family == "branch":
        def grow(p, ang, length, width, depth):
            q = p + length * np.array([np.cos(ang), np.sin(ang)])
            mid = 0.5 * (p + q) + rng.normal(0, 0.08 * length, 2)
            line(_bezier(p, mid, q, 16), width)
            if depth > 0 and width > 1.0:
                for _ in range(int(rng.integers(1, 3))):
                    grow(q, ang + rng.uniform(-0.8, 0.8), length * rng.uniform(0.5, 0.8),
                         max(1.0, width * rng.uniform(0.55, 0.8)), depth - 1)
        ang0 = rng.uniform(0, 2 * np.pi)
        start = np.array([cx, cy]) - 0.5 * size * np.array([np.cos(ang0), np.sin(ang0)])
        grow(start, ang0, size * rng.uniform(0.4, 0.7), rng.uniform(2.0, 4.0), int(rng.integers(2, 5)))
    elif family == "fence":
        period = rng.uniform(6.0, 30.0)
        width = rng.uniform(1.0, min(4.0, period / 3.0))
        ang = rng.uniform(0, np.pi)
        extent = rng.uniform(1.0, 2.5) * size if rng.random() < 0.7 else 2.0 * np.hypot(h, w)
        grids = (0.0, rng.uniform(np.pi / 4, np.pi / 2)) if rng.random() < 0.5 else (0.0,)
        for extra in grids:
            a = ang + extra
            d = np.array([np.cos(a), np.sin(a)])
            nrm = np.array([-d[1], d[0]])
            for k in np.arange(-extent / 2, extent / 2 + 1e-6, period):
                c = np.array([cx, cy]) + k * nrm
                line(np.stack([c - extent / 2 * d, c + extent / 2 * d]), width)
        if extent < np.hypot(h, w):  # a rectangular patch of fence, not the whole canvas
            clip = np.zeros_like(big)
            box = cv2.boxPoints(((cx * _SS, cy * _SS), (extent * _SS, extent * _SS), float(np.degrees(ang))))
            cv2.fillPoly(clip, [np.round(box).astype(np.int32)], 255)
            big = np.minimum(big, clip)
    else:
        raise ValueError(f"unknown thin mask family {family!r}; use one of {THIN_MASK_FAMILIES}")
    return cv2.resize(big.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_AREA)

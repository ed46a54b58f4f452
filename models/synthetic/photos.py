"""Real-photograph textures: random crops of the images that ship inside the scikit-image wheel.

Only files bundled in `skimage/data/` are read (directly, by file name: never a download). Without
scikit-image, `available()` is empty and `photo_texture` returns None (textures.py then falls back to a
procedural texture, no error). Images are converted from sRGB to linear intensity; grey ones get a random tint.
"""
from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

# file name in skimage/data -> short name. Real photographs / scans (no synthetic test patterns, no images that
# are mostly black).
BUNDLED = {
    "astronaut.png": "astronaut", "coffee.png": "coffee", "chelsea.png": "chelsea", "camera.png": "camera",
    "rocket.jpg": "rocket", "gravel.png": "gravel", "brick.png": "brick", "grass.png": "grass",
    "moon.png": "moon", "coins.png": "coins", "text.png": "text", "page.png": "page",
    "ihc.png": "immunohistochemistry", "motorcycle_left.png": "motorcycle",
}


def _data_dir() -> Path | None:
    try:
        import skimage.data  # only to locate the bundled files
    except Exception:  # any import failure (absent, broken install): no photos
        return None
    return Path(skimage.data.__file__).resolve().parent


def _read(path: Path) -> np.ndarray | None:
    """RGB or grey uint8 array (Pillow ships with scikit-image; OpenCV as a fallback)."""
    if not path.is_file():
        return None
    try:
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
    except Exception:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is not None and img.ndim == 3:
            img = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)
        return img


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _load_all() -> tuple:
    folder = _data_dir()
    if folder is None:
        return ()
    out = []
    for fname, name in BUNDLED.items():
        img = _read(folder / fname)
        if img is None or img.ndim not in (2, 3) or min(img.shape[:2]) < 64:
            continue
        if img.ndim == 3:
            img = np.ascontiguousarray(img[..., :3])
        scale = 255.0 if img.dtype == np.uint8 else float(np.iinfo(img.dtype).max)
        out.append((name, _srgb_to_linear(img.astype(np.float32) / scale)))
    return tuple(out)


def available() -> list[str]:
    """Short names of the bundled photographs found (empty without scikit-image)."""
    return [name for name, _ in _load_all()]


def load(name: str) -> np.ndarray:
    """One bundled photograph, linear float32 [H, W, 3] or [H, W] in [0, 1]."""
    for n, img in _load_all():
        if n == name:
            return img
    raise KeyError(f"photo {name!r} not available; have {available()}")


def photo_texture(shape: tuple[int, int], rng: np.random.Generator, name: str | None = None) -> np.ndarray | None:
    """A random crop of a bundled photograph (scale 1/4-1.5 px per image px, rotation, flip, colour jitter)
    filling a canvas of `shape`.  -> float32 [H, W, 3] in [0, 1], or None without scikit-image."""
    photos = _load_all()
    if not photos:
        return None
    h, w = shape
    idx = int(rng.integers(0, len(photos))) if name is None else available().index(name)
    img = photos[idx][1]
    # geometry: canvas px per image px (< 1: more content, downsampled with area averaging)
    scale = float(np.exp(rng.uniform(np.log(0.25), np.log(1.5))))
    ih, iw = img.shape[:2]
    if abs(scale - 1.0) > 1e-3:
        img = cv2.resize(img, (max(8, round(iw * scale)), max(8, round(ih * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    ang = float(rng.uniform(-30.0, 30.0)) if rng.random() < 0.5 else 0.0
    ih, iw = img.shape[:2]
    # a random point of the (resized) photo goes to the canvas centre; reflection fills anything outside
    px, py = rng.uniform(0.25, 0.75) * iw, rng.uniform(0.25, 0.75) * ih
    mat = cv2.getRotationMatrix2D((px, py), ang, 1.0)
    mat[:, 2] += np.array([(w - 1) / 2.0 - px, (h - 1) / 2.0 - py])
    tex = cv2.warpAffine(np.ascontiguousarray(img), mat, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT_101)
    # colour: grey photos get a tint; all get saturation, per-channel gain, brightness and contrast jitter
    if tex.ndim == 2:
        tint = np.clip(1.0 + rng.normal(0.0, 0.15, 3), 0.5, 1.5)
        tex = tex[..., None] * tint[None, None, :]
    grey = tex.mean(-1, keepdims=True)
    tex = grey + rng.uniform(0.5, 1.3) * (tex - grey)
    tex = tex * np.exp(rng.normal(0.0, 0.1, 3))[None, None, :]
    tex = np.clip(tex, 0.0, None) ** rng.uniform(0.8, 1.25)
    tex = tex * rng.uniform(0.5, 1.5)
    return np.clip(tex, 0.0, 1.0).astype(np.float32)

"""A run's frames packed for the browser viewer: views as one image atlas per frame, disparity as zlib'd uint16.

Atlas: the V x U views of a frame tiled row-major (row v, column u; [V*H, U*W, 3]) and encoded as JPEG (default,
quality 90) or PNG (lossless). Disparity: D quantised to uint16 over one range [lo, hi] for the whole page
(`q = round((D - lo) / (hi - lo) * 65535)`), little-endian, zlib-compressed (the page inflates it with the
browser's DecompressionStream, so the values arrive exactly, with no colour management in between).
Both are base64 text inlined in viewer.html (docs/viewer.md says why).
"""
from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

IMAGE_FORMATS = ("jpg", "png")
JPEG_MAX_SIDE = 65500   # JPEG stores sides as 16-bit numbers
D_LEVELS = 65535


@dataclass(frozen=True)
class PackedFrame:
    """One frame, ready for the page: base64 atlas and disparity, and the source frame index."""
    index: int
    atlas_b64: str
    disparity_b64: str

    @property
    def nbytes(self) -> int:
        return len(self.atlas_b64) + len(self.disparity_b64)


def tile_views(views: np.ndarray) -> np.ndarray:
    """[V, U, H, W, 3] uint8 -> the atlas [V*H, U*W, 3] (view (row r, column c) at rows r*H.., columns c*W..)."""
    if views.ndim != 5 or views.shape[-1] != 3 or views.dtype != np.uint8:
        raise ValueError(f"views must be uint8 [V, U, H, W, 3], got {views.dtype} {views.shape}")
    v, u, h, w, _ = views.shape
    return np.ascontiguousarray(views.transpose(0, 2, 1, 3, 4).reshape(v * h, u * w, 3))


def encode_atlas(atlas: np.ndarray, image_format: str = "jpg", quality: int = 90) -> bytes:
    """RGB uint8 atlas -> JPEG or PNG bytes."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"viewer image format {image_format!r} is unknown; choose jpg or png")
    if image_format == "jpg":
        if not 1 <= quality <= 100:
            raise ValueError(f"viewer JPEG quality must be 1-100, got {quality}")
        if max(atlas.shape[:2]) > JPEG_MAX_SIDE:
            raise ValueError(f"the view atlas is {atlas.shape[1]}x{atlas.shape[0]} pixels, more than JPEG's "
                             f"{JPEG_MAX_SIDE}; use fewer views or a smaller --max-size, or --image-format png")
        ok, buf = cv2.imencode(".jpg", atlas[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        ok, buf = cv2.imencode(".png", atlas[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {atlas.shape[1]}x{atlas.shape[0]} atlas as {image_format}")
    return buf.tobytes()


def disparity_range(maps: list[np.ndarray]) -> tuple[float, float]:
    """[lo, hi] over the finite values of all maps (hi > lo, so the quantisation step is never zero)."""
    finite = [m[np.isfinite(m)] for m in maps]
    finite = [f for f in finite if f.size]
    if not finite:
        return 0.0, 1.0
    lo = float(min(f.min() for f in finite))
    hi = float(max(f.max() for f in finite))
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def quantise_disparity(d: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """float D -> uint16 codes over [lo, hi]; NaN/Inf -> the code of 0 px clipped into range."""
    d = np.nan_to_num(np.asarray(d, np.float64), nan=0.0, posinf=hi, neginf=lo)
    return np.clip(np.rint((d - lo) / (hi - lo) * D_LEVELS), 0, D_LEVELS).astype("<u2")


def dequantise_disparity(q: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """uint16 codes -> float32 D, as the page computes it."""
    return (lo + q.astype(np.float64) * ((hi - lo) / D_LEVELS)).astype(np.float32)


def encode_disparity(d: np.ndarray, lo: float, hi: float) -> bytes:
    return zlib.compress(quantise_disparity(d, lo, hi).tobytes(), 6)


def pack_frame(index: int, views: np.ndarray, disparity: np.ndarray, d_range: tuple[float, float],
               image_format: str = "jpg", quality: int = 90) -> PackedFrame:
    """One frame as base64 text for the page."""
    if disparity.shape != views.shape[2:4]:
        raise ValueError(f"frame {index}: disparity {disparity.shape} does not match views {views.shape[2:4]}")
    atlas = encode_atlas(tile_views(views), image_format, quality)
    disp = encode_disparity(disparity, *d_range)
    return PackedFrame(int(index), base64.b64encode(atlas).decode("ascii"), base64.b64encode(disp).decode("ascii"))

"""Fast PNG encoding of 8-bit views: PNG's Sub filter by numpy, deflate by ISA-L (the `isal` package).

At the default `--png-level 1`, OpenCV's libpng with zlib's Huffman-only strategy spends ~1 ms per 256x192 view in
zlib's Huffman coder; ISA-L's level-1 deflate does the same job ~3x faster with LZ77 matching, for ~15 % more
bytes than Huffman-only on the demo's views (docs/outputs.md has the numbers). OpenCV offers no way to pick the
deflate implementation, so the PNG container (signature, IHDR, one IDAT, IEND) is written here; every other
case (16-bit images, other levels, JPEG) stays with OpenCV.
"""
from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
from isal import isal_zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILTER_SUB = 1
COLOUR_TYPE = {1: 0, 3: 2}     # channels -> PNG colour type (greyscale, truecolour)


def fast_png_supported(image: np.ndarray) -> bool:
    """True for what encode_png takes: uint8 [H, W] or BGR [H, W, 3], both sides > 0."""
    channels = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
    return image.dtype == np.uint8 and channels in COLOUR_TYPE and image.shape[0] > 0 and image.shape[1] > 0


def sub_filtered(image: np.ndarray) -> np.ndarray:
    """PNG scanlines [H, 1 + W*C] uint8 of a uint8 [H, W] or BGR [H, W, 3] image (RGB order), Sub filter on every
    row: each byte minus the byte of the pixel to its left (mod 256), the first pixel as is."""
    h, w = image.shape[:2]
    c = 1 if image.ndim == 2 else 3
    if c == 3:
        rgb = image[..., ::-1]      # already contiguous when `image` is a reversed view of an RGB array (dplf-run)
        rows = rgb if rgb.flags.c_contiguous else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2RGB)
    else:
        rows = np.ascontiguousarray(image)
    rows = rows.reshape(h, w * c)
    lines = np.empty((h, 1 + w * c), np.uint8)
    lines[:, 0] = FILTER_SUB
    lines[:, 1:1 + c] = rows[:, :c]
    np.subtract(rows[:, c:], rows[:, :-c], out=lines[:, 1 + c:])
    return lines


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def encode_png(image: np.ndarray, level: int = 1) -> bytes:
    """The bytes of a PNG file of `image` (uint8 [H, W] or BGR [H, W, 3]); `level` is ISA-L's deflate level 0-3."""
    if not fast_png_supported(image):
        raise ValueError(f"encode_png takes uint8 [H, W] or [H, W, 3] images, not {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    c = 1 if image.ndim == 2 else 3
    header = struct.pack(">IIBBBBB", w, h, 8, COLOUR_TYPE[c], 0, 0, 0)
    data = isal_zlib.compress(sub_filtered(image), level)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")

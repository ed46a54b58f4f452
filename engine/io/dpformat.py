"""The ``.dp`` container v1, the parts reader and writer share: record layout constants, size limits,
``DPHeader`` (the JSON metadata), ``DPFrame``, ``DPFormatError`` and the plane codec (docs/dp-format.md).

File = file header (magic, version, JSON metadata, CRC32) + frame records (each self-delimiting, with its
own CRC32) + on close an index record and a fixed 24-byte footer. A reader uses the index for random access;
without it (interrupted writer) it rebuilds the index by scanning the records. All integers little-endian.
"""
from __future__ import annotations

import math
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

FILE_MAGIC = b"\x89DPF\r\n\x1a\n"
FRAME_MAGIC = b"DPFR"
INDEX_MAGIC = b"DPIX"
FOOTER_MAGIC = b"DPND"
VERSION = (1, 0)

FILE_HEAD = struct.Struct("<8sHHI")        # magic, major, minor, json length
RECORD_HEAD = struct.Struct("<4sI")        # magic, body length
FRAME_FIXED = struct.Struct("<QdB3x")      # frame index, timestamp, plane count, padding
PLANE_DESC = struct.Struct("<BBBxI")       # plane id, codec, filter, pad, payload length
FOOTER = struct.Struct("<QQI4s")           # index offset, frame count, CRC32 of first 16 bytes, magic
CRC = struct.Struct("<I")

PLANE_IDS = {"left": 0, "right": 1, "rgb": 2}
CODEC_ZLIB = 1
FILTER_NONE, FILTER_SUB = 0, 1
ZLIB_LEVEL = 1
# zlib releases the GIL: planes are (de)compressed concurrently.
POOL = ThreadPoolExecutor(max_workers=min(3, os.cpu_count() or 1), thread_name_prefix="dpfile")
CALIBRATION_KEYS = ("disparity_gain", "disparity_offset", "focal_length_px", "pixel_pitch_um", "baseline_mm")
ORIENTATIONS = (0, 90, 180, 270)
# Sanity caps. Every length the reader takes from a file is checked against the file size and these caps
# *before* anything is allocated, so a corrupted or crafted file cannot make it allocate more than a real
# frame of the declared size needs (docs/bad-input.md).
MAX_HEADER_BYTES = 1 << 24      # JSON metadata (16 MiB; real headers are < 1 kB)
MAX_SIDE = 1 << 15              # width and height (32768)
MAX_PIXELS = 1 << 27            # width * height (134 Mpx; a 50 Mpx DP sensor is 8192 x 6144)
MAX_PLANES = 16                 # planes per frame record (v1.0 writes 2 or 3)


class DPFormatError(ValueError):
    """A .dp file is malformed, truncated or corrupted. ``frame`` / ``offset`` say where (None if unknown)."""

    def __init__(self, message: str, frame: int | None = None, offset: int | None = None):
        super().__init__(message)
        self.frame = frame
        self.offset = offset


@dataclass(frozen=True)
class DPHeader:
    """Metadata of a .dp file (the JSON header)."""

    width: int
    height: int
    fps: float = 30.0
    bit_depth: int = 16
    black_level: int = 0
    white_level: int = 65535
    orientation: int = 0
    camera: str = ""
    calibration: dict | None = None
    tags: dict = field(default_factory=dict)
    has_rgb: bool = False
    version: tuple = VERSION

    @property
    def dtype(self) -> np.dtype:
        """dtype of the left/right planes."""
        return np.dtype(np.uint16 if self.bit_depth == 16 else np.uint8)

    def to_json(self) -> dict:
        return {
            "format": "dplf-dp", "version": list(self.version), "width": self.width, "height": self.height,
            "fps": self.fps, "bit_depth": self.bit_depth, "dtype": self.dtype.name,
            "black_level": self.black_level, "white_level": self.white_level, "orientation": self.orientation,
            "camera": self.camera, "calibration": self.calibration, "tags": self.tags, "has_rgb": self.has_rgb,
        }

    @classmethod
    def from_json(cls, d: dict) -> "DPHeader":
        """Parse the JSON metadata. Types are checked (ValueError naming the key); values are checked by
        DPReader (``header_problem``). Unknown keys are ignored (docs/dp-format.md)."""
        if not isinstance(d, dict):
            raise ValueError(f"metadata must be a JSON object, got {type(d).__name__}")

        def get(key, kinds, what, default=None, required=False):
            if key not in d:
                if required:
                    raise ValueError(f"key {key!r} is missing")
                return default
            v = d[key]
            if isinstance(v, bool) and bool not in kinds or not isinstance(v, kinds):
                raise ValueError(f"{key!r} must be {what}, got {short_repr(v)}")
            return v

        calibration = get("calibration", (dict, type(None)), "an object or null")
        version = get("version", (list,), "[major, minor]", list(VERSION))
        if len(version) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in version):
            raise ValueError(f"'version' must be [major, minor], got {short_repr(version)}")
        return cls(width=get("width", (int,), "an integer", required=True),
                   height=get("height", (int,), "an integer", required=True),
                   fps=float(get("fps", (int, float), "a number", required=True)),
                   bit_depth=get("bit_depth", (int,), "an integer", required=True),
                   black_level=get("black_level", (int,), "an integer", required=True),
                   white_level=get("white_level", (int,), "an integer", required=True),
                   orientation=get("orientation", (int,), "an integer", 0),
                   camera=get("camera", (str, type(None)), "a string", "") or "",
                   calibration=None if calibration is None else dict(calibration),
                   tags=dict(get("tags", (dict, type(None)), "an object", {}) or {}),
                   has_rgb=get("has_rgb", (bool,), "true or false", False),
                   version=tuple(version))


@dataclass
class DPFrame:
    """One frame: raw planes as stored (left/right [H, W] uint16|uint8, rgb [H, W, 3] uint8 or None)."""

    index: int
    timestamp: float
    left: np.ndarray
    right: np.ndarray
    rgb: np.ndarray | None = None

    def normalised(self, header: DPHeader) -> "DPFrame":
        """float32 planes in [0, 1]: (x - black) / (white - black), clipped; rgb / 255."""
        scale = np.float32(1.0 / (header.white_level - header.black_level))
        black = np.float32(header.black_level)

        def norm(x):
            return np.clip((x.astype(np.float32) - black) * scale, 0.0, 1.0)

        rgb = None if self.rgb is None else self.rgb.astype(np.float32) * np.float32(1.0 / 255.0)
        return replace(self, left=norm(self.left), right=norm(self.right), rgb=rgb)


# ---------------------------------------------------------------- plane codec

def encode_plane(arr: np.ndarray) -> bytes:
    """Horizontal delta (mod 2^bits, per channel) then zlib: lossless, fast, ~2x on 16-bit sensor data.
    [H, W] or [H, W, 3] -> deflate bytes."""
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    delta = np.empty_like(arr)
    delta[:, :1] = arr[:, :1]
    np.subtract(arr[:, 1:], arr[:, :-1], out=delta[:, 1:])  # unsigned: wraps modulo 2^bits
    # Huffman-only deflate: after the delta filter most of the gain is entropy coding, and it is ~1.4x
    # faster than level 1 (any inflate reads it).
    z = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY)
    return z.compress(delta) + z.flush()


def decode_plane(payload: bytes, shape: tuple, dtype: np.dtype, filt: int) -> np.ndarray:
    expected = math.prod(shape) * dtype.itemsize
    # bounded: inflate stops one byte past the plane's size, so a crafted payload cannot balloon
    raw = zlib.decompressobj().decompress(payload, expected + 1)
    if len(raw) != expected:
        raise ValueError(f"plane decompresses to {len(raw)} bytes, expected {expected}")
    arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(shape)
    if filt == FILTER_SUB:
        return np.cumsum(arr, axis=1, dtype=dtype)  # wraps modulo 2^bits, undoing the delta
    if filt == FILTER_NONE:
        return arr.astype(dtype)
    raise ValueError(f"unknown plane filter {filt}")


def short_repr(v, n: int = 60) -> str:
    """repr(v) cut to n characters: error messages quote untrusted values on one short line."""
    r = repr(v)
    return r if len(r) <= n else r[:n - 3] + "..."


def header_problem(h: DPHeader) -> str | None:
    """What is wrong with a header's values (shared by writer and reader), or None."""
    for name in ("width", "height"):
        v = getattr(h, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            return f"{name} must be a positive integer, got {short_repr(v)}"
        if v > MAX_SIDE:
            return f"{name} {v} exceeds the limit of {MAX_SIDE} pixels"
    if h.width * h.height > MAX_PIXELS:
        return f"{h.width}x{h.height} exceeds the limit of {MAX_PIXELS} pixels per plane"
    if isinstance(h.fps, bool) or not (isinstance(h.fps, (int, float)) and math.isfinite(h.fps) and h.fps > 0):
        return f"fps must be a positive number, got {short_repr(h.fps)}"
    if h.bit_depth not in (8, 16):
        return f"bit_depth must be 8 or 16, got {short_repr(h.bit_depth)}"
    top = (1 << h.bit_depth) - 1
    if not (0 <= h.black_level < h.white_level <= top):
        return (f"need 0 <= black_level < white_level <= {top} for {h.bit_depth}-bit planes, "
                f"got black {short_repr(h.black_level, 24)}, white {short_repr(h.white_level, 24)}")
    if h.orientation not in ORIENTATIONS:
        return f"orientation must be one of {ORIENTATIONS} (degrees clockwise), got {short_repr(h.orientation)}"
    if h.calibration is not None:
        for k in CALIBRATION_KEYS:   # keys a later minor version adds are not ours to judge
            v = h.calibration.get(k)
            if v is not None and (isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v))):
                return f"calibration[{k!r}] must be a finite number, got {short_repr(v)}"
    return None


def frame_budget(h: DPHeader) -> int:
    """Largest frame-record body a file with header ``h`` can hold: fixed part + descriptors + twice the raw
    planes (deflate never expands by more than a few bytes per 16 kB; the slack admits planes that a later
    minor version adds) + 1 MiB."""
    raw = h.width * h.height * (2 * h.dtype.itemsize + 3)
    return FRAME_FIXED.size + MAX_PLANES * PLANE_DESC.size + 2 * raw + (1 << 20)



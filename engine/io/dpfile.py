"""The ``.dp`` container v1: a stream of lossless dual-pixel frames (SPEC §3, docs/dp-format.md).

File = file header (magic, version, JSON metadata, CRC32) + frame records (each self-delimiting, with its
own CRC32) + on close an index record and a fixed 24-byte footer. A reader uses the index for random access;
without it (interrupted writer) it rebuilds the index by scanning the records. All integers little-endian.
"""
from __future__ import annotations

import json
import math
import os
import struct
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np

FILE_MAGIC = b"\x89DPF\r\n\x1a\n"
FRAME_MAGIC = b"DPFR"
INDEX_MAGIC = b"DPIX"
FOOTER_MAGIC = b"DPND"
VERSION = (1, 0)

_FILE_HEAD = struct.Struct("<8sHHI")        # magic, major, minor, json length
_RECORD_HEAD = struct.Struct("<4sI")        # magic, body length
_FRAME_FIXED = struct.Struct("<QdB3x")      # frame index, timestamp, plane count, padding
_PLANE_DESC = struct.Struct("<BBBxI")       # plane id, codec, filter, pad, payload length
_FOOTER = struct.Struct("<QQI4s")           # index offset, frame count, CRC32 of first 16 bytes, magic
_CRC = struct.Struct("<I")

PLANE_IDS = {"left": 0, "right": 1, "rgb": 2}
CODEC_ZLIB = 1
FILTER_NONE, FILTER_SUB = 0, 1
ZLIB_LEVEL = 1
# zlib releases the GIL: planes are (de)compressed concurrently.
_POOL = ThreadPoolExecutor(max_workers=min(3, os.cpu_count() or 1), thread_name_prefix="dpfile")
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
        DPReader (``_header_problem``). Unknown keys are ignored (docs/dp-format.md)."""
        if not isinstance(d, dict):
            raise ValueError(f"metadata must be a JSON object, got {type(d).__name__}")

        def get(key, kinds, what, default=None, required=False):
            if key not in d:
                if required:
                    raise ValueError(f"key {key!r} is missing")
                return default
            v = d[key]
            if isinstance(v, bool) and bool not in kinds or not isinstance(v, kinds):
                raise ValueError(f"{key!r} must be {what}, got {_short(v)}")
            return v

        calibration = get("calibration", (dict, type(None)), "an object or null")
        version = get("version", (list,), "[major, minor]", list(VERSION))
        if len(version) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in version):
            raise ValueError(f"'version' must be [major, minor], got {_short(version)}")
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

def _encode_plane(arr: np.ndarray) -> bytes:
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


def _one_line(e: BaseException) -> str:
    """An exception's message on one line, cut to a sane length."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _decode_plane(payload: bytes, shape: tuple, dtype: np.dtype, filt: int) -> np.ndarray:
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


def _short(v, n: int = 60) -> str:
    """repr(v) cut to n characters: error messages quote untrusted values on one short line."""
    r = repr(v)
    return r if len(r) <= n else r[:n - 3] + "..."


def _header_problem(h: DPHeader) -> str | None:
    """What is wrong with a header's values (shared by writer and reader), or None."""
    for name in ("width", "height"):
        v = getattr(h, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            return f"{name} must be a positive integer, got {_short(v)}"
        if v > MAX_SIDE:
            return f"{name} {v} exceeds the limit of {MAX_SIDE} pixels"
    if h.width * h.height > MAX_PIXELS:
        return f"{h.width}x{h.height} exceeds the limit of {MAX_PIXELS} pixels per plane"
    if isinstance(h.fps, bool) or not (isinstance(h.fps, (int, float)) and math.isfinite(h.fps) and h.fps > 0):
        return f"fps must be a positive number, got {_short(h.fps)}"
    if h.bit_depth not in (8, 16):
        return f"bit_depth must be 8 or 16, got {_short(h.bit_depth)}"
    top = (1 << h.bit_depth) - 1
    if not (0 <= h.black_level < h.white_level <= top):
        return (f"need 0 <= black_level < white_level <= {top} for {h.bit_depth}-bit planes, "
                f"got black {_short(h.black_level, 24)}, white {_short(h.white_level, 24)}")
    if h.orientation not in ORIENTATIONS:
        return f"orientation must be one of {ORIENTATIONS} (degrees clockwise), got {_short(h.orientation)}"
    if h.calibration is not None:
        for k in CALIBRATION_KEYS:   # keys a later minor version adds are not ours to judge
            v = h.calibration.get(k)
            if v is not None and (isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v))):
                return f"calibration[{k!r}] must be a finite number, got {_short(v)}"
    return None


def _frame_budget(h: DPHeader) -> int:
    """Largest frame-record body a file with header ``h`` can hold: fixed part + descriptors + twice the raw
    planes (deflate never expands by more than a few bytes per 16 kB; the slack admits planes that a later
    minor version adds) + 1 MiB."""
    raw = h.width * h.height * (2 * h.dtype.itemsize + 3)
    return _FRAME_FIXED.size + MAX_PLANES * _PLANE_DESC.size + 2 * raw + (1 << 20)


# ---------------------------------------------------------------- writer

def _check_header(h: DPHeader) -> DPHeader:
    problem = _header_problem(h)
    if problem is None and h.calibration is not None:
        unknown = set(h.calibration) - set(CALIBRATION_KEYS)
        if unknown:
            problem = f"unknown calibration keys {sorted(unknown)}; known: {list(CALIBRATION_KEYS)}"
        for k, v in h.calibration.items():   # the writer also refuses null values
            if problem is None and v is None:
                problem = f"calibration[{k!r}] must be a finite number, got None"
    if problem is None:
        try:
            json.dumps(h.tags, allow_nan=False)
        except (TypeError, ValueError) as e:
            problem = f"tags must be a JSON-serialisable dict ({e})"
    if problem is not None:
        raise ValueError(f"DPWriter: {problem}")
    return h


class DPWriter:
    """Stream frames into a .dp file (flushed after every frame; index + footer written by close()).

    ``DPWriter(path, width=W, height=H, bit_depth=16)`` then ``.write(left, right, rgb=None, timestamp=None)``
    with left/right ``[H, W]`` of the header dtype (uint16 for 16-bit, uint8 for 8-bit), rgb ``[H, W, 3]``
    uint8 when ``has_rgb``. timestamp defaults to index / fps.
    """

    def __init__(self, path: str | os.PathLike, *, width: int, height: int, fps: float = 30.0,
                 bit_depth: int = 16, black_level: int = 0, white_level: int | None = None,
                 camera: str = "", orientation: int = 0, calibration: dict | None = None,
                 tags: dict | None = None, has_rgb: bool = False):
        if white_level is None:
            white_level = (1 << bit_depth) - 1 if bit_depth in (8, 16) else 0
        self.header = _check_header(DPHeader(
            width=int(width) if isinstance(width, (int, np.integer)) else width,
            height=int(height) if isinstance(height, (int, np.integer)) else height,
            fps=float(fps) if isinstance(fps, (int, float)) else fps, bit_depth=bit_depth,
            black_level=int(black_level), white_level=int(white_level), orientation=orientation,
            camera=str(camera), calibration=None if calibration is None else dict(calibration),
            tags=dict(tags or {}), has_rgb=bool(has_rgb)))
        self.path = Path(path)
        meta = json.dumps(self.header.to_json(), separators=(",", ":")).encode()
        if len(meta) > MAX_HEADER_BYTES:
            raise ValueError(f"DPWriter: metadata is {len(meta)} bytes, over the {MAX_HEADER_BYTES}-byte limit; "
                             f"shorten the tags")
        try:
            # Unbuffered: every record goes out in whole os.write calls, so a writer that is killed or hits a
            # full disk leaves complete records plus at most one partial one, and nothing lingers in a buffer.
            self._f = open(self.path, "wb", buffering=0)
        except OSError as e:
            raise ValueError(f"DPWriter: cannot create {self.path} ({e.strerror})") from e
        self._offsets: list[int] = []
        self._timestamps: list[float] = []
        self._closed = False
        self._failed: OSError | None = None
        self._end = 0
        try:
            self._write_all(_FILE_HEAD.pack(FILE_MAGIC, VERSION[0], VERSION[1], len(meta)) + meta
                            + _CRC.pack(zlib.crc32(meta)))
        except OSError as e:
            self._f.close()
            raise _write_error(e, f"DPWriter: cannot write the header of {self.path}") from e

    def __len__(self) -> int:
        return len(self._offsets)

    def _check_plane(self, name, arr, shape, dtype):
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"DPWriter.write: {name} must be a numpy array, got {type(arr).__name__}")
        if arr.shape != shape:
            raise ValueError(f"DPWriter.write: {name} has shape {arr.shape}, the file stores {shape} "
                             f"(width {self.header.width}, height {self.header.height})")
        if arr.dtype != dtype:
            raise ValueError(f"DPWriter.write: {name} has dtype {arr.dtype}, the file stores {dtype.name}; "
                             f"convert it first (bit_depth={self.header.bit_depth})")

    def write(self, left: np.ndarray, right: np.ndarray, rgb: np.ndarray | None = None,
              timestamp: float | None = None) -> int:
        """Append one frame; returns its index."""
        if self._closed:
            raise ValueError(f"DPWriter: {self.path} is closed")
        if self._failed is not None:
            raise ValueError(f"DPWriter: an earlier write to {self.path} failed ({self._failed.strerror}); "
                             f"the file keeps its {len(self._offsets)} complete frames")
        h = self.header
        self._check_plane("left", left, (h.height, h.width), h.dtype)
        self._check_plane("right", right, (h.height, h.width), h.dtype)
        if h.has_rgb:
            if rgb is None:
                raise ValueError("DPWriter.write: the file was opened with has_rgb=True, pass rgb=[H, W, 3] uint8")
            self._check_plane("rgb", rgb, (h.height, h.width, 3), np.dtype(np.uint8))
        elif rgb is not None:
            raise ValueError("DPWriter.write: rgb given but the file was opened with has_rgb=False")
        index = len(self._offsets)
        ts = index / h.fps if timestamp is None else float(timestamp)
        if not math.isfinite(ts):
            raise ValueError(f"DPWriter.write: timestamp must be finite, got {timestamp!r}")
        planes = [("left", left), ("right", right)] + ([("rgb", rgb)] if h.has_rgb else [])
        payloads = list(_POOL.map(_encode_plane, [a for _, a in planes]))
        descs = b"".join(_PLANE_DESC.pack(PLANE_IDS[n], CODEC_ZLIB, FILTER_SUB, len(p))
                         for (n, _), p in zip(planes, payloads))
        body = _FRAME_FIXED.pack(index, ts, len(planes)) + descs + b"".join(payloads)
        self._write_record(FRAME_MAGIC, body)
        return index

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self._f.write(view)   # raw file: may write less than asked
            view = view[n:]
        self._end += len(data)

    def _write_record(self, magic: bytes, body: bytes) -> int:
        offset = self._end
        length = struct.pack("<I", len(body))
        crc = zlib.crc32(body, zlib.crc32(length))
        try:
            self._write_all(magic + length + body + _CRC.pack(crc))
        except OSError as e:
            # e.g. a full disk: cut the partial record off (best effort) so the file ends with complete frames
            self._failed = e
            try:
                os.ftruncate(self._f.fileno(), offset)
            except OSError:
                pass
            self._end = offset
            what = f"frame {len(self._offsets)}" if magic == FRAME_MAGIC else "the index"
            raise _write_error(e, f"DPWriter: cannot write {what} to {self.path}",
                               f"; the file keeps its {len(self._offsets)} complete frames") from e
        if magic == FRAME_MAGIC:
            self._offsets.append(offset)
            self._timestamps.append(_FRAME_FIXED.unpack_from(body)[1])
        return offset

    def close(self) -> None:
        """Write the index record and footer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._failed is not None:   # no index after a failed write: readers recover the frames by scanning
            self._f.close()
            return
        try:
            table = np.empty(len(self._offsets), dtype=[("offset", "<u8"), ("timestamp", "<f8")])
            table["offset"] = self._offsets
            table["timestamp"] = self._timestamps
            index_offset = self._write_record(INDEX_MAGIC, struct.pack("<Q", len(table)) + table.tobytes())
            head = struct.pack("<QQ", index_offset, len(table))
            try:
                self._write_all(_FOOTER.pack(index_offset, len(table), zlib.crc32(head), FOOTER_MAGIC))
            except OSError as e:
                raise _write_error(e, f"DPWriter: cannot write the footer of {self.path}",
                                   f"; the file keeps its {len(self._offsets)} complete frames") from e
        finally:
            self._f.close()

    def __enter__(self) -> "DPWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DPWriteError(OSError):
    """Writing a .dp file failed (full disk, I/O error): ``errno`` is the cause's, ``str()`` one clear line."""

    def __init__(self, errno: int | None, strerror: str | None, message: str):
        super().__init__(errno, strerror)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _write_error(e: OSError, what: str, tail: str = "") -> DPWriteError:
    return DPWriteError(e.errno, e.strerror, f"{what} ({e.strerror or e}){tail}")


# ---------------------------------------------------------------- reader

class DPReader:
    """Random-access, streaming reader of a .dp file.

    ``len(reader)``, ``reader[i] -> DPFrame`` (raw planes), iteration in order. A file without a valid
    index/footer (interrupted writer) is recovered by scanning (``recovered`` is True); a truncated or
    corrupt record found by the scan is kept in ``damage`` and raised after iteration yields every complete
    frame before it. ``frames_ok`` counts the leading frames whose checksums verify.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            what = "is a folder, not a .dp file" if self.path.is_dir() else "no such .dp file"
            raise DPFormatError(f"{self.path}: {what}")
        try:
            self._f = open(self.path, "rb")
        except OSError as e:
            raise DPFormatError(f"{self.path}: cannot open the .dp file ({e.strerror})") from e
        try:
            self._lock = threading.Lock()
            self._size = os.fstat(self._f.fileno()).st_size
            self.header = self._read_header()
            self._max_body = _frame_budget(self.header)
            self.damage: DPFormatError | None = None
            self.recovered = False
            offsets = self._read_index()
            if offsets is None:
                self.recovered = True
                offsets = self._scan()
            self._offsets = offsets
            self._frames_ok: int | None = None
        except BaseException:
            self._f.close()
            raise

    # -- opening
    def _err(self, msg, frame=None, offset=None) -> DPFormatError:
        where = "" if frame is None else f"frame {frame} at byte offset {offset}: "
        return DPFormatError(f"{self.path}: {where}{msg}", frame, offset)

    def _read_header(self) -> DPHeader:
        head = self._f.read(_FILE_HEAD.size)
        if len(head) < _FILE_HEAD.size or head[:8] != FILE_MAGIC:
            raise self._err("not a .dp file (bad magic or empty); expected a file written by dplf DPWriter")
        _, major, minor, n = _FILE_HEAD.unpack(head)
        if major != VERSION[0]:
            raise self._err(f".dp version {major}.{minor} is not supported (this reader reads {VERSION[0]}.x)")
        # n is untrusted: check it against the file size and a cap before reading (read(n) allocates n bytes)
        if n > MAX_HEADER_BYTES:
            raise self._err(f"file header claims {n} bytes of metadata, over the {MAX_HEADER_BYTES}-byte limit "
                            f"(corrupted header)")
        if _FILE_HEAD.size + n + 4 > self._size:
            raise self._err(f"file header is truncated (needs {_FILE_HEAD.size + n + 4} bytes, "
                            f"the file has {self._size})")
        meta = self._f.read(n)
        crc = self._f.read(4)
        if len(meta) < n or len(crc) < 4:
            raise self._err("file header is truncated")
        if zlib.crc32(meta) != _CRC.unpack(crc)[0]:
            raise self._err("file header checksum mismatch (corrupted metadata)")
        self._data_start = _FILE_HEAD.size + n + 4
        try:
            header = DPHeader.from_json(json.loads(meta))
        except (ValueError, KeyError, TypeError, RecursionError) as e:   # RecursionError: deeply nested JSON
            raise self._err(f"file header JSON is invalid ({_one_line(e)})") from e
        problem = _header_problem(header)
        if problem is not None:
            raise self._err(f"file header is invalid: {problem}")
        return header

    def _pread(self, offset: int, n: int) -> bytes:
        with self._lock:
            self._f.seek(offset)
            return self._f.read(n)

    def _read_index(self) -> np.ndarray | None:
        """Frame offsets from the index, or None when there is no index that can be trusted (then the
        records are scanned). Every number is checked against the file before it is used."""
        if self._size < self._data_start + _FOOTER.size:
            return None
        index_offset, count, crc, magic = _FOOTER.unpack(self._pread(self._size - _FOOTER.size, _FOOTER.size))
        if magic != FOOTER_MAGIC or zlib.crc32(struct.pack("<QQ", index_offset, count)) != crc:
            return None
        body_len = 8 + 16 * count
        if index_offset < self._data_start or index_offset + 12 + body_len > self._size - _FOOTER.size:
            return None
        rec = self._pread(index_offset, 12 + body_len)
        m, n = _RECORD_HEAD.unpack_from(rec)
        if m != INDEX_MAGIC or n != body_len or zlib.crc32(rec[4:8 + n]) != _CRC.unpack_from(rec, 8 + n)[0]:
            return None
        if struct.unpack_from("<Q", rec, 8)[0] != count:   # the index's own count must agree with the footer
            return None
        offsets = np.frombuffer(rec, dtype=[("offset", "<u8"), ("timestamp", "<f8")], count=count,
                                offset=16)["offset"]
        # the records tile the file from the header to the index: the first starts right after the header, they
        # increase, and the last one ends where the index starts (one record header read checks that)
        if count == 0:
            return offsets.astype(np.int64) if index_offset == self._data_start else None
        if (int(offsets[0]) != self._data_start or int(offsets[-1]) + 12 > index_offset
                or (count > 1 and bool((np.diff(offsets.astype(np.float64)) < 12).any()))):
            return None
        head = self._pread(int(offsets[-1]), _RECORD_HEAD.size)
        if len(head) < _RECORD_HEAD.size or int(offsets[-1]) + 12 + _RECORD_HEAD.unpack(head)[1] != index_offset:
            return None
        return offsets.astype(np.int64)

    def _scan(self) -> np.ndarray:
        """Walk record headers from the first frame; stop at the end, the index, or the first bad record."""
        offsets, pos = [], self._data_start
        while pos < self._size:
            frame = len(offsets)
            head = self._pread(pos, _RECORD_HEAD.size)
            # the index follows the last frame (its footer is broken or cut): a clean end, also when the file
            # is cut inside the index magic where that cannot be the start of a frame record ("DPI")
            if head[:4] == INDEX_MAGIC or (len(head) < 4 and INDEX_MAGIC.startswith(head)
                                           and not FRAME_MAGIC.startswith(head)):
                break
            if len(head) < _RECORD_HEAD.size:
                self.damage = self._err(f"record header is truncated (file ends after {len(head)} bytes)",
                                        frame, pos)
                break
            magic, n = _RECORD_HEAD.unpack(head)
            if magic != FRAME_MAGIC:
                self.damage = self._err(f"bad record magic {magic!r} (corrupted data)", frame, pos)
                break
            if n > self._max_body:
                self.damage = self._err(f"record length {n} is impossible for {self._shape_name()} frames "
                                        f"(corrupted length field)", frame, pos)
                break
            end = pos + _RECORD_HEAD.size + n + 4
            if end > self._size:
                self.damage = self._err(f"record is truncated ({self._size - pos} of {end - pos} bytes present)",
                                        frame, pos)
                break
            offsets.append(pos)
            pos = end
        return np.asarray(offsets, dtype=np.int64)

    def _shape_name(self) -> str:
        h = self.header
        return f"{h.width}x{h.height} {h.dtype.name}" + (" + rgb" if h.has_rgb else "")

    # -- access
    def __len__(self) -> int:
        return len(self._offsets)

    def _record(self, i: int) -> tuple[int, bytes]:
        """Checked body bytes of frame i."""
        off = int(self._offsets[i])
        head = self._pread(off, _RECORD_HEAD.size)
        if len(head) < _RECORD_HEAD.size:
            raise self._err("record header is truncated", i, off)
        magic, n = _RECORD_HEAD.unpack(head)
        if magic != FRAME_MAGIC:
            raise self._err(f"bad record magic {magic!r} (corrupted data)", i, off)
        if n > self._max_body:
            raise self._err(f"record length {n} is impossible for {self._shape_name()} frames "
                            f"(corrupted length field)", i, off)
        if off + _RECORD_HEAD.size + n + 4 > self._size:
            raise self._err(f"record is truncated ({self._size - off} of {_RECORD_HEAD.size + n + 4} bytes "
                            f"present)", i, off)
        rec = self._pread(off + 4, n + 8)
        if zlib.crc32(rec[:4 + n]) != _CRC.unpack_from(rec, 4 + n)[0]:
            raise self._err("checksum mismatch (corrupted frame)", i, off)
        return off, rec[4:4 + n]

    def __getitem__(self, i: int) -> DPFrame:
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"frame index must be an int, got {type(i).__name__}")
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{self.path}: frame {i} out of range (file has {n} frames)")
        off, body = self._record(i)
        h = self.header
        try:
            if len(body) < _FRAME_FIXED.size:
                raise ValueError(f"frame body is {len(body)} bytes, shorter than its {_FRAME_FIXED.size}-byte head")
            index, ts, count = _FRAME_FIXED.unpack_from(body)
            if index != i:
                raise ValueError(f"record says it is frame {index}")
            if not math.isfinite(ts):
                raise ValueError(f"timestamp {ts} is not finite")
            if count > MAX_PLANES:
                raise ValueError(f"{count} planes, more than the {MAX_PLANES} a frame can have")
            pos = _FRAME_FIXED.size + count * _PLANE_DESC.size
            if pos > len(body):
                raise ValueError(f"{count} plane descriptors do not fit in a {len(body)}-byte body")
            jobs = {}
            for k in range(count):
                pid, codec, filt, length = _PLANE_DESC.unpack_from(body, _FRAME_FIXED.size + k * _PLANE_DESC.size)
                if pos + length > len(body):
                    raise ValueError(f"plane {k} ({length} bytes at body offset {pos}) runs past the end of the "
                                     f"{len(body)}-byte record")
                if pid not in PLANE_IDS.values() or (pid == PLANE_IDS["rgb"] and not h.has_rgb):
                    pos += length   # a plane from a later minor version (or one the header does not announce)
                    continue
                if pid in jobs:
                    raise ValueError(f"plane id {pid} appears twice")
                if codec != CODEC_ZLIB:
                    raise ValueError(f"unknown codec {codec}")
                if filt not in (FILTER_NONE, FILTER_SUB):
                    raise ValueError(f"unknown plane filter {filt}")
                if pid == PLANE_IDS["rgb"]:
                    shape, dtype = (h.height, h.width, 3), np.dtype(np.uint8)
                else:
                    shape, dtype = (h.height, h.width), h.dtype
                jobs[pid] = _POOL.submit(_decode_plane, body[pos:pos + length], shape, dtype, filt)
                pos += length
            planes = {pid: job.result() for pid, job in jobs.items()}
            for name in ("left", "right") + (("rgb",) if h.has_rgb else ()):
                if PLANE_IDS[name] not in planes:
                    raise ValueError(f"the {name} plane is missing")
        except (ValueError, KeyError, struct.error, zlib.error) as e:
            raise self._err(f"cannot decode ({_one_line(e)})", i, off) from e
        return DPFrame(i, float(ts), planes[0], planes[1], planes.get(2))

    def __iter__(self) -> Iterator[DPFrame]:
        for i in range(len(self)):
            yield self[i]
        if self.damage is not None:
            raise self.damage

    def normalised(self, frame: DPFrame) -> DPFrame:
        """``frame`` with float32 [0, 1] planes (see DPFrame.normalised)."""
        return frame.normalised(self.header)

    @property
    def frames_ok(self) -> int:
        """Number of leading frames whose records are complete and pass their checksum (reads the file once)."""
        if self._frames_ok is None:
            ok = 0
            for i in range(len(self)):
                try:
                    self._record(i)
                except DPFormatError:
                    break
                ok += 1
            self._frames_ok = ok
        return self._frames_ok

    def close(self) -> None:
        self._f.close()

    def __del__(self):
        f = getattr(self, "_f", None)
        if f is not None:
            f.close()

    def __enter__(self) -> "DPReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""DPWriter: streams frames into a .dp file; an interrupted writer leaves every complete frame readable
(docs/dp-format.md)."""
from __future__ import annotations

import json
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from engine.io.dpformat import (CALIBRATION_KEYS, CODEC_ZLIB, CRC, FILE_HEAD, FILE_MAGIC, FILTER_SUB, FOOTER,
                                FOOTER_MAGIC, FRAME_FIXED, FRAME_MAGIC, INDEX_MAGIC, MAX_HEADER_BYTES, PLANE_DESC,
                                PLANE_IDS, POOL, VERSION, DPHeader, encode_plane, header_problem)


def _check_header(h: DPHeader) -> DPHeader:
    problem = header_problem(h)
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
            self._write_all(FILE_HEAD.pack(FILE_MAGIC, VERSION[0], VERSION[1], len(meta)) + meta
                            + CRC.pack(zlib.crc32(meta)))
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
        payloads = list(POOL.map(encode_plane, [a for _, a in planes]))
        descs = b"".join(PLANE_DESC.pack(PLANE_IDS[n], CODEC_ZLIB, FILTER_SUB, len(p))
                         for (n, _), p in zip(planes, payloads))
        body = FRAME_FIXED.pack(index, ts, len(planes)) + descs + b"".join(payloads)
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
            self._write_all(magic + length + body + CRC.pack(crc))
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
            self._timestamps.append(FRAME_FIXED.unpack_from(body)[1])
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
                self._write_all(FOOTER.pack(index_offset, len(table), zlib.crc32(head), FOOTER_MAGIC))
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

"""DPReader: random access to the frames of a .dp file; a truncated or corrupted file gives a clear error
naming the frame, and every intact frame before it stays readable (docs/dp-format.md)."""
from __future__ import annotations

import json
import math
import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.errors import one_line
from engine.io.dpformat import (CODEC_ZLIB, CRC, FILE_HEAD, FILE_MAGIC, FILTER_NONE, FILTER_SUB, FOOTER, FOOTER_MAGIC,
                                FRAME_FIXED, FRAME_MAGIC, INDEX_MAGIC, MAX_HEADER_BYTES, MAX_PLANES, PLANE_DESC,
                                PLANE_IDS, POOL, RECORD_HEAD, VERSION, DPFormatError, DPFrame, DPHeader, decode_plane,
                                frame_budget, header_problem)


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
            self._max_body = frame_budget(self.header)
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
        head = self._f.read(FILE_HEAD.size)
        if len(head) < FILE_HEAD.size or head[:8] != FILE_MAGIC:
            raise self._err("not a .dp file (bad magic or empty); expected a file written by dplf DPWriter")
        _, major, minor, n = FILE_HEAD.unpack(head)
        if major != VERSION[0]:
            raise self._err(f".dp version {major}.{minor} is not supported (this reader reads {VERSION[0]}.x)")
        # n is untrusted: check it against the file size and a cap before reading (read(n) allocates n bytes)
        if n > MAX_HEADER_BYTES:
            raise self._err(f"file header claims {n} bytes of metadata, over the {MAX_HEADER_BYTES}-byte limit "
                            f"(corrupted header)")
        if FILE_HEAD.size + n + 4 > self._size:
            raise self._err(f"file header is truncated (needs {FILE_HEAD.size + n + 4} bytes, "
                            f"the file has {self._size})")
        meta = self._f.read(n)
        crc = self._f.read(4)
        if len(meta) < n or len(crc) < 4:
            raise self._err("file header is truncated")
        if zlib.crc32(meta) != CRC.unpack(crc)[0]:
            raise self._err("file header checksum mismatch (corrupted metadata)")
        self._data_start = FILE_HEAD.size + n + 4
        try:
            header = DPHeader.from_json(json.loads(meta))
        except (ValueError, KeyError, TypeError, RecursionError) as e:   # RecursionError: deeply nested JSON
            raise self._err(f"file header JSON is invalid ({one_line(e, 200)})") from e
        problem = header_problem(header)
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
        if self._size < self._data_start + FOOTER.size:
            return None
        index_offset, count, crc, magic = FOOTER.unpack(self._pread(self._size - FOOTER.size, FOOTER.size))
        if magic != FOOTER_MAGIC or zlib.crc32(struct.pack("<QQ", index_offset, count)) != crc:
            return None
        body_len = 8 + 16 * count
        if index_offset < self._data_start or index_offset + 12 + body_len > self._size - FOOTER.size:
            return None
        rec = self._pread(index_offset, 12 + body_len)
        m, n = RECORD_HEAD.unpack_from(rec)
        if m != INDEX_MAGIC or n != body_len or zlib.crc32(rec[4:8 + n]) != CRC.unpack_from(rec, 8 + n)[0]:
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
        head = self._pread(int(offsets[-1]), RECORD_HEAD.size)
        if len(head) < RECORD_HEAD.size or int(offsets[-1]) + 12 + RECORD_HEAD.unpack(head)[1] != index_offset:
            return None
        return offsets.astype(np.int64)

    def _scan(self) -> np.ndarray:
        """Walk record headers from the first frame; stop at the end, the index, or the first bad record."""
        offsets, pos = [], self._data_start
        while pos < self._size:
            frame = len(offsets)
            head = self._pread(pos, RECORD_HEAD.size)
            # the index follows the last frame (its footer is broken or cut): a clean end, also when the file
            # is cut inside the index magic where that cannot be the start of a frame record ("DPI")
            if head[:4] == INDEX_MAGIC or (len(head) < 4 and INDEX_MAGIC.startswith(head)
                                           and not FRAME_MAGIC.startswith(head)):
                break
            if len(head) < RECORD_HEAD.size:
                self.damage = self._err(f"record header is truncated (file ends after {len(head)} bytes)",
                                        frame, pos)
                break
            magic, n = RECORD_HEAD.unpack(head)
            if magic != FRAME_MAGIC:
                self.damage = self._err(f"bad record magic {magic!r} (corrupted data)", frame, pos)
                break
            if n > self._max_body:
                self.damage = self._err(f"record length {n} is impossible for {self._shape_name()} frames "
                                        f"(corrupted length field)", frame, pos)
                break
            end = pos + RECORD_HEAD.size + n + 4
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
        head = self._pread(off, RECORD_HEAD.size)
        if len(head) < RECORD_HEAD.size:
            raise self._err("record header is truncated", i, off)
        magic, n = RECORD_HEAD.unpack(head)
        if magic != FRAME_MAGIC:
            raise self._err(f"bad record magic {magic!r} (corrupted data)", i, off)
        if n > self._max_body:
            raise self._err(f"record length {n} is impossible for {self._shape_name()} frames "
                            f"(corrupted length field)", i, off)
        if off + RECORD_HEAD.size + n + 4 > self._size:
            raise self._err(f"record is truncated ({self._size - off} of {RECORD_HEAD.size + n + 4} bytes "
                            f"present)", i, off)
        rec = self._pread(off + 4, n + 8)
        if zlib.crc32(rec[:4 + n]) != CRC.unpack_from(rec, 4 + n)[0]:
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
            if len(body) < FRAME_FIXED.size:
                raise ValueError(f"frame body is {len(body)} bytes, shorter than its {FRAME_FIXED.size}-byte head")
            index, ts, count = FRAME_FIXED.unpack_from(body)
            if index != i:
                raise ValueError(f"record says it is frame {index}")
            if not math.isfinite(ts):
                raise ValueError(f"timestamp {ts} is not finite")
            if count > MAX_PLANES:
                raise ValueError(f"{count} planes, more than the {MAX_PLANES} a frame can have")
            pos = FRAME_FIXED.size + count * PLANE_DESC.size
            if pos > len(body):
                raise ValueError(f"{count} plane descriptors do not fit in a {len(body)}-byte body")
            jobs = {}
            for k in range(count):
                pid, codec, filt, length = PLANE_DESC.unpack_from(body, FRAME_FIXED.size + k * PLANE_DESC.size)
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
                jobs[pid] = POOL.submit(decode_plane, body[pos:pos + length], shape, dtype, filt)
                pos += length
            planes = {pid: job.result() for pid, job in jobs.items()}
            for name in ("left", "right") + (("rgb",) if h.has_rgb else ()):
                if PLANE_IDS[name] not in planes:
                    raise ValueError(f"the {name} plane is missing")
        except (ValueError, KeyError, struct.error, zlib.error) as e:
            raise self._err(f"cannot decode ({one_line(e, 200)})", i, off) from e
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

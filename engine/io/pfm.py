"""PFM (portable float map) read/write, the format of HCI ground truth and dplf disparity outputs.

PFM: ASCII header ``Pf`` (1 channel) or ``PF`` (3 channels), ``W H``, a scale whose sign gives the byte
order (negative = little-endian), then float32 rows stored bottom-up.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class PFMError(ValueError):
    """A file is not a readable PFM."""


def _header_tokens(data: bytes, path) -> tuple[list[bytes], int]:
    """First 4 whitespace-separated tokens of the header and the offset just past them."""
    tokens, pos = [], 0
    while len(tokens) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            raise PFMError(f"{path}: PFM header is incomplete; is this a PFM file?")
        tokens.append(data[start:pos])
    return tokens, pos + 1  # exactly one whitespace byte ends the header


def read_pfm(path: str | os.PathLike) -> np.ndarray:
    """Read a PFM file into top-down float32 ``[H, W]`` (``Pf``) or ``[H, W, 3]`` (``PF``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PFMError(f"{path}: cannot read PFM ({e.strerror})") from e
    tokens, offset = _header_tokens(data[:256], path)
    kind, width, height, scale = tokens
    if kind not in (b"Pf", b"PF"):
        raise PFMError(f"{path}: not a PFM file (starts with {kind[:8]!r}, expected 'Pf' or 'PF')")
    try:
        w, h, s = int(width), int(height), float(scale)
    except ValueError as e:
        raise PFMError(f"{path}: malformed PFM header ({e})") from e
    channels = 3 if kind == b"PF" else 1
    count = w * h * channels
    if w <= 0 or h <= 0 or s == 0 or len(data) - offset < 4 * count:
        raise PFMError(f"{path}: PFM {w}x{h}x{channels} is truncated or malformed "
                       f"({len(data) - offset} data bytes, need {4 * count})")
    dtype = np.dtype("<f4" if s < 0 else ">f4")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    arr = arr.reshape((h, w, 3) if channels == 3 else (h, w))[::-1]
    return np.ascontiguousarray(arr, dtype=np.float32)


def write_pfm(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Write float ``[H, W]`` or ``[H, W, 3]`` as little-endian PFM (rows bottom-up, scale -1)."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)) or arr.size == 0:
        raise ValueError(f"write_pfm {path}: expected a non-empty [H, W] or [H, W, 3] array, got shape {arr.shape}")
    h, w = arr.shape[:2]
    kind = b"PF" if arr.ndim == 3 else b"Pf"
    body = np.ascontiguousarray(arr[::-1], dtype="<f4").tobytes()
    with open(path, "wb") as f:
        f.write(kind + b"\n%d %d\n-1\n" % (w, h))
        f.write(body)

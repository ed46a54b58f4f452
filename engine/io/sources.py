"""Frame sources for the pipeline: a .dp file, a folder (or glob) of DP pairs, or an LF folder.

``open_source(path)`` -> FrameSource, an iterable of normalised frames (architecture.md "Normalised
frame"). Image sequences and light fields go through the converter's layout readers
(``engine.io.convert.open_layout``), so ``dplf run`` sees exactly what ``dplf convert`` would store.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from engine.io.convert import detect_layout, open_layout
from engine.io.dpfile import DPFormatError, DPFrame, DPHeader, DPReader


@dataclass
class Frame:
    """A normalised frame: left/right float32 [H, W] in [0, 1], rgb float32 [H, W, 3] or None."""

    index: int
    timestamp: float
    left: np.ndarray
    right: np.ndarray
    rgb: np.ndarray | None = None


def output_size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """(H, W) after downsizing so that max(H, W) <= max_size (never upsizes)."""
    if max_size is None or max(height, width) <= max_size:
        return height, width
    s = max_size / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


class FrameSource:
    """Frames ``start .. start + frames`` of a source, normalised and optionally downsized.

    ``len(src)``, iteration, ``src[k]`` (k-th selected frame; ``Frame.index`` is the source index),
    ``fps``, ``name``, ``layout``, ``calibration``, ``tags``, ``height``/``width`` (output size), ``scale``
    (output / stored width). A damaged .dp frame raises DPFormatError, or with ``skip_bad=True`` is
    reported with a warning and skipped.
    """

    def __init__(self, header: DPHeader, load, count: int, *, name: str, layout: str,
                 max_size: int | None = None, start: int = 0, frames: int | None = None,
                 damage: DPFormatError | None = None, skip_bad: bool = False, closer=None):
        self.header, self._load = header, load
        self.name, self.layout, self.skip_bad = name, layout, skip_bad
        self._damage, self._closer = damage, closer
        if start < 0:
            raise ValueError(f"{name}: start must be >= 0, got {start}")
        if frames is not None and frames < 1:
            raise ValueError(f"{name}: frames must be >= 1, got {frames}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"{name}: max_size must be >= 1, got {max_size}")
        if count == 0:
            raise ValueError(f"{name}: the source has no readable frames" + (f" ({damage})" if damage else ""))
        if start >= count:
            raise ValueError(f"{name}: start {start} is past the end (the source has {count} frames)")
        self.start = start
        self.stop = count if frames is None else min(count, start + frames)
        self._count = count
        self.height, self.width = output_size(header.height, header.width, max_size)
        self.scale = self.width / header.width

    fps = property(lambda self: self.header.fps)
    calibration = property(lambda self: self.header.calibration)
    tags = property(lambda self: self.header.tags)

    def __len__(self) -> int:
        return self.stop - self.start

    def _resize(self, x: np.ndarray | None) -> np.ndarray | None:
        if x is None or x.shape[:2] == (self.height, self.width):
            return x
        return cv2.resize(x, (self.width, self.height), interpolation=cv2.INTER_AREA)

    def __getitem__(self, k: int) -> Frame:
        if not 0 <= k < len(self):
            raise IndexError(f"{self.name}: frame {k} out of range (source has {len(self)} selected frames)")
        i = self.start + k
        raw = self._load(i)
        f = raw.normalised(self.header)
        return Frame(i, float(raw.timestamp), self._resize(f.left), self._resize(f.right),
                     self._resize(f.rgb))

    def __iter__(self) -> Iterator[Frame]:
        for k in range(len(self)):
            try:
                yield self[k]
            except DPFormatError as e:
                if not self.skip_bad:
                    raise
                warnings.warn(f"skipping bad frame: {e}", stacklevel=2)
        if self._damage is not None and self.stop == self._count:
            if not self.skip_bad:
                raise self._damage
            warnings.warn(f"source ends with a damaged frame: {self._damage}", stacklevel=2)

    def close(self) -> None:
        if self._closer is not None:
            self._closer()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(path: str | os.PathLike, *, max_size: int | None = None, start: int = 0,
                frames: int | None = None, skip_bad: bool = False) -> FrameSource:
    """Open a .dp file, a folder or glob of DP pairs (pixel4 / dp-pairs layouts) or an LF folder (hci /
    lytro, DP synthesised on the fly over the full aperture) as a FrameSource of normalised frames."""
    path = Path(path)
    if not path.exists() and not any(ch in str(path) for ch in "*?["):
        raise ValueError(f"input {path} does not exist; pass a .dp file, a DP-pair folder or an LF folder")
    layout = detect_layout(path)
    common = dict(max_size=max_size, start=start, frames=frames, skip_bad=skip_bad, layout=layout)
    if layout == "dp":
        reader = DPReader(path)
        return FrameSource(reader.header, reader.__getitem__, len(reader), name=path.stem,
                           damage=reader.damage, closer=reader.close, **common)
    seq = open_layout(path, layout)

    def load(i: int) -> DPFrame:
        left, right, rgb = seq.load(i)
        return DPFrame(i, seq.timestamp(i), left, right, rgb)

    return FrameSource(seq.header, load, len(seq), name=seq.name, **common)

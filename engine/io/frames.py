"""Normalised frames (docs/architecture.md, "Normalised frame") and the reader that produces them from stored
ones: ``Frame``, the selection checks every source shares, ``FrameSource`` (random-access sources: .dp files,
image sequences, light fields) and ``pair_to_frame`` (uint8 DP halves from videos and cameras)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from engine.io.dpfile import DPFormatError, DPHeader


@dataclass
class Frame:
    """A normalised frame: left/right float32 [H, W] in [0, 1], rgb float32 [H, W, 3] or None."""

    index: int
    timestamp: float
    left: np.ndarray
    right: np.ndarray
    rgb: np.ndarray | None = None


def check_selection(name: str, start: int, frames: int | None, max_size: int | None) -> None:
    """One-line errors for a source's frame range and output size options."""
    if start < 0:
        raise ValueError(f"{name}: start must be >= 0, got {start}")
    if frames is not None and frames < 1:
        raise ValueError(f"{name}: frames must be >= 1, got {frames}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"{name}: max_size must be >= 1, got {max_size}")


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
    reported and skipped: through ``report_skip(index, exc)`` when set (Pipeline.stream sets it so that its
    ``on_skip`` callback hears about it), else with a warning.
    """

    live = False
    report_skip = None

    def __init__(self, header: DPHeader, load, count: int, *, name: str, layout: str,
                 max_size: int | None = None, start: int = 0, frames: int | None = None,
                 damage: DPFormatError | None = None, skip_bad: bool = False, closer=None):
        self.header, self._load = header, load
        self.name, self.layout, self.skip_bad = name, layout, skip_bad
        self._damage, self._closer = damage, closer
        check_selection(name, start, frames, max_size)
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
                if self.report_skip is not None:
                    self.report_skip(self.start + k, e)
                else:
                    warnings.warn(f"skipping bad frame: {e}", stacklevel=2)
        if self._damage is not None and self.stop == self._count:
            if not self.skip_bad:
                raise self._damage
            if self.report_skip is not None:
                frame = getattr(self._damage, "frame", None)
                self.report_skip(self._count if frame is None else frame, self._damage)
            else:
                warnings.warn(f"source ends with a damaged frame: {self._damage}", stacklevel=2)

    def close(self) -> None:
        if self._closer is not None:
            self._closer()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _fit(x: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    return x if x.shape[:2] == hw else cv2.resize(x, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)


def pair_to_frame(index: int, timestamp: float, left: np.ndarray, right: np.ndarray,
                  max_size: int | None = None, with_rgb: bool = True):
    """RGB (or grey) uint8 DP halves -> a normalised ``Frame`` (downsized to max_size)."""
    if left.shape != right.shape:
        raise ValueError(f"frame {index}: left {left.shape} and right {right.shape} differ in size; "
                         f"the two DP views must have the same resolution")
    hw = output_size(left.shape[0], left.shape[1], max_size)
    lf = _fit(left, hw).astype(np.float32)
    rf = _fit(right, hw).astype(np.float32)
    lf *= np.float32(1 / 255)
    rf *= np.float32(1 / 255)
    if lf.ndim == 2:
        return Frame(index, timestamp, lf, rf, None)
    rgb = (lf + rf) * np.float32(0.5) if with_rgb else None
    return Frame(index, timestamp, lf.mean(axis=-1), rf.mean(axis=-1), rgb)

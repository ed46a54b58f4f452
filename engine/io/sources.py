"""Frame sources for the pipeline: a .dp file, a folder (or glob) of DP pairs, an LF folder, a side-by-side
video, or a camera / network stream.

``open_source(spec)`` -> an iterable of normalised frames (architecture.md "Normalised frame"): a
FrameSource for files and folders, an ``engine.io.video.VideoSource`` for a video file (detected by its
extension), an ``engine.io.video.CameraSource`` for an int, "camera:N", "/dev/videoN", a stream URL
(rtsp://, http://, ...) or a ``(left, right)`` pair of those. Image sequences and light fields go through the
converter's layout readers (``engine.io.convert.open_layout``), so ``dplf run`` sees exactly what ``dplf
convert`` would store. Every source has ``live`` (True: frames may be dropped when the consumer is slow),
``name``, ``fps`` and ``layout``.
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


def open_source(path, *, max_size: int | None = None, start: int = 0, frames: int | None = None,
                skip_bad: bool = False, layout: str | None = None, timeout_s: float = 5.0):
    """Open a source of normalised frames.

    path: a .dp file, a folder or glob of DP pairs (pixel4 / dp-pairs layouts), an LF folder (hci / lytro,
        DP synthesised on the fly over the full aperture), a side-by-side video (by extension, VIDEO_EXTS),
        or a live source: an int / "camera:N" / "/dev/videoN" / stream URL, or a (left, right) pair of them.
    layout: force a file layout (``engine.io.convert.LAYOUTS``; "sbs-video" or "sbs" for a video with another
        extension); for a camera, "sbs" (default) or "dp-pair".
    timeout_s: open/read timeout of cameras and streams.
    Bad input raises ValueError (or VideoSourceError, an OSError, for a camera) with one line.
    """
    from engine.io.video import CameraSource, VideoSource, is_video_path, parse_camera

    if isinstance(path, (tuple, list)) or parse_camera(path) is not None:
        if start:
            raise ValueError(f"start={start} does not apply to a live source ({path!r}); drop --start")
        cam_layout = layout or ("dp-pair" if isinstance(path, (tuple, list)) else "sbs")
        return CameraSource(path, cam_layout, max_size=max_size, frames=frames, timeout_s=timeout_s)
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"cannot open {path!r} as a source; pass a path, a camera index or a stream URL")
    path = Path(path)
    if not path.exists() and not any(ch in str(path) for ch in "*?["):
        raise ValueError(f"input {path} does not exist; pass a .dp file, a DP-pair folder, an LF folder, "
                         f"a side-by-side video or a camera (camera:N)")
    if path.is_file() and (layout in ("sbs", "sbs-video") or (layout is None and is_video_path(path))):
        # streamed straight from OpenCV (constant memory), not through the converter's sequence reader
        return VideoSource(path, max_size=max_size, start=start, frames=frames)
    if layout is None:
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

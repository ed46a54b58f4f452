"""Side-by-side (SBS) DP videos: each frame is ``left | right`` (an odd last column is ignored).

``iter_sbs_video(path)``  raw frames (RGB uint8 halves); the ``sbs-video`` input format converts them.
``VideoSource(path)``     the video as normalised frames, streamed with constant memory (what ``dplf run`` reads).
Normalised: left/right = channel mean of each half / 255 (``engine.conventions.dp_gray``), rgb = the mean of
the two halves (the full aperture); timestamps from the container.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from engine.io.capture import (CaptureSource, VideoSourceError, capture_fps, frame_timestamp, open_capture, split_sbs,
                               to_rgb8)
from engine.io.dpfile import DPHeader
from engine.io.frames import check_selection, output_size, pair_to_frame


def iter_sbs_video(path: str | os.PathLike, max_frames: int | None = None
                   ) -> Iterator[tuple[int, float, np.ndarray, np.ndarray]]:
    """Frames of a side-by-side DP video (left half | right half), read with ``cv2.VideoCapture``.

    Yields ``(index, timestamp_s, left, right)``; left/right are RGB uint8 [H, W//2, 3] (an odd last column
    is ignored). ``timestamp_s`` is the container's time of the frame (``index / fps`` when it has none).
    Stops after ``max_frames`` frames or at the end of the video. ValueError (one line) for a missing,
    undecodable or empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video {path} does not exist; pass a side-by-side (left|right) video file")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"{path}: max_frames must be >= 1, got {max_frames}")
    try:
        cap = open_capture(str(path))
    except VideoSourceError as exc:
        raise ValueError(str(exc)) from None
    try:
        fps = capture_fps(cap)
        i = 0
        while max_frames is None or i < max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            rgb = to_rgb8(frame)
            if rgb.shape[1] < 2:
                raise ValueError(f"{path}: frame {i} is {rgb.shape[1]} pixel(s) wide; a side-by-side video needs "
                                 f"a left and a right half")
            left, right = split_sbs(rgb)
            yield i, frame_timestamp(cap, i, fps), left, right
            i += 1
        if i == 0:
            raise ValueError(f"{path}: the video has no decodable frames; check the file or re-encode it")
    finally:
        cap.release()


def video_info(path: str | os.PathLike) -> dict:
    """{"frames", "fps", "width", "height"} of a video as its container reports them (width: the whole frame)."""
    try:
        cap = open_capture(str(path))
    except VideoSourceError as exc:
        raise ValueError(str(exc)) from None
    try:
        return {"frames": max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0), "fps": capture_fps(cap),
                "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}
    finally:
        cap.release()


class VideoSource(CaptureSource):
    """A side-by-side (left | right) video file as normalised frames ``start .. start + frames``.

    ``len()`` is the frame count the container reports (exact for MJPG .avi and mp4v .mp4; counted by
    decoding when the container has none). ``fps``, ``name``, ``layout`` ("sbs-video", the converter's
    name for the layout), ``height``/``width``
    (output size of one DP view), ``header`` (a DPHeader a converter can store).
    """

    def __init__(self, path: str | os.PathLike, *, max_size: int | None = None, start: int = 0,
                 frames: int | None = None):
        self.path = Path(path)
        self.name = self.path.stem
        check_selection(self.name, start, frames, max_size)
        if not self.path.is_file():
            raise ValueError(f"video {self.path} does not exist; pass a side-by-side (left|right) video file")
        info = video_info(self.path)
        count = info["frames"] or sum(1 for _ in iter_sbs_video(self.path))
        if info["width"] < 2 * 8 or info["height"] < 8:
            raise ValueError(f"{self.path}: {info['width']}x{info['height']} is too small for a side-by-side "
                             f"DP video (each half needs at least 8x8 pixels)")
        if start >= count:
            raise ValueError(f"{self.name}: start {start} is past the end (the video has {count} frames)")
        self.max_size, self.start = max_size, start
        self.stop = count if frames is None else min(count, start + frames)
        self.fps = info["fps"]
        self.source_height, self.source_width = info["height"], info["width"] // 2
        self.height, self.width = output_size(self.source_height, self.source_width, max_size)
        self.scale = self.width / self.source_width
        self.tags = {"source": str(self.path), "layout": "sbs-video"}
        self.header = DPHeader(width=self.source_width, height=self.source_height, fps=self.fps, bit_depth=8,
                               black_level=0, white_level=255, camera="sbs-video", has_rgb=True, tags=self.tags)

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self):
        for i, ts, left, right in iter_sbs_video(self.path, max_frames=self.stop):
            if i >= self.start:
                yield pair_to_frame(i, ts, left, right, self.max_size)

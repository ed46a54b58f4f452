"""Cameras and network streams over ``cv2.VideoCapture`` as normalised frames (``CameraSource``)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np

from engine.io.capture import (STREAM_SCHEMES, CaptureSource, VideoSourceError, capture_fps, describe, frame_timestamp,
                               open_capture, parse_camera, split_sbs, to_rgb8)
from engine.io.frames import output_size, pair_to_frame

CAMERA_LAYOUTS = ("sbs", "dp-pair")


class CameraSource(CaptureSource):
    """A camera or network stream (or, for tests and replays, a video file) over ``cv2.VideoCapture``.

    device_or_url: an int index, "camera:N", "/dev/videoN", a stream URL (rtsp://, http://, ...) or a video
        path; with ``layout="dp-pair"`` a pair ``(left, right)`` of those, grabbed together.
    layout: "sbs" (each frame is left | right) or "dp-pair" (two captures, one DP view each).
    width/height/fps: requested capture format (the driver may pick the nearest it supports).
    max_size: downsize so that max(H, W) <= max_size. frames: stop after this many.
    timeout_s: open and read timeout (FFmpeg streams); also the stream's default frame timeout.
    live: drop frames when the consumer is slow (Pipeline.stream's default policy "latest"); default: True
        for cameras and URLs, False for files.
    The capture opens in the constructor: a missing device or unreachable URL raises VideoSourceError with
    one line. A live source that stops delivering frames raises VideoSourceError (a file just ends).
    Frame timestamps: seconds since the source opened (live) or the container's time (files).
    """

    def __init__(self, device_or_url, layout: str = "sbs", *, width: int | None = None, height: int | None = None,
                 fps: float | None = None, max_size: int | None = None, frames: int | None = None,
                 timeout_s: float = 5.0, live: bool | None = None, backend: int = cv2.CAP_ANY):
        if layout not in CAMERA_LAYOUTS:
            raise ValueError(f"camera layout {layout!r} is unknown; choose one of {', '.join(CAMERA_LAYOUTS)}")
        if layout == "dp-pair":
            if not isinstance(device_or_url, (tuple, list)) or len(device_or_url) != 2:
                raise ValueError(f"layout 'dp-pair' needs two captures (left, right), got {device_or_url!r}; "
                                 f"pass e.g. (0, 1) or use layout='sbs' for one side-by-side stream")
            specs = list(device_or_url)
        else:
            if isinstance(device_or_url, (tuple, list)):
                raise ValueError("layout 'sbs' takes one capture; pass layout='dp-pair' for a (left, right) pair")
            specs = [device_or_url]
        if frames is not None and frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        self.targets = [self._target(s) for s in specs]
        self.layout, self.max_size, self.frames, self.timeout_s = layout, max_size, frames, float(timeout_s)
        is_live = [not isinstance(t, str) or parse_camera(t) is not None for t in self.targets]
        self.live = any(is_live) if live is None else bool(live)
        self.name = " + ".join(describe(t) for t in self.targets)
        self.tags = {"source": self.name, "layout": layout}
        self._caps: list[cv2.VideoCapture] = []
        try:
            for t in self.targets:
                cap = open_capture(t, self.timeout_s, backend)
                self._caps.append(cap)
                for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height),
                                    (cv2.CAP_PROP_FPS, fps)):
                    if value:
                        cap.set(prop, value)
        except BaseException:
            self.close()
            raise
        self.fps = capture_fps(self._caps[0], float(fps or 30.0))
        w = int(self._caps[0].get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(self._caps[0].get(cv2.CAP_PROP_FRAME_HEIGHT))
        w = w // 2 if layout == "sbs" else w
        self.height, self.width = output_size(h, w, max_size) if h and w else (0, 0)   # 0: known after a frame
        self.read_count = 0
        self._t0 = time.perf_counter()

    @staticmethod
    def _target(spec) -> int | str:
        t = parse_camera(spec)
        if t is not None:
            return t
        if isinstance(spec, (str, os.PathLike)):
            path = Path(spec)
            if not path.exists():
                raise VideoSourceError(f"camera/stream {spec!s} is neither a device (int, camera:N, /dev/videoN), "
                                       f"a stream URL ({', '.join(s[:-3] for s in STREAM_SCHEMES)}) nor an "
                                       f"existing file; check the spelling")
            return str(path)
        raise ValueError(f"cannot open {spec!r} as a camera; pass an int index, 'camera:N', a URL or a path")

    def _read(self) -> list[np.ndarray] | None:
        caps = self._caps
        if len(caps) > 1 and not all(c.grab() for c in caps):   # grab both first: closest in time
            return None
        out = []
        for c in caps:
            ok, frame = c.retrieve() if len(caps) > 1 else c.read()
            if not ok or frame is None:
                return None
            out.append(frame)
        return out

    def __iter__(self):
        i = 0
        while self.frames is None or i < self.frames:
            if not self._caps:
                raise VideoSourceError(f"{self.name} is closed")
            raw = self._read()
            if raw is None:
                if self.read_count == 0:
                    raise VideoSourceError(f"{self.name} opened but delivered no frame within {self.timeout_s:g} s; "
                                           f"check that it is streaming (and not used by another program)")
                if self.live:
                    raise VideoSourceError(f"{self.name} stopped delivering frames after {self.read_count} "
                                           f"(disconnected?); reconnect it and restart the stream")
                return
            ts = (time.perf_counter() - self._t0 if self.live
                  else frame_timestamp(self._caps[0], self.read_count, self.fps))
            self.read_count += 1
            if self.layout == "sbs":
                left, right = split_sbs(to_rgb8(raw[0]))
                frame = pair_to_frame(i, ts, left, right, self.max_size)
            else:
                left, right = (to_rgb8(f) for f in raw)
                frame = pair_to_frame(i, ts, left, right, self.max_size)
            if not self.height:
                self.height, self.width = frame.left.shape
            yield frame
            i += 1

    def close(self) -> None:
        for cap in self._caps:
            cap.release()
        self._caps = []

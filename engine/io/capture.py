"""OpenCV capture helpers shared by the video and camera sources: live-source specs (``parse_camera``),
opening a ``cv2.VideoCapture`` with timeouts and a one-line error (``open_capture``, OpenCV's own log
silenced meanwhile), decoded-frame conversion and side-by-side splitting."""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtp://", "udp://", "tcp://", "srt://", "http://", "https://")
_CAMERA_RE = re.compile(r"^camera:(\d+)$", re.IGNORECASE)
_DEV_RE = re.compile(r"^/dev/video(\d+)$")
_LOG_LOCK = threading.Lock()


class VideoSourceError(OSError):
    """A camera, stream or video could not be opened or stopped delivering frames (one-line message)."""


def parse_camera(spec: Any) -> int | str | None:
    """What ``cv2.VideoCapture`` should open for a live-source spec, or None if ``spec`` is not one.

    An int (not bool) or "camera:N" -> N; "/dev/videoN" -> the path; a stream URL (STREAM_SCHEMES) -> the URL.
    """
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return int(spec)
    if not isinstance(spec, (str, os.PathLike)):
        return None
    text = os.fspath(spec).strip()
    m = _CAMERA_RE.match(text)
    if m:
        return int(m.group(1))
    if _DEV_RE.match(text) or text.lower().startswith(STREAM_SCHEMES):
        return text
    return None


def redact(url: str) -> str:
    """A URL with its user:password@ part hidden, for messages and logs."""
    return re.sub(r"(^[a-z][a-z0-9+.-]*://)[^/@]*@", r"\1***@", url, flags=re.IGNORECASE)


def describe(target: int | str) -> str:
    if isinstance(target, int):
        return f"camera {target}"
    if isinstance(target, str) and target.lower().startswith(STREAM_SCHEMES):
        return f"stream {redact(target)}"
    return f"video {target}" if not _DEV_RE.match(str(target)) else f"camera {target}"


def open_hint(target: int | str, timeout_s: float = 5.0) -> str:
    if isinstance(target, int) or _DEV_RE.match(str(target)):
        dev = f"/dev/video{target}" if isinstance(target, int) else target
        if os.path.exists(dev):
            return (f"{dev} exists but would not open (busy in another program, no permission, or not a "
                    f"capture device); close other users of it, check the 'video' group, or try another index")
        return (f"no such device ({dev} does not exist); check that the camera is connected (ls /dev/video*) "
                f"or pass another index (camera:N) or a stream URL")
    if str(target).lower().startswith(STREAM_SCHEMES):
        return (f"unreachable, refused, no answer within {timeout_s:g} s, or an unsupported protocol/codec; "
                f"check the URL, the network and the server (or raise timeout_s)")
    return "not a video OpenCV/FFmpeg can decode; check the file or re-encode it (e.g. MJPG .avi or mp4v .mp4)"


@contextmanager
def quiet_opencv():
    """Silence OpenCV's own log (its "[ WARN ...]" lines on stderr) inside the block, for calls whose failure
    we report ourselves in one line; the previous level is restored after."""
    with _LOG_LOCK:
        old = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            yield
        finally:
            cv2.utils.logging.setLogLevel(old)


def open_capture(target: int | str, timeout_s: float = 5.0, backend: int = cv2.CAP_ANY) -> cv2.VideoCapture:
    """``cv2.VideoCapture(target)`` with open/read timeouts; VideoSourceError (one line) if it does not open.
    OpenCV's own warnings during the open are silenced: the error says what went wrong."""
    ms = int(max(timeout_s, 0.1) * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    try:
        with quiet_opencv():
            cap = cv2.VideoCapture(target, backend, params)
    except cv2.error as exc:  # some backends throw instead of returning a closed capture
        raise VideoSourceError(f"{describe(target)} could not be opened: {str(exc).strip().splitlines()[-1]}; "
                               f"{open_hint(target, timeout_s)}") from None
    if not cap.isOpened():
        cap.release()
        raise VideoSourceError(f"{describe(target)} could not be opened: {open_hint(target, timeout_s)}")
    return cap


def to_rgb8(frame: np.ndarray) -> np.ndarray:
    """A decoded OpenCV frame (BGR, BGRA or grey; uint8 or uint16) -> RGB uint8 [H, W, 3]."""
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise ValueError(f"video frames of dtype {frame.dtype} are not supported; expected 8- or 16-bit")
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def split_sbs(frame_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[H, W, 3] -> (left [H, W//2, 3], right [H, W//2, 3]) contiguous copies; an odd last column is ignored."""
    half = frame_rgb.shape[1] // 2
    return np.ascontiguousarray(frame_rgb[:, :half]), np.ascontiguousarray(frame_rgb[:, half:2 * half])


def frame_timestamp(cap: cv2.VideoCapture, i: int, fps: float) -> float:
    pos = cap.get(cv2.CAP_PROP_POS_MSEC)   # after read(): the time of the frame just read
    if np.isfinite(pos) and (pos > 0 or i == 0):
        return float(pos) / 1000.0
    return i / fps


def capture_fps(cap: cv2.VideoCapture, default: float = 30.0) -> float:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if np.isfinite(fps) and 0 < fps < 10000 else default


class CaptureSource:
    """What the OpenCV-backed sources (VideoSource, CameraSource) share: source attributes and closing."""

    live = False
    layout = "sbs-video"
    calibration = None
    report_skip = None          # set by Pipeline.stream; unused here (video frames are never "bad")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass

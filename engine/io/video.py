"""Video and live sources: side-by-side (SBS) DP videos, cameras and network streams, and a frame grabber.

``iter_sbs_video(path)``   raw frames of an SBS video (left | right halves, RGB uint8); the converter uses it.
``VideoSource(path)``      an SBS video file as normalised frames (what ``open_source`` returns for a video).
``CameraSource(spec)``     a camera (index, ``/dev/videoN``) or a stream URL (rtsp://, http://, ...) over
                           ``cv2.VideoCapture``, as normalised frames. ``layout="sbs"``: one L|R frame;
                           ``layout="dp-pair"``: two captures (left, right) grabbed together.
``FrameGrabber(iterable)`` a thread that reads any iterable into a small buffer with a drop policy:
                           "latest" keeps the newest (old frames are dropped), "queue" blocks the producer
                           when the buffer is full (nothing is dropped), "drop-new" discards incoming frames
                           when full. ``Pipeline.stream`` runs every source through one.

Normalised frames (architecture.md): left/right float32 [H, W] in [0, 1] are the channel mean of each half
(``engine.conventions.dp_gray``), rgb float32 [H, W, 3] is the mean of the two halves (the full aperture).
This module must not import engine.io.sources or engine.io.convert at import time (convert imports it).
"""
from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import cv2
import numpy as np

VIDEO_EXTS = frozenset({".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"})
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtp://", "udp://", "tcp://", "srt://", "http://", "https://")
DROP_POLICIES = ("latest", "queue", "drop-new")
CAMERA_LAYOUTS = ("sbs", "dp-pair")
_CAMERA_RE = re.compile(r"^camera:(\d+)$", re.IGNORECASE)
_DEV_RE = re.compile(r"^/dev/video(\d+)$")


class VideoSourceError(OSError):
    """A camera, stream or video could not be opened or stopped delivering frames (one-line message)."""


# ---------------------------------------------------------------- helpers

def is_video_path(path: str | os.PathLike) -> bool:
    """True for a file name with a video extension (VIDEO_EXTS)."""
    return Path(path).suffix.lower() in VIDEO_EXTS


def parse_camera(spec: Any) -> int | str | None:
    """What ``cv2.VideoCapture`` should open for a live-source spec, or None if SPEC is not one.

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


def _describe(target: int | str) -> str:
    if isinstance(target, int):
        return f"camera {target}"
    if isinstance(target, str) and target.lower().startswith(STREAM_SCHEMES):
        return f"stream {redact(target)}"
    return f"video {target}" if not _DEV_RE.match(str(target)) else f"camera {target}"


def _open_hint(target: int | str, timeout_s: float = 5.0) -> str:
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


def open_capture(target: int | str, timeout_s: float = 5.0, backend: int = cv2.CAP_ANY) -> cv2.VideoCapture:
    """``cv2.VideoCapture(target)`` with open/read timeouts; VideoSourceError (one line) if it does not open."""
    ms = int(max(timeout_s, 0.1) * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    try:
        cap = cv2.VideoCapture(target, backend, params)
    except cv2.error as exc:  # some backends throw instead of returning a closed capture
        raise VideoSourceError(f"{_describe(target)} could not be opened: {str(exc).strip().splitlines()[-1]}; "
                               f"{_open_hint(target, timeout_s)}") from None
    if not cap.isOpened():
        cap.release()
        raise VideoSourceError(f"{_describe(target)} could not be opened: {_open_hint(target, timeout_s)}")
    return cap


def _to_rgb8(frame: np.ndarray) -> np.ndarray:
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


def _timestamp(cap: cv2.VideoCapture, i: int, fps: float) -> float:
    pos = cap.get(cv2.CAP_PROP_POS_MSEC)   # after read(): the time of the frame just read
    if np.isfinite(pos) and (pos > 0 or i == 0):
        return float(pos) / 1000.0
    return i / fps


def _fps(cap: cv2.VideoCapture, default: float = 30.0) -> float:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if np.isfinite(fps) and 0 < fps < 10000 else default


# ---------------------------------------------------------------- raw SBS video

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
        fps = _fps(cap)
        i = 0
        while max_frames is None or i < max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            rgb = _to_rgb8(frame)
            if rgb.shape[1] < 2:
                raise ValueError(f"{path}: frame {i} is {rgb.shape[1]} pixel(s) wide; a side-by-side video needs "
                                 f"a left and a right half")
            left, right = split_sbs(rgb)
            yield i, _timestamp(cap, i, fps), left, right
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
        return {"frames": max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0), "fps": _fps(cap),
                "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}
    finally:
        cap.release()


# ---------------------------------------------------------------- normalised frame sources

def _size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    if max_size is None or max(height, width) <= max_size:
        return height, width
    s = max_size / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def _fit(x: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    return x if x.shape[:2] == hw else cv2.resize(x, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)


def pair_to_frame(index: int, timestamp: float, left: np.ndarray, right: np.ndarray,
                  max_size: int | None = None, with_rgb: bool = True):
    """RGB (or grey) uint8 DP halves -> a normalised ``engine.io.sources.Frame`` (downsized to max_size)."""
    from engine.io.sources import Frame   # lazy: sources imports convert, which imports this module

    if left.shape != right.shape:
        raise ValueError(f"frame {index}: left {left.shape} and right {right.shape} differ in size; "
                         f"the two DP views must have the same resolution")
    hw = _size(left.shape[0], left.shape[1], max_size)
    lf = _fit(left, hw).astype(np.float32)
    rf = _fit(right, hw).astype(np.float32)
    lf *= np.float32(1 / 255)
    rf *= np.float32(1 / 255)
    if lf.ndim == 2:
        return Frame(index, timestamp, lf, rf, None)
    rgb = (lf + rf) * np.float32(0.5) if with_rgb else None
    return Frame(index, timestamp, lf.mean(axis=-1), rf.mean(axis=-1), rgb)


class _SourceBase:
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


class VideoSource(_SourceBase):
    """A side-by-side (left | right) video file as normalised frames ``start .. start + frames``.

    ``len()`` is the frame count the container reports (exact for MJPG .avi and mp4v .mp4; counted by
    decoding when the container has none). ``fps``, ``name``, ``layout`` ("sbs-video", the converter's
    name for the layout), ``height``/``width``
    (output size of one DP view), ``header`` (a DPHeader a converter can store).
    """

    def __init__(self, path: str | os.PathLike, *, max_size: int | None = None, start: int = 0,
                 frames: int | None = None):
        from engine.io.dpfile import DPHeader

        from engine.io.sources import check_selection

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
        self.height, self.width = _size(self.source_height, self.source_width, max_size)
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


class CameraSource(_SourceBase):
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
        self.name = " + ".join(_describe(t) for t in self.targets)
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
        self.fps = _fps(self._caps[0], float(fps or 30.0))
        w = int(self._caps[0].get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(self._caps[0].get(cv2.CAP_PROP_FRAME_HEIGHT))
        w = w // 2 if layout == "sbs" else w
        self.height, self.width = _size(h, w, max_size) if h and w else (0, 0)   # 0: known after a frame
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
            ts = (time.perf_counter() - self._t0 if self.live else _timestamp(self._caps[0], self.read_count, self.fps))
            self.read_count += 1
            if self.layout == "sbs":
                left, right = split_sbs(_to_rgb8(raw[0]))
                frame = pair_to_frame(i, ts, left, right, self.max_size)
            else:
                left, right = (_to_rgb8(f) for f in raw)
                frame = pair_to_frame(i, ts, left, right, self.max_size)
            if not self.height:
                self.height, self.width = frame.left.shape
            yield frame
            i += 1

    def close(self) -> None:
        for cap in self._caps:
            cap.release()
        self._caps = []


# ---------------------------------------------------------------- grabber

@dataclass
class Grabbed:
    """One buffered item: what the source yielded, when it entered the buffer (perf_counter seconds), how
    long the source took to produce it (ms), and its sequence number among everything the source produced."""

    item: Any
    t_in: float
    read_ms: float
    seq: int


class FrameGrabber:
    """Reads ``source`` (any iterable) on a daemon thread into a buffer of at most ``maxsize`` items.

    policy: "latest" (default maxsize 1): a new item evicts the oldest when the buffer is full, so the
        consumer always gets the newest frame; evicted items count as dropped. For live sources.
        "queue" (default maxsize 4): the producer blocks while the buffer is full; nothing is dropped.
        "drop-new" (default maxsize 4): an item arriving at a full buffer is discarded (counted as dropped).
    ``get(timeout)`` -> Grabbed, or None at the end of the source; it re-raises the source's exception
    (after the items buffered before it) and raises TimeoutError when nothing arrives within ``timeout``.
    ``produced`` / ``delivered`` / ``dropped`` count items. ``note(...)`` lets the producer side pass
    messages (e.g. skipped frames) that ``take_notes()`` hands to the consumer; notes are never dropped.
    ``close()`` stops the thread (it may be blocked inside the source; it is a daemon and is abandoned
    after ``join_timeout``) and returns whether it stopped. Iterating a grabber yields the items.
    """

    def __init__(self, source: Iterable, policy: str = "latest", maxsize: int | None = None,
                 name: str = "dplf-grabber"):
        if policy not in DROP_POLICIES:
            raise ValueError(f"drop policy {policy!r} is unknown; choose one of {', '.join(DROP_POLICIES)}")
        if maxsize is None:
            maxsize = 1 if policy == "latest" else 4
        if maxsize < 1:
            raise ValueError(f"queue size must be >= 1, got {maxsize}")
        self.source, self.policy, self.maxsize = source, policy, int(maxsize)
        self.produced = self.delivered = self.dropped = 0
        self._buf: deque[Grabbed] = deque()
        self._notes: deque = deque()
        self._cond = threading.Condition()
        self._done = self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # producer side ---------------------------------------------------------------------------------
    def start(self) -> "FrameGrabber":
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        return self

    def _run(self) -> None:
        it = None
        try:
            it = iter(self.source)
            while True:
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    break
                if not self._put(item, (time.perf_counter() - t0) * 1e3):
                    break
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._error = exc
        finally:
            close = getattr(it, "close", None)   # a generator: run its finally (releases captures) here
            if close is not None and it is not self.source:
                try:
                    close()
                except Exception:  # noqa: BLE001 - already ending; the consumer sees the first error
                    pass
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _put(self, item, read_ms: float) -> bool:
        with self._cond:
            if self._closed:
                return False
            entry = Grabbed(item, time.perf_counter(), read_ms, self.produced)
            self.produced += 1
            if len(self._buf) >= self.maxsize:
                if self.policy == "latest":
                    self._buf.popleft()
                    self.dropped += 1
                elif self.policy == "drop-new":
                    self.dropped += 1
                    return True
                else:
                    while len(self._buf) >= self.maxsize and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return False
                    entry.t_in = time.perf_counter()
            self._buf.append(entry)
            self._cond.notify_all()
            return True

    def note(self, *payload) -> None:
        with self._cond:
            self._notes.append(payload)
            self._cond.notify_all()

    # consumer side ---------------------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> Grabbed | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._buf:
                if self._done:
                    if self._error is not None:
                        raise self._error
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no frame within {timeout:g} s")
                self._cond.wait(remaining)
            entry = self._buf.popleft()
            self.delivered += 1
            self._cond.notify_all()
            return entry

    def take_notes(self) -> list:
        with self._cond:
            notes = list(self._notes)
            self._notes.clear()
            return notes

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self, join_timeout: float = 2.0) -> bool:
        with self._cond:
            self._closed = True
            self._buf.clear()
            self._cond.notify_all()
        if self._thread.ident is not None:
            self._thread.join(join_timeout)
        return not self._thread.is_alive()

    def __iter__(self) -> Iterator:
        self.start()
        try:
            while (entry := self.get()) is not None:
                yield entry.item
        finally:
            self.close()

    def __enter__(self) -> "FrameGrabber":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

"""Frame sources for the pipeline: a .dp file, a folder (or glob) of DP pairs, an LF folder, a side-by-side
video, or a camera / network stream.

``open_source(spec)`` -> an iterable of normalised frames (architecture.md "Normalised frame"): a camera
(``engine.io.camera.CameraSource``) for an int, "camera:N", "/dev/videoN", a stream URL (rtsp://, http://, ...)
or a ``(left, right)`` pair of those; otherwise the input format the registry detects (``engine.io.formats``,
the same readers ``dplf convert`` uses, so ``dplf run`` sees exactly what it would store): its own runtime
reader where it has one (.dp: DPReader; side-by-side video: VideoSource), else a FrameSource over its
RawSequence. Every source has ``live`` (True: frames may be dropped when the consumer is slow), ``name``,
``fps`` and ``layout``.
"""
from __future__ import annotations

import os
from pathlib import Path

from engine.io import formats
from engine.io.camera import CameraSource
from engine.io.capture import parse_camera
from engine.io.dpfile import DPFrame
from engine.io.formats.files import is_glob
from engine.io.frames import Frame, FrameSource, check_selection, output_size

__all__ = ["Frame", "FrameSource", "check_selection", "open_source", "output_size"]


def open_source(path, *, max_size: int | None = None, start: int = 0, frames: int | None = None,
                skip_bad: bool = False, layout: str | None = None, timeout_s: float = 5.0):
    """Open a source of normalised frames.

    path: a .dp file, a folder or glob of DP pairs (pixel4 / dp-pairs layouts), an LF folder (hci / lytro,
        DP synthesised on the fly over the full aperture), a side-by-side video (by extension, VIDEO_EXTS),
        or a live source: an int / "camera:N" / "/dev/videoN" / stream URL, or a (left, right) pair of them.
    layout: force a file layout (``engine.io.formats.names()``; "sbs-video" or "sbs" for a video with another
        extension); for a camera, "sbs" (default) or "dp-pair".
    timeout_s: open/read timeout of cameras and streams.
    Bad input raises ValueError (or VideoSourceError, an OSError, for a camera) with one line.
    """
    if isinstance(path, (tuple, list)) or parse_camera(path) is not None:
        if start:
            raise ValueError(f"start={start} does not apply to a live source ({path!r}); drop --start")
        cam_layout = layout or ("dp-pair" if isinstance(path, (tuple, list)) else "sbs")
        return CameraSource(path, cam_layout, max_size=max_size, frames=frames, timeout_s=timeout_s)
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"cannot open {path!r} as a source; pass a path, a camera index or a stream URL")
    path = Path(path)
    if not path.exists() and not is_glob(path):
        raise ValueError(f"input {path} does not exist; pass a .dp file, a DP-pair folder, an LF folder, "
                         f"a side-by-side video or a camera (camera:N)")
    if layout == "sbs" and path.is_file():
        layout = "sbs-video"
    if layout is None:
        layout = formats.detect(path)
    fmt = formats.get(layout, path)
    common = dict(max_size=max_size, start=start, frames=frames, skip_bad=skip_bad, layout=layout)
    if fmt.frame_source is not None:
        return fmt.frame_source(path, **common)
    seq = formats.open_layout(path, layout)

    def load(i: int) -> DPFrame:
        left, right, rgb = seq.load(i)
        return DPFrame(i, seq.timestamp(i), left, right, rgb)

    return FrameSource(seq.header, load, len(seq), name=seq.name, **common)

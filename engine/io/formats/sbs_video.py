"""Layout ``sbs-video``: a side-by-side video (each frame ``[left | right]``), recognised by its extension
(``VIDEO_EXTS``). ``dplf convert`` reads it as a StreamSequence; ``dplf run`` streams it with
``engine.io.sbs_video.VideoSource`` (constant memory)."""
from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np

from engine.io import sbs_video
from engine.io.dpfile import DPHeader
from engine.io.formats.files import colour_pair_planes, is_video_path
from engine.io.formats.registry import InputFormat
from engine.io.formats.sequence import RawSequence, StreamSequence


def detect(src: Path) -> bool:
    return src.is_file() and is_video_path(src)


def open_sbs_video(src: Path, *, fps=None, black_level=None, white_level=None) -> RawSequence:
    """A side-by-side [left | right] video through ``engine.io.sbs_video.iter_sbs_video``, as a StreamSequence."""
    if not src.is_file():
        raise ValueError(f"{src}: no such video file")

    state: dict = {}

    def iterate(max_frames):
        for index, ts, left, right in sbs_video.iter_sbs_video(src, max_frames=max_frames):
            for side, a in (("left", left), ("right", right)):
                if not (isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3):
                    raise ValueError(f"{src}: frame {index}: the {side} half is not uint8 [H, W, 3]")
            if left.shape != right.shape:
                raise ValueError(f"{src}: frame {index}: left half {left.shape[1]}x{left.shape[0]} and right half "
                                 f"{right.shape[1]}x{right.shape[0]} differ")
            shape = state.setdefault("shape", left.shape)
            if left.shape != shape:
                raise ValueError(f"{src}: frame {index} is {left.shape[1]}x{left.shape[0]} per half, the first "
                                 f"frame {shape[1]}x{shape[0]}; the video changes size")
            yield (float(ts),) + colour_pair_planes(left, right)

    peek = list(islice(iterate(2), 2))
    if not peek:
        raise ValueError(f"{src}: no frames could be decoded; is it a readable side-by-side video?")
    if fps is None:
        dt = peek[1][0] - peek[0][0] if len(peek) > 1 else 0.0
        fps_, fps_from = (1.0 / dt, "timestamps") if dt > 0 else (30.0, "default")
    else:
        fps_, fps_from = float(fps), "--fps"
    h, w = peek[0][1].shape
    tags = {"source": str(src), "layout": "sbs-video", "fps_from": fps_from,
            "note": "frames split into [left | right] halves; planes = channel mean of each half "
                    "(engine.conventions.dp_gray), rgb = mean of the two halves; 8-bit display-encoded video"}
    header = DPHeader(width=w, height=h, fps=fps_, bit_depth=8,
                      black_level=0 if black_level is None else int(black_level),
                      white_level=255 if white_level is None else int(white_level), tags=tags, has_rgb=True)
    return StreamSequence("sbs-video", src.stem, header, iterate, peek[0], fixed_fps=fps is not None)


def frame_source(src: Path, *, max_size=None, start=0, frames=None, skip_bad=False, layout=None):
    """The runtime reader: VideoSource (video frames are never "bad", so skip_bad does not apply)."""
    if not src.is_file():
        raise ValueError(f"{src}: no such video file")
    return sbs_video.VideoSource(src, max_size=max_size, start=start, frames=frames)


FORMAT = InputFormat("sbs-video", detect, open_sbs_video, frame_source=frame_source)

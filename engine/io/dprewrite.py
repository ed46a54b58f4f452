"""Changing the header of an existing .dp file (its calibration, its tags) without losing a frame.

The JSON header sits before the frames and its length is part of the file layout, so it cannot be edited in
place: the frames are copied, plane for plane (lossless, timestamps kept), into a new file with the new header
under a temporary name next to the original, the copy is checked, and it is renamed over the original. A
reader sees the old file or the complete new one; on any failure the original is untouched.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.errors import one_line
from engine.io.atomic import atomic_write
from engine.io.dpformat import VERSION
from engine.io.dpreader import DPReader
from engine.io.dpwriter import DPWriter


def rewrite_header(path: str | os.PathLike, *, calibration: dict | None = None, tags: dict | None = None) -> int:
    """Replace the header's `calibration` and/or `tags` (None: keep) of the .dp file at `path`; returns the
    number of frames kept. Refuses (ValueError, one line) a file with a damaged frame or of a newer minor
    version (the copy would drop what this version cannot read); the file is then left as it was."""
    path = Path(path)
    with DPReader(path) as reader:
        h = reader.header
        if tuple(h.version) != VERSION:
            raise ValueError(f"{path} is a .dp version {h.version[0]}.{h.version[1]} file; this version writes "
                             f"{VERSION[0]}.{VERSION[1]} and would drop what it does not know; the header was not "
                             f"changed")
        count = len(reader)
        if reader.damage is not None or reader.frames_ok != count:
            bad = reader.damage if reader.frames_ok == count else f"frame {reader.frames_ok} is damaged"
            raise ValueError(f"{path} has a damaged frame ({one_line(bad, 160)}); the header was not changed "
                             f"(copy the good frames out first with dplf convert)")
    new_calibration = h.calibration if calibration is None else dict(calibration)
    new_tags = h.tags if tags is None else dict(tags)

    def copy(tmp: Path) -> None:
        with DPReader(path) as src, DPWriter(
                tmp, width=h.width, height=h.height, fps=h.fps, bit_depth=h.bit_depth, black_level=h.black_level,
                white_level=h.white_level, camera=h.camera, orientation=h.orientation, calibration=new_calibration,
                tags=new_tags, has_rgb=h.has_rgb) as dst:
            for frame in src:
                dst.write(frame.left, frame.right, frame.rgb, timestamp=frame.timestamp)
        with DPReader(tmp) as check:
            if len(check) != count or check.recovered:
                raise OSError(f"the rewritten copy of {path} holds {len(check)} of {count} frames; the header "
                              f"was not changed")
        shutil.copymode(path, tmp)

    atomic_write(path, copy)
    return count

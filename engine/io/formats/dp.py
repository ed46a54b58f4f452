"""Layout ``dp``: a .dp file (recognised by its magic bytes, whatever its name). ``dplf convert`` exports it to
PNGs (engine.io.convert); ``dplf run`` reads it with DPReader. It is not opened as a RawSequence."""
from __future__ import annotations

from pathlib import Path

from engine.io.dpfile import FILE_MAGIC, DPReader
from engine.io.formats.registry import InputFormat
from engine.io.frames import FrameSource


def is_dp_file(src: Path) -> bool:
    if not src.is_file():
        return False
    with open(src, "rb") as f:
        return f.read(len(FILE_MAGIC)) == FILE_MAGIC


def frame_source(src: Path, **selection) -> FrameSource:
    """A FrameSource over DPReader (random access; a damaged tail is reported, the frames before it read)."""
    reader = DPReader(src)
    return FrameSource(reader.header, reader.__getitem__, len(reader), name=src.stem, damage=reader.damage,
                       closer=reader.close, **selection)


FORMAT = InputFormat("dp", is_dp_file, None, frozenset(), frame_source=frame_source)

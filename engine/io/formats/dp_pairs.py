"""Layout ``dp-pairs``: ``*_left.*`` / ``*_right.*`` or ``*_L.*`` / ``*_R.*`` (Canon DPDD) files in a folder or
a glob; optional RGB ``STEM.*`` (dpMV ``image_NNN.jpg``), ``STEM_rgb.*`` or ``STEM_C.*``; a
``dp_header.json`` sidecar (written by the PNG export of a .dp) supplies the metadata."""
from __future__ import annotations

from pathlib import Path

from engine.io.formats.files import list_files, pair_files
from engine.io.formats.pairs import open_pairs
from engine.io.formats.registry import InputFormat


def detect(src: Path) -> bool:
    return bool(pair_files(list_files(src)))


def open_dp_pairs(src: Path, *, fps=None, black_level=None, white_level=None):
    return open_pairs(src, "dp-pairs", fps, black_level, white_level)


FORMAT = InputFormat("dp-pairs", detect, open_dp_pairs)

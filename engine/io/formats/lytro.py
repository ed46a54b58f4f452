"""Layout ``lytro``: Lytro light-field folder: views ``*_RR_CC.png`` (row, column from 1).
One frame, DP synthesised over ``aperture=`` x ``aperture=`` central views (default: all)."""
from __future__ import annotations

from pathlib import Path

from engine.io.formats.light_field import LF_OPTIONS, lf_layout, open_light_field
from engine.io.formats.registry import InputFormat


def detect(src: Path) -> bool:
    return lf_layout(src) == "lytro"


def open_lytro(src: Path, *, fps=None, aperture=None):
    return open_light_field(src, "lytro", fps, aperture)


FORMAT = InputFormat("lytro", detect, open_lytro, LF_OPTIONS)

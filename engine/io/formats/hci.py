"""Layout ``hci``: HCI light-field folder: views ``input_CamNNN.png`` (a K x K grid).
One frame, DP synthesised over ``aperture=`` x ``aperture=`` central views (default: all)."""
from __future__ import annotations

from pathlib import Path

from engine.io.formats.light_field import LF_OPTIONS, lf_layout, open_light_field
from engine.io.formats.registry import InputFormat


def detect(src: Path) -> bool:
    return lf_layout(src) == "hci"


def open_hci(src: Path, *, fps=None, aperture=None):
    return open_light_field(src, "hci", fps, aperture)


FORMAT = InputFormat("hci", detect, open_hci, LF_OPTIONS)

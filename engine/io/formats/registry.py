"""The input-format registry: every layout dplf reads (``dplf convert`` and ``dplf run`` alike) by name.

A format (``InputFormat``) says how to recognise its sources (``detect(path) -> bool``), how to open one
(``open(path, **options) -> RawSequence``), which converter options it takes, and optionally how the runtime
streams it (``frame_source``) when that is not a FrameSource over ``open``. Formats register themselves when
``engine.io.formats`` is imported. Detection order is data: FILE_DETECTION for a file, FOLDER_DETECTION for a
folder or a glob; the first format whose ``detect`` is true wins.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.io.formats.files import VIDEO_EXTS, list_files
from engine.io.formats.sequence import RawSequence, orient
from engine.io.orientation import parse_rotate

FILE_DETECTION = ("dp", "dp-gif", "sbs-video")
FOLDER_DETECTION = ("dpmv", "hci", "lytro", "pixel4", "dp-pairs", "dp-folders", "dp-gif")
#: converter options every image layout takes
COMMON_OPTIONS = frozenset({"fps", "black_level", "white_level", "rotate"})


@dataclass(frozen=True)
class InputFormat:
    """One input layout. ``open`` is None for layouts that are not read as a RawSequence (``dp``).
    ``explain(path)``: a one-line reason to raise when no format matched but this one nearly did."""

    name: str
    detect: Callable[[Path], bool]
    open: Callable[..., RawSequence] | None
    options: frozenset = COMMON_OPTIONS
    frame_source: Callable | None = None
    explain: Callable[[Path], str | None] | None = None


_FORMATS: dict[str, InputFormat] = {}

# Options a format does not take, refused before anything is read: (options, counts as given, message).
_REFUSALS = (
    (("view",), lambda v: v is not None,
     "{src}: --view applies to dpmv (phone A/B/C) and dp-folders (folder set) sources, not {layout}"),
    (("frame_offset",), lambda v: v is not None,
     "{src}: --frame-offset applies to dpMV capture roots (layout dpmv), not {layout}"),
    (("black_level", "white_level"), lambda v: v is not None,
     "{src}: --black-level/--white-level do not apply to a light field (synthesised planes are stored 0..65535)"),
    (("rotate",), lambda v: v not in (None, 0, "0"),
     "{src}: --rotate does not apply to a light field (its DP parallax is horizontal by construction)"),
    (("aperture",), lambda v: v is not None,
     "{src}: --aperture applies only to light-field sources (hci, lytro), not {layout}"),
)


def register(fmt: InputFormat) -> InputFormat:
    if fmt.name in _FORMATS:
        raise ValueError(f"input format {fmt.name!r} is registered twice")
    _FORMATS[fmt.name] = fmt
    return fmt


def names() -> tuple[str, ...]:
    """Registered layout names, in registration order."""
    return tuple(_FORMATS)


def get(name: str, src=None) -> InputFormat:
    """The format called NAME; ValueError naming SRC and the known layouts otherwise."""
    try:
        return _FORMATS[name]
    except (KeyError, TypeError):
        raise ValueError(f"{src}: unknown layout {name!r}; known layouts: {', '.join(names())}") from None


def unknown_layout(src, why: str) -> ValueError:
    return ValueError(f"{src}: {why}; known layouts: {', '.join(names())} (force one with --layout NAME)")


def detect(src: str | os.PathLike) -> str:
    """Layout name of SRC; ValueError with one clear line when none fits."""
    src = Path(src)
    if src.is_file():
        for name in FILE_DETECTION:
            if _FORMATS[name].detect(src):
                return name
        raise unknown_layout(src, "is a file but not a .dp file, a DP GIF or a side-by-side video "
                                  f"(.{'/.'.join(VIDEO_EXTS[:3])}...); for image pairs pass their folder or a "
                                  f"glob like DIR/*_left.png")
    if not src.is_dir() and not list_files(src):
        raise ValueError(f"{src}: no such file, folder or matching files")
    for name in FOLDER_DETECTION:
        if _FORMATS[name].detect(src):
            return name
    for fmt in _FORMATS.values():
        why = fmt.explain(src) if fmt.explain is not None else None
        if why:
            raise ValueError(why)
    raise unknown_layout(src, "found no light-field views, DP pairs (*_left.*/*_right.*, *_L.*/*_R.*), "
                              "left/right folders, dpMV dp_data/ or DP GIFs")


def open_layout(src: str | os.PathLike, layout: str | None = None, *, fps: float | None = None,
                black_level: int | None = None, white_level: int | None = None,
                aperture: int | None = None, view: str | None = None, frame_offset: int | None = None,
                rotate: int | str | None = None) -> RawSequence:
    """Open an image-sequence, GIF, video or light-field source as a RawSequence (not the .dp layout).

    ``rotate`` (formats that take it): degrees clockwise (0/90/180/270) applied before storing, ``"auto"``
    (turn 90 deg counter-clockwise when the parallax measures vertical), or None: a sidecar's ``rotate``,
    else 0 for the PNG export of a .dp (dp_header.json with "format": "dplf-dp"), else auto."""
    src = Path(src)
    layout = layout or detect(src)
    fmt = get(layout, src)
    if fmt.open is None:
        raise ValueError(f"{src}: open .dp files with engine.io.dpfile.DPReader")
    given = dict(fps=fps, black_level=black_level, white_level=white_level, aperture=aperture, view=view,
                 frame_offset=frame_offset, rotate=rotate)
    for keys, is_given, message in _REFUSALS:
        if any(k not in fmt.options and is_given(given[k]) for k in keys):
            raise ValueError(message.format(src=src, layout=layout))
    if "rotate" not in fmt.options:
        return fmt.open(src, **{k: v for k, v in given.items() if k in fmt.options})
    if rotate is not None:
        parse_rotate(rotate)  # fail before reading anything
    seq = fmt.open(src, **{k: v for k, v in given.items() if k in fmt.options and k != "rotate"})
    return orient(seq, rotate)

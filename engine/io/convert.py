"""`dplf convert SRC DST`: any input layout (engine.io.formats: DP image sequences, DP GIFs, side-by-side
videos, dpMV captures, light fields) -> .dp, and .dp -> PNGs. The user-facing description (layouts,
detection, options) is docs/dp-format.md, "Converters and the PNG export".

Layouts are detected from SRC by the input-format registry, or forced with ``layout=`` / ``--layout``; every
non-LF layout takes ``rotate=`` (0/90/180/270 clockwise, or "auto"): the stored planes must have horizontal DP
parallax; the header's ``orientation`` records how to turn them back for display. ``convert_command`` (the
typer command) is built when first asked for, so importing this module does not import typer.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from engine.errors import one_line
from engine.io import formats
from engine.io.dpfile import DPHeader, DPReader, DPWriter
from engine.io.formats import detect as detect_layout
from engine.io.formats import open_layout
from engine.io.formats.files import SIDECAR
from engine.io.orientation import parallax_axis, parallax_verdict

LAYOUTS = formats.names()
__all__ = ["LAYOUTS", "ConvertReport", "convert", "detect_layout", "open_layout", "parallax_axis",
           "parallax_verdict"]   # + convert_command, built on first access (module __getattr__)


@dataclass
class ConvertReport:
    src: Path
    dst: Path
    layout: str
    frames: int
    width: int
    height: int
    seconds: float
    bytes_written: int
    tags: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def summary(self) -> str:
        rot = self.tags.get("rotate", 0) if isinstance(self.tags, dict) and self.layout != "dp" else 0
        turned = f", planes turned {rot} deg clockwise" if rot else ""
        return (f"dplf convert: {self.frames} frame(s) {self.width}x{self.height} [{self.layout}{turned}] "
                f"{self.src} -> {self.dst} ({self.bytes_written / 1e6:.1f} MB, {self.seconds:.1f} s)")


def _export_png(src: Path, dst: Path, max_frames: int | None) -> tuple[DPHeader, int, int]:
    """.dp -> NNNNNN_left.png / _right.png / _rgb.png + dp_header.json. Writes intact frames before any damage."""
    if dst.suffix.lower() == ".dp" or (dst.exists() and not dst.is_dir()):
        raise ValueError(f"{dst}: exporting a .dp file needs an output folder as DST")
    dst.mkdir(parents=True, exist_ok=True)
    written, total = 0, 0
    with DPReader(src) as reader:
        h = reader.header
        n = len(reader) if max_frames is None else min(len(reader), max_frames)
        stamps = []
        try:
            for i in range(n):
                f = reader[i]
                for plane, arr in (("left", f.left), ("right", f.right)) + ((("rgb", f.rgb[..., ::-1]),)
                                                                            if f.rgb is not None else ()):
                    path = dst / f"{i:06d}_{plane}.png"
                    if not cv2.imwrite(str(path), np.ascontiguousarray(arr)):
                        raise OSError(f"{path}: cannot write PNG (is the folder writable and the disk not full?)")
                    total += path.stat().st_size
                stamps.append(f.timestamp)
                written += 1
            if n == len(reader) and reader.damage is not None:
                raise reader.damage
        finally:
            side = {**h.to_json(), "timestamps": stamps, "source": str(src)}
            (dst / SIDECAR).write_text(json.dumps(side, indent=1))
    return h, written, total


def convert(src: str | os.PathLike, dst: str | os.PathLike, *, layout: str | None = None,
            fps: float | None = None, black_level: int | None = None, white_level: int | None = None,
            aperture: int | None = None, max_frames: int | None = None, view: str | None = None,
            frame_offset: int | None = None, rotate: int | str | None = None) -> ConvertReport:
    """Convert SRC (any layout in LAYOUTS) into DST (.dp, or a PNG folder when SRC is a .dp file)."""
    src, dst = Path(src), Path(dst)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    t0 = time.perf_counter()
    layout = layout or detect_layout(src)
    formats.get(layout, src)   # an unknown layout fails here
    if layout == "dp":
        if any(v is not None for v in (fps, black_level, white_level, aperture, view, frame_offset, rotate)):
            raise ValueError(f"{src}: --fps/--black-level/--white-level/--aperture/--view/--frame-offset/--rotate "
                             f"do not apply to a .dp export")
        h, n, size = _export_png(src, dst, max_frames)
        return ConvertReport(src, dst, layout, n, h.width, h.height, time.perf_counter() - t0, size, h.tags)
    if dst.suffix.lower() != ".dp":
        raise ValueError(f"{dst}: DST must be a .dp file (e.g. out.dp)")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: DST is the same as SRC")
    seq = open_layout(src, layout, fps=fps, black_level=black_level, white_level=white_level, aperture=aperture,
                      view=view, frame_offset=frame_offset, rotate=rotate)
    dst.parent.mkdir(parents=True, exist_ok=True)
    h = seq.header
    written = 0
    with DPWriter(dst, width=h.width, height=h.height, fps=h.fps, bit_depth=h.bit_depth,
                  black_level=h.black_level, white_level=h.white_level, camera=h.camera,
                  orientation=h.orientation, calibration=h.calibration, tags=h.tags, has_rgb=h.has_rgb) as w:
        try:
            for _, ts, left, right, rgb in seq.frames(max_frames):
                w.write(left, right, rgb=rgb, timestamp=ts)
                written += 1
        except ValueError as e:
            if written:
                raise ValueError(f"{e} [frame {written}; the {written} frame(s) before it are in {dst}]") from None
            raise
    return ConvertReport(src, dst, layout, written, h.width, h.height, time.perf_counter() - t0,
                         dst.stat().st_size, h.tags, list(seq.warnings))


def _build_convert_command():
    import typer

    def convert_command(
        src: Path = typer.Argument(..., help="source: LF folder, DP-pair folder or glob, dpMV capture root, DP GIF(s), "
                                             "side-by-side video, or a .dp file"),
        dst: Path = typer.Argument(..., help="output .dp file (or a folder when SRC is a .dp file)"),
        layout: Optional[str] = typer.Option(None, "--layout", help=f"force the layout: {' | '.join(LAYOUTS)}"),
        fps: Optional[float] = typer.Option(None, "--fps", help="frame rate when the source does not say (default 30)"),
        black_level: Optional[int] = typer.Option(None, "--black-level", help="sensor black level (pixel4: 1024)"),
        white_level: Optional[int] = typer.Option(None, "--white-level", help="sensor white level (pixel4: 16383)"),
        aperture: Optional[int] = typer.Option(None, "--aperture", help="LF sources: the central AxA views (default "
                                               "K, full aperture; phone-like: 3 for odd K, 4 for even K)"),
        max_frames: Optional[int] = typer.Option(None, "--max-frames", help="convert at most this many frames"),
        view: Optional[str] = typer.Option(None, "--view", help="dpmv: phone A | B | C (default B); dp-folders: the "
                                           "folder set (e.g. test for test_l/test_r) when there are several"),
        frame_offset: Optional[int] = typer.Option(None, "--frame-offset", help="dpmv: frames to skip at the start "
                                                   "of this phone's sequence (overrides frame_offsets.json)"),
        rotate: Optional[str] = typer.Option(None, "--rotate", help="turn the DP planes 0 | 90 | 180 | 270 degrees "
                                             "clockwise before storing, or auto (default: a sidecar's rotate, else "
                                             "auto: 270 when the parallax measures vertical)"),
    ) -> None:
        """Convert DP image sequences, DP GIFs, side-by-side videos or a light-field folder to .dp, or a .dp file
        to PNGs (see docs/dp-format.md)."""
        try:
            report = convert(src, dst, layout=layout, fps=fps, black_level=black_level, white_level=white_level,
                             aperture=aperture, max_frames=max_frames, view=view, frame_offset=frame_offset,
                             rotate=rotate)
        except (ValueError, OSError) as e:
            typer.echo(f"dplf convert: error: {one_line(e)}", err=True)
            raise typer.Exit(2)
        for warning in report.warnings:
            typer.echo(f"dplf convert: warning: {warning}", err=True)
        typer.echo(report.summary())

    return convert_command


def __getattr__(name: str):
    if name == "convert_command":
        fn = _build_convert_command()
        globals()["convert_command"] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""`dplf convert SRC DST`: DP image sequences and light fields -> .dp, and .dp -> PNGs (SPEC §3).

Layouts (detected from SRC, or forced with ``layout=``):
  hci       HCI LF folder ``input_CamNNN.png``      -> one frame, DP synthesised (SPEC §2)
  lytro     Lytro LF folder ``*_RR_CC.png``          -> one frame, DP synthesised
  pixel4    ``NNN_left.png``/``NNN_right.png`` 16-bit (Google Pixel 4 / PdCapture; black 1024, white 16383)
  dp-pairs  ``*_left.*``/``*_right.*`` or ``*_L.*``/``*_R.*`` (Canon DPDD); optional RGB ``STEM.*`` (dpMV
            ``image_NNN.jpg``), ``STEM_rgb.*`` or ``STEM_C.*``; a ``dp_header.json`` sidecar (written by the
            PNG export) supplies the metadata
  dp        a .dp file -> folder of ``NNNNNN_left.png``/``_right.png``/``_rgb.png`` + ``dp_header.json``
The layout readers (``open_layout``) are shared with ``engine.io.sources``.
"""
from __future__ import annotations

import glob
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np
import typer

from engine.conventions import half_aperture_centroid
from engine.io.dpfile import FILE_MAGIC, DPHeader, DPReader, DPWriter
from engine.io.lightfield import central_slice, lf_view_files, read_rgb, synthesize_dp

LAYOUTS = ("hci", "lytro", "pixel4", "dp-pairs", "dp")
SIDECAR = "dp_header.json"
IMAGE_EXTS = ("png", "jpg", "jpeg", "tif", "tiff", "bmp")
_EXT = "|".join(IMAGE_EXTS)
_PAIR_NAMES = (re.compile(rf"^(?P<stem>.+)_(?P<side>left|right)\.(?P<ext>{_EXT})$", re.IGNORECASE),
               re.compile(rf"^(?P<stem>.+)_(?P<side>L|R)\.(?P<ext>{_EXT})$"))
_RGB_SUFFIXES = ("", "_rgb", "_C", "_center")
PIXEL4_BLACK, PIXEL4_WHITE = 1024, 16383


def _unknown_layout(src, why: str) -> ValueError:
    return ValueError(f"{src}: {why}; known layouts: {', '.join(LAYOUTS)} (force one with --layout NAME)")


@dataclass
class RawSequence:
    """A source's frames in stored form (left/right uint16|uint8 [H, W], rgb uint8 [H, W, 3] or None)
    plus the metadata a .dp header needs. ``load(i)`` reads frame i; ``header`` describes it."""

    layout: str
    name: str
    header: DPHeader
    loaders: list[Callable[[], tuple]]
    timestamps: list[float] | None = None

    def __len__(self) -> int:
        return len(self.loaders)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self.loaders[i]()

    def timestamp(self, i: int) -> float:
        return self.timestamps[i] if self.timestamps else i / self.header.fps


# ---------------------------------------------------------------- detection

def _natural_key(s: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def _list_files(src: Path) -> list[Path]:
    if src.is_dir():
        return sorted((p for p in src.iterdir() if p.is_file()), key=lambda p: _natural_key(p.name))
    if any(ch in str(src) for ch in "*?["):
        return _glob_files(str(src))
    return []


def _glob_files(pattern: str) -> list[Path]:
    """Files matching a glob, plus their pair partners / RGB / sidecar in the same folders
    (so ``dir/*_left.png`` selects whole pairs)."""
    matches = {Path(p) for p in glob.glob(pattern) if Path(p).is_file()}
    stems = {m["stem"] for p in matches for pat in _PAIR_NAMES if (m := pat.match(p.name))}
    out = set(matches)
    for folder in {p.parent for p in matches}:
        for p in folder.iterdir():
            if p.is_file() and (p.name == SIDECAR or any(p.name.startswith((s + "_", s + ".")) for s in stems)):
                out.add(p)
    return sorted(out, key=lambda p: _natural_key(p.name))


def _is_dp_file(src: Path) -> bool:
    if not src.is_file():
        return False
    with open(src, "rb") as f:
        return f.read(len(FILE_MAGIC)) == FILE_MAGIC


def _pairs(files: list[Path]) -> list[dict]:
    """Group DP pair files by stem: [{stem, left, right, rgb}] in natural order."""
    by_name = {p.name: p for p in files}
    groups: dict[str, dict] = {}
    for p in files:
        for pattern in _PAIR_NAMES:
            m = pattern.match(p.name)
            if m:
                side = "left" if m["side"].lower() in ("left", "l") else "right"
                groups.setdefault(m["stem"], {"stem": m["stem"]})[side] = p
                break
    out = []
    for stem in sorted(groups, key=_natural_key):
        g = groups[stem]
        if "left" not in g or "right" not in g:
            have = g.get("left") or g.get("right")
            raise ValueError(f"{have}: DP pair is incomplete (no matching {'right' if 'left' in g else 'left'} "
                             f"image for stem {stem!r})")
        g["rgb"] = next((by_name[f"{stem}{suf}.{ext}"] for suf in _RGB_SUFFIXES for ext in IMAGE_EXTS
                         if f"{stem}{suf}.{ext}" in by_name), None)
        out.append(g)
    return out


def detect_layout(src: str | os.PathLike) -> str:
    """Layout name of SRC (one of LAYOUTS); ValueError with one clear line when none fits."""
    src = Path(src)
    if src.is_file():
        if _is_dp_file(src):
            return "dp"
        raise _unknown_layout(src, "is a file but not a .dp file")
    if src.is_dir():
        found = lf_view_files(src)
        if found is not None:
            return found[0]
    files = _list_files(src)
    if not files and not src.is_dir():
        raise ValueError(f"{src}: no such file, folder or matching files")
    pairs = _pairs(files)
    if not pairs:
        raise _unknown_layout(src, "found no light-field views and no DP pairs (*_left.*/*_right.*, *_L.*/*_R.*)")
    first = pairs[0]["left"]
    if (not any(p.name == SIDECAR for p in files) and all(g["stem"].isdigit() for g in pairs)
            and first.suffix.lower() == ".png" and _read_plane(first).dtype == np.uint16):
        return "pixel4"
    return "dp-pairs"


# ---------------------------------------------------------------- readers

def _read_plane(path: Path) -> np.ndarray:
    """A DP plane as stored: [H, W] uint8 or uint16 (a colour image becomes its channel mean)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path}: cannot decode image")
    if img.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: {img.dtype} images are not supported; DP planes must be 8- or 16-bit")
    if img.ndim == 3:
        img = img[..., :3]
        img = img[..., 0] if (img == img[..., :1]).all() else np.rint(img.mean(axis=-1)).astype(img.dtype)
    return img


def _pair_loader(g: dict, shape: tuple, dtype: np.dtype, with_rgb: bool):
    def load():
        left, right = _read_plane(g["left"]), _read_plane(g["right"])
        for p, a in ((g["left"], left), (g["right"], right)):
            if a.shape != shape or a.dtype != dtype:
                raise ValueError(f"{p}: {a.shape[1]}x{a.shape[0]} {a.dtype} differs from the first frame "
                                 f"({shape[1]}x{shape[0]} {dtype}); all frames must match")
        rgb = None
        if with_rgb:
            rgb = read_rgb(g["rgb"])
            if rgb.shape[:2] != shape:
                raise ValueError(f"{g['rgb']}: RGB size {rgb.shape[1]}x{rgb.shape[0]} differs from the DP "
                                 f"planes ({shape[1]}x{shape[0]})")
        return left, right, rgb
    return load


def _open_pairs(src: Path, layout: str, fps, black_level, white_level) -> RawSequence:
    files = _list_files(src)
    pairs = _pairs(files)
    if not pairs:
        raise ValueError(f"{src}: no DP pairs found (*_left.*/*_right.*, *_L.*/*_R.*) for layout {layout}")
    first = _read_plane(pairs[0]["left"])
    shape, dtype = first.shape, first.dtype
    bit_depth = 16 if dtype == np.uint16 else 8
    with_rgb = [g["rgb"] is not None for g in pairs]
    if any(with_rgb) and not all(with_rgb):
        missing = next(g for g in pairs if g["rgb"] is None)
        raise ValueError(f"{src}: RGB images exist for some frames but not for {missing['stem']!r}")
    sidecar = {}
    side_path = next((p for p in files if p.name == SIDECAR), None)
    if side_path is not None:
        try:
            sidecar = json.loads(side_path.read_text())
        except ValueError as e:
            raise ValueError(f"{side_path}: invalid JSON ({e})") from e
    if layout == "pixel4":
        defaults = dict(black_level=PIXEL4_BLACK, white_level=PIXEL4_WHITE, camera="Google Pixel 4")
    else:
        defaults = dict(black_level=0, white_level=(1 << bit_depth) - 1, camera="")
    meta = {**defaults, **{k: sidecar[k] for k in ("black_level", "white_level", "camera", "fps", "orientation",
                                                   "calibration") if k in sidecar}}
    for key, value in (("fps", fps), ("black_level", black_level), ("white_level", white_level)):
        if value is not None:
            meta[key] = value
    # A sidecar (PNG export of a .dp) keeps the data's original source/layout tags.
    tags = {"source": str(src), "layout": layout, **sidecar.get("tags", {})}
    header = DPHeader(width=shape[1], height=shape[0], fps=float(meta.get("fps", 30.0)), bit_depth=bit_depth,
                      black_level=int(meta["black_level"]), white_level=int(meta["white_level"]),
                      orientation=int(meta.get("orientation", 0)), camera=str(meta["camera"]),
                      calibration=meta.get("calibration"), tags=tags, has_rgb=all(with_rgb))
    stamps = sidecar.get("timestamps")
    stamps = stamps if isinstance(stamps, list) and len(stamps) == len(pairs) and fps is None else None
    name = src.name if src.is_dir() else src.parent.name
    return RawSequence(layout, name, header, [_pair_loader(g, shape, dtype, header.has_rgb) for g in pairs], stamps)


def quantise_dp(left: np.ndarray, right: np.ndarray, rgb: np.ndarray):
    """float [0, 1] planes -> (uint16 round(x * 65535), uint16, uint8 round(rgb * 255))."""
    def q(x, top, dtype):
        return np.rint(np.clip(x, 0.0, 1.0) * top).astype(dtype)
    return q(left, 65535, np.uint16), q(right, 65535, np.uint16), q(rgb, 255, np.uint8)


def _open_light_field(src: Path, layout: str, fps, aperture) -> RawSequence:
    from engine.io.lightfield import load_light_field

    found = lf_view_files(src) if src.is_dir() else None
    if found is None or found[0] != layout:
        raise ValueError(f"{src}: no {layout} light-field views found "
                         f"({'input_CamNNN.png' if layout == 'hci' else '*_RR_CC.png'})")
    k = len(found[1])
    a = k if aperture is None else int(aperture)
    central_slice(k, a)  # validates the aperture before any heavy work
    first = read_rgb(found[1][0][0])
    cbar = half_aperture_centroid(a)
    tags = {"source": str(src), "layout": layout, "aperture": a, "grid": k, "cbar": round(cbar, 6),
            "protocol": "full" if a == k else f"{a}x{a} central views",
            "view_u": f"GT view column offset k (from the centre) sits at u = k / (2 cbar) = k * {1 / (2 * cbar):.6f}",
            "dp_synthesis": "SPEC 2: left/right = half-aperture column means of the channel-mean views, rgb = mean"}
    header = DPHeader(width=first.shape[1], height=first.shape[0], fps=float(fps or 30.0), bit_depth=16,
                      black_level=0, white_level=65535, camera=f"{layout} light field (synthetic DP)",
                      tags=tags, has_rgb=True)

    def load():
        lf = load_light_field(src, grid=k)
        return quantise_dp(*synthesize_dp(lf.views, a))

    return RawSequence(layout, src.name, header, [load])


def open_layout(src: str | os.PathLike, layout: str | None = None, *, fps: float | None = None,
                black_level: int | None = None, white_level: int | None = None,
                aperture: int | None = None) -> RawSequence:
    """Open an image-sequence or light-field source as a RawSequence (not the .dp layout)."""
    src = Path(src)
    layout = layout or detect_layout(src)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    if layout == "dp":
        raise ValueError(f"{src}: open .dp files with engine.io.dpfile.DPReader")
    if layout in ("hci", "lytro"):
        if black_level is not None or white_level is not None:
            raise ValueError(f"{src}: --black-level/--white-level do not apply to a light field "
                             f"(synthesised planes are stored 0..65535)")
        return _open_light_field(src, layout, fps, aperture)
    if aperture is not None:
        raise ValueError(f"{src}: --aperture applies only to light-field sources (hci, lytro), not {layout}")
    return _open_pairs(src, layout, fps, black_level, white_level)


# ---------------------------------------------------------------- convert

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

    def summary(self) -> str:
        return (f"dplf convert: {self.frames} frame(s) {self.width}x{self.height} [{self.layout}] "
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
            aperture: int | None = None, max_frames: int | None = None) -> ConvertReport:
    """Convert SRC (any layout in LAYOUTS) into DST (.dp, or a PNG folder when SRC is a .dp file)."""
    src, dst = Path(src), Path(dst)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    t0 = time.perf_counter()
    layout = layout or detect_layout(src)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    if layout == "dp":
        if any(v is not None for v in (fps, black_level, white_level, aperture)):
            raise ValueError(f"{src}: --fps/--black-level/--white-level/--aperture do not apply to a .dp export")
        h, n, size = _export_png(src, dst, max_frames)
        return ConvertReport(src, dst, layout, n, h.width, h.height, time.perf_counter() - t0, size, h.tags)
    seq = open_layout(src, layout, fps=fps, black_level=black_level, white_level=white_level, aperture=aperture)
    if dst.suffix.lower() != ".dp":
        raise ValueError(f"{dst}: DST must be a .dp file (e.g. out.dp)")
    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: DST is the same as SRC")
    dst.parent.mkdir(parents=True, exist_ok=True)
    h = seq.header
    n = len(seq) if max_frames is None else min(len(seq), max_frames)
    with DPWriter(dst, width=h.width, height=h.height, fps=h.fps, bit_depth=h.bit_depth,
                  black_level=h.black_level, white_level=h.white_level, camera=h.camera,
                  orientation=h.orientation, calibration=h.calibration, tags=h.tags, has_rgb=h.has_rgb) as w:
        for i in range(n):
            left, right, rgb = seq.load(i)
            w.write(left, right, rgb=rgb, timestamp=seq.timestamp(i))
    return ConvertReport(src, dst, layout, n, h.width, h.height, time.perf_counter() - t0,
                         dst.stat().st_size, h.tags)


def convert_command(
    src: Path = typer.Argument(..., help="source: LF folder, DP-pair folder or glob, or a .dp file"),
    dst: Path = typer.Argument(..., help="output .dp file (or a folder when SRC is a .dp file)"),
    layout: Optional[str] = typer.Option(None, "--layout", help=f"force the layout: {' | '.join(LAYOUTS)}"),
    fps: Optional[float] = typer.Option(None, "--fps", help="frame rate when the source does not say (default 30)"),
    black_level: Optional[int] = typer.Option(None, "--black-level", help="sensor black level (pixel4: 1024)"),
    white_level: Optional[int] = typer.Option(None, "--white-level", help="sensor white level (pixel4: 16383)"),
    aperture: Optional[int] = typer.Option(None, "--aperture", help="LF sources: the central AxA views (default "
                                           "K, full aperture; phone-like: 3 for odd K, 4 for even K)"),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="convert at most this many frames"),
) -> None:
    """Convert DP image sequences or a light-field folder to .dp, or a .dp file to PNGs (SPEC §3)."""
    try:
        report = convert(src, dst, layout=layout, fps=fps, black_level=black_level, white_level=white_level,
                         aperture=aperture, max_frames=max_frames)
    except (ValueError, OSError) as e:
        typer.echo(f"dplf convert: error: {e}", err=True)
        raise typer.Exit(2)
    typer.echo(report.summary())

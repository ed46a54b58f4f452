"""Reading DP image pairs (``{stem, left, right, rgb}`` file groups) into a RawSequence: the shared reader of
the pixel4, dp-pairs, dp-folders and dpmv layouts (metadata from a dp_header.json sidecar, layout defaults and
the converter's options)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.io.dpfile import DPHeader
from engine.io.formats.files import (SIDECAR, check_sizes, list_files, pair_files, read_frame_rgb, read_plane,
                                     read_sidecar)
from engine.io.formats.sequence import RawSequence
from engine.io.orientation import parse_rotate


def pair_loader(g: dict, shape: tuple, dtype: np.dtype, with_rgb: bool):
    def load():
        left, right = read_plane(g["left"]), read_plane(g["right"])
        if left.shape != right.shape or left.dtype != right.dtype:
            raise ValueError(f"{g['right']}: {right.shape[1]}x{right.shape[0]} {right.dtype} does not match its "
                             f"left image {g['left'].name} ({left.shape[1]}x{left.shape[0]} {left.dtype}); "
                             f"both halves of a DP pair must have the same size and bit depth")
        for p, a in ((g["left"], left), (g["right"], right)):
            if a.shape != shape or a.dtype != dtype:
                raise ValueError(f"{p}: {a.shape[1]}x{a.shape[0]} {a.dtype} differs from the first frame "
                                 f"({shape[1]}x{shape[0]} {dtype}); all frames must match")
        rgb = None
        if with_rgb:
            rgb = read_frame_rgb(g["rgb"])
            if rgb.shape[:2] != shape:
                raise ValueError(f"{g['rgb']}: RGB size {rgb.shape[1]}x{rgb.shape[0]} differs from the DP "
                                 f"planes ({shape[1]}x{shape[0]})")
        return left, right, rgb
    return load


def open_pairs(src: Path, layout: str, fps, black_level, white_level, *, pairs: list[dict] | None = None,
               sidecar_path: Path | None = None, name: str | None = None, defaults=None) -> RawSequence:
    """A RawSequence over DP pairs ({stem, left, right, rgb}); by default those of the files of SRC.

    ``defaults(first_left_path, bit_depth) -> {black_level, white_level, camera}``: the layout's metadata
    where neither the sidecar nor the options say (default: 0 .. 2^bits - 1, no camera name); it may refuse
    the bit depth with a ValueError."""
    files = list_files(src) if pairs is None else []
    if pairs is None:
        pairs = pair_files(files)
        sidecar_path = next((p for p in files if p.name == SIDECAR), None)
    if not pairs:
        raise ValueError(f"{src}: no DP pairs found (*_left.*/*_right.*, *_L.*/*_R.*) for layout {layout}")
    check_sizes([p for g in pairs for p in (g["left"], g["right"])])
    first = read_plane(pairs[0]["left"])
    shape, dtype = first.shape, first.dtype
    bit_depth = 16 if dtype == np.uint16 else 8
    if defaults is not None:
        defaults = defaults(pairs[0]["left"], bit_depth)
    else:
        defaults = dict(black_level=0, white_level=(1 << bit_depth) - 1, camera="")
    with_rgb = [g["rgb"] is not None for g in pairs]
    if any(with_rgb) and not all(with_rgb):
        missing = next(g for g in pairs if g["rgb"] is None)
        have = next(g for g in pairs if g["rgb"] is not None)
        raise ValueError(f"{src}: RGB images exist for some frames ({have['rgb'].name}) but not for "
                         f"{missing['stem']!r}; add the missing ones or remove them all")
    sidecar = read_sidecar(sidecar_path)
    meta = {**defaults, **{k: sidecar[k] for k in ("black_level", "white_level", "camera", "fps", "orientation",
                                                   "calibration") if k in sidecar}}
    for key, value in (("fps", fps), ("black_level", black_level), ("white_level", white_level)):
        if value is not None:
            meta[key] = value
    # A sidecar (PNG export of a .dp) keeps the data's original source/layout tags.
    tags = {"source": str(src), "layout": layout, **sidecar.get("tags", {})}
    try:
        header = DPHeader(width=shape[1], height=shape[0], fps=float(meta.get("fps", 30.0)), bit_depth=bit_depth,
                          black_level=int(meta["black_level"]), white_level=int(meta["white_level"]),
                          orientation=int(meta.get("orientation", 0)), camera=str(meta["camera"]),
                          calibration=meta.get("calibration"), tags=tags, has_rgb=all(with_rgb))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{sidecar_path or src}: bad metadata value ({e})") from None
    stamps = sidecar.get("timestamps")
    stamps = stamps if isinstance(stamps, list) and len(stamps) == len(pairs) and fps is None else None
    name = name or (src.name if src.is_dir() else src.parent.name)
    seq = RawSequence(layout, name, header, [pair_loader(g, shape, dtype, header.has_rgb) for g in pairs],
                      stamps, [g["stem"] for g in pairs])
    seq.pairs = pairs
    seq.exported = sidecar.get("format") == "dplf-dp"
    seq.sidecar_rotate = sidecar.get("rotate")
    if seq.sidecar_rotate is not None:
        seq.sidecar_rotate = parse_rotate(seq.sidecar_rotate, f"{sidecar_path}: \"rotate\"")
    return seq

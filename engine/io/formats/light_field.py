"""The reader shared by the light-field layouts (hci, lytro): one frame whose DP pair is synthesised from the
central A x A views (docs/dp-format.md, "Converters"; engine.io.lightfield.synthesize_dp)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.conventions import half_aperture_centroid
from engine.io.dpfile import DPHeader
from engine.io.formats.sequence import RawSequence
from engine.io.lightfield import central_slice, lf_view_files, load_light_field, read_rgb, synthesize_dp

LF_OPTIONS = frozenset({"fps", "aperture"})


def lf_layout(src: Path) -> str | None:
    """"hci" or "lytro" when SRC is a folder of that light field's views, else None."""
    found = lf_view_files(src) if src.is_dir() else None
    return None if found is None else found[0]


def quantise_dp(left: np.ndarray, right: np.ndarray, rgb: np.ndarray):
    """float [0, 1] planes -> (uint16 round(x * 65535), uint16, uint8 round(rgb * 255))."""
    def q(x, top, dtype):
        return np.rint(np.clip(x, 0.0, 1.0) * top).astype(dtype)
    return q(left, 65535, np.uint16), q(right, 65535, np.uint16), q(rgb, 255, np.uint8)


def open_light_field(src: Path, layout: str, fps=None, aperture=None) -> RawSequence:
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
            "dp_synthesis": "left/right = half-aperture column means of the channel-mean views, rgb = mean"}
    header = DPHeader(width=first.shape[1], height=first.shape[0], fps=float(fps or 30.0), bit_depth=16,
                      black_level=0, white_level=65535, camera=f"{layout} light field (synthetic DP)",
                      tags=tags, has_rgb=True)

    def load():
        lf = load_light_field(src, grid=k)
        return quantise_dp(*synthesize_dp(lf.views, a))

    return RawSequence(layout, src.name, header, [load])

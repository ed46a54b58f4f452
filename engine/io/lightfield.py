"""4D light-field folders (HCI, Lytro) and DP synthesis from a light field (docs/dp-format.md, "Converters").

HCI: ``input_CamNNN.png``, index = K*row + col (row top to bottom). Lytro: ``*_RR_CC.png`` with 1-based
row/col (``IMG_0001_NNN_RR_CC.png``: NNN is a serpentine counter and is ignored).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.conventions import dp_gray, half_aperture_weights

HCI_NAME = re.compile(r"^input_Cam(\d+)\.png$", re.IGNORECASE)
LYTRO_NAME = re.compile(r"^.*_(\d+)_(\d+)\.png$", re.IGNORECASE)


@dataclass
class LightField:
    """views: uint8 [K, K, H, W, 3] RGB (row v, column u); layout: 'hci' | 'lytro'; name: folder name."""

    views: np.ndarray
    layout: str
    name: str
    transposed: bool = False  # the folder's row index ran along horizontal parallax; views were transposed

    @property
    def grid(self) -> int:
        return int(self.views.shape[0])


def lf_view_files(folder: str | os.PathLike, grid: int | None = None) -> tuple[str, list[list[Path]]] | None:
    """Detect an LF folder. Returns (layout, K x K paths [row][col]) or None if no LF naming matches."""
    folder = Path(folder)
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    hci = {int(m.group(1)): n for n in names if (m := HCI_NAME.match(n))}
    if hci:
        k = grid or math.isqrt(len(hci))
        if k * k != len(hci) or set(hci) != set(range(k * k)):
            raise ValueError(f"{folder}: {len(hci)} HCI views (input_CamNNN.png) do not form a complete "
                             f"{k}x{k} grid numbered 000..{k * k - 1:03d}")
        return "hci", [[folder / hci[k * r + c] for c in range(k)] for r in range(k)]
    lytro = {(int(m.group(1)), int(m.group(2))): n for n in names if (m := LYTRO_NAME.match(n))}
    if lytro:
        k = grid or max(max(rc) for rc in lytro)
        missing = [(r, c) for r in range(1, k + 1) for c in range(1, k + 1) if (r, c) not in lytro]
        if missing:
            raise ValueError(f"{folder}: Lytro views *_RR_CC.png do not form a complete {k}x{k} grid "
                             f"(missing row/col {missing[0]} and {len(missing) - 1} more)")
        return "lytro", [[folder / lytro[(r, c)] for c in range(1, k + 1)] for r in range(1, k + 1)]
    return None


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 RGB [H, W, 3] (16-bit files are reduced to 8 bits by OpenCV)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: cannot decode image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def load_light_field(folder: str | os.PathLike, grid: int | None = None) -> LightField:
    """Load an HCI or Lytro LF folder. ``grid`` forces K (default: inferred). Returns uint8 [K, K, H, W, 3]."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder; expected an HCI (input_CamNNN.png) or Lytro (*_RR_CC.png) LF")
    found = lf_view_files(folder, grid)
    if found is None:
        raise ValueError(f"{folder}: no light-field views found (expected input_CamNNN.png or *_RR_CC.png)")
    layout, paths = found
    k = len(paths)
    first = read_rgb(paths[0][0])
    views = np.empty((k, k) + first.shape, dtype=np.uint8)
    for r in range(k):
        for c in range(k):
            img = first if r == c == 0 else read_rgb(paths[r][c])
            if img.shape != first.shape:
                raise ValueError(f"{paths[r][c]}: size {img.shape[:2]} differs from the first view {first.shape[:2]}")
            views[r, c] = img
    transposed = parallax_is_transposed(views)
    if transposed:
        views = np.ascontiguousarray(views.transpose(1, 0, 2, 3, 4))
    return LightField(views=views, layout=layout, name=folder.name, transposed=transposed)


def parallax_is_transposed(views: np.ndarray, min_shift: float = 0.3) -> bool:
    """True when moving along the grid's columns shifts the image vertically and along its rows horizontally.

    Some datasets (Lytro-1 IMG_0001 in ../shared/data) name views RR_CC with RR the horizontal aperture index;
    DP synthesis needs columns = horizontal parallax (the DP convention), so the loader measures it (phase correlation
    of the outermost views of the middle row and column) instead of trusting the names.  views [K,K,H,W,3].
    """
    k = views.shape[0]
    if k < 3:
        return False
    m, a, b = k // 2, 1 if k > 4 else 0, k - 2 if k > 4 else k - 1
    gray = lambda v: v.astype(np.float32).mean(-1)  # noqa: E731
    (cx, cy), _ = cv2.phaseCorrelate(gray(views[m, a]), gray(views[m, b]))   # along columns
    (rx, ry), _ = cv2.phaseCorrelate(gray(views[a, m]), gray(views[b, m]))   # along rows
    return abs(cy) > max(abs(cx), min_shift) and abs(rx) > max(abs(ry), min_shift)


def central_slice(grid: int, aperture: int) -> slice:
    """Indices of the central ``aperture`` views of a ``grid``-wide LF axis."""
    if not 2 <= aperture <= grid:
        raise ValueError(f"aperture must be between 2 and the grid size {grid}, got {aperture}")
    if (grid - aperture) % 2:
        raise ValueError(f"aperture {aperture} cannot be centred in a {grid}x{grid} grid; use an "
                         f"{'odd' if grid % 2 else 'even'} aperture")
    lo = (grid - aperture) // 2
    return slice(lo, lo + aperture)


def synthesize_dp(views: np.ndarray, aperture: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DP pair + full-aperture RGB from a light field, over the central A x A views.

    views: [K, K, H, W, 3] float in [0, 1] (uint8 is scaled by 1/255). aperture: A (default K).
    Returns left [H, W], right [H, W], rgb [H, W, 3], float32. left = weighted mean over the columns of the
    left half-aperture (``half_aperture_weights``), right = its mirror, rgb = mean of the A x A views.
    """
    views = np.asarray(views)
    if views.ndim != 5 or views.shape[0] != views.shape[1] or views.shape[-1] != 3:
        raise ValueError(f"synthesize_dp: views must be [K, K, H, W, 3], got shape {views.shape}")
    k = views.shape[0]
    a = k if aperture is None else int(aperture)
    sl = central_slice(k, a)
    scale = 1.0 / 255.0 if views.dtype == np.uint8 else 1.0
    # Column sums over the aperture rows, accumulated view by view (no K x K float copy).
    cols = np.zeros((a,) + views.shape[2:], dtype=np.float32)
    for r in range(sl.start, sl.stop):
        for j, c in enumerate(range(sl.start, sl.stop)):
            cols[j] += views[r, c]
    w = half_aperture_weights(a).astype(np.float32)
    norm = np.float32(scale / (a * w.sum()))
    left_rgb = np.tensordot(w, cols, axes=1) * norm
    right_rgb = np.tensordot(w[::-1].copy(), cols, axes=1) * norm
    rgb = cols.sum(axis=0) * np.float32(scale / (a * a))
    return (dp_gray(left_rgb).astype(np.float32), dp_gray(right_rgb).astype(np.float32), rgb.astype(np.float32))

"""Compiled CPU `deblur` (numba): the same float64 summed-area-table box blur and Richardson-Lucy steps as the
numpy reference in kernels/deblur.py, rows spread over the threads with `prange`; agrees with it to float64
rounding (tests/kernels/test_deblur.py). `fastmath` off; compiled with `cache=True` (see kernels/dibr_numba.py)."""
from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

_CACHE = __name__ == "kernels.deblur_numba"
_LAUNCH = threading.Lock()   # numba's workqueue threading layer aborts on concurrent launches from 2 threads


@njit(cache=_CACHE, parallel=True)
def _table(image, table):
    """table [H+1, W+1, C] float64 = summed-area table of image [H, W, C] (row prefix sums, then column sums)."""
    h, w, c = image.shape
    for y in prange(h):
        for k in range(c):
            acc = 0.0
            table[y + 1, 0, k] = 0.0
            for x in range(w):
                acc += image[y, x, k]
                table[y + 1, x + 1, k] = acc
    for x in prange(w + 1):
        for k in range(c):
            table[0, x, k] = 0.0
            acc = 0.0
            for y in range(1, h + 1):
                acc += table[y, x, k]
                table[y, x, k] = acc


@njit(cache=_CACHE, inline="always")
def _add_at(table, y, x, sign, acc):
    """acc[k] += sign * bilinear read of table at real (y, x) for every channel k (the reference's _table_at,
    same operation order); the cell and weights are found once for all channels."""
    hh = table.shape[0] - 1
    ww = table.shape[1] - 1
    iy = min(np.int64(np.floor(y)), hh - 1)
    ix = min(np.int64(np.floor(x)), ww - 1)
    ty = y - iy
    tx = x - ix
    for k in range(acc.shape[0]):
        a = table[iy, ix, k]
        b = table[iy, ix + 1, k]
        c = table[iy + 1, ix, k]
        d = table[iy + 1, ix + 1, k]
        top = a + tx * (b - a)
        acc[k] += sign * (top + ty * ((c + tx * (d - c)) - top))


@njit(cache=_CACHE, parallel=True)
def _blur(table, half_x, half_y, out):
    """out [H, W, C] = mean over each pixel's box of half-widths half_x, half_y [H, W] (pixel-edge coordinates,
    clamped)."""
    h, w, c = out.shape
    for y in prange(h):
        acc = np.empty(c, np.float64)
        for x in range(w):
            rx = half_x[y, x]
            ry = half_y[y, x]
            y0 = min(max(y - ry, 0.0), float(h))
            y1 = min(max(y + 1 + ry, 0.0), float(h))
            x0 = min(max(x - rx, 0.0), float(w))
            x1 = min(max(x + 1 + rx, 0.0), float(w))
            area = (y1 - y0) * (x1 - x0)
            acc[:] = 0.0
            _add_at(table, y1, x1, 1.0, acc)
            _add_at(table, y0, x1, -1.0, acc)
            _add_at(table, y1, x0, -1.0, acc)
            _add_at(table, y0, x0, 1.0, acc)
            for k in range(c):
                out[y, x, k] = acc[k] / area


def deblur(rgb: np.ndarray, disparity: np.ndarray, iterations: int, radius: tuple[float, float], out: np.ndarray,
           eps: float = 1e-3) -> np.ndarray:
    """Validated float32 rgb [H, W, C], disparity [H, W] and (R_x, R_y) -> out float32 [H, W, C]
    (see kernels/deblur.py)."""
    h, w, c = rgb.shape
    mag = np.abs(disparity.astype(np.float64))
    half_x, half_y = radius[0] * mag, radius[1] * mag
    b = rgb.astype(np.float64)
    x = b.copy()
    table = np.empty((h + 1, w + 1, c), np.float64)
    blurred, ratio = np.empty_like(b), np.empty_like(b)
    with _LAUNCH:
        for _ in range(iterations):   # the element-wise steps in numpy: the same operations as the reference
            _table(x, table)
            _blur(table, half_x, half_y, blurred)
            np.divide(b, np.maximum(blurred, eps, out=blurred), out=ratio)
            _table(ratio, table)
            _blur(table, half_x, half_y, blurred)
            x *= blurred
    np.copyto(out, np.clip(x, 0.0, 1.0, out=x))
    return out


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every function once."""
    deblur(np.zeros((3, 4, 3), np.float32), np.zeros((3, 4), np.float32), 1, (0.9, 0.9), np.empty((3, 4, 3), np.float32))

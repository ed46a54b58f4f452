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


@njit(cache=_CACHE, parallel=True)
def _geometry(half_x, half_y, cells, weights):
    """Each pixel's box, found once per call (the iterations reuse it): cells [H, W, 4] int64 = the table cells
    (floor, clamped to the last cell) of y0, y1, x0, x1; weights [H, W, 5] float64 = their fractions and the
    box area. Pixel-edge coordinates, clamped to the image (the reference's box_corners / _table_at)."""
    h, w = half_x.shape
    for y in prange(h):
        for x in range(w):
            rx = half_x[y, x]
            ry = half_y[y, x]
            y0 = min(max(y - ry, 0.0), float(h))
            y1 = min(max(y + 1 + ry, 0.0), float(h))
            x0 = min(max(x - rx, 0.0), float(w))
            x1 = min(max(x + 1 + rx, 0.0), float(w))
            weights[y, x, 4] = (y1 - y0) * (x1 - x0)
            j = 0
            for edge, last in ((y0, h - 1), (y1, h - 1), (x0, w - 1), (x1, w - 1)):
                cell = min(np.int64(np.floor(edge)), last)
                cells[y, x, j] = cell
                weights[y, x, j] = edge - cell
                j += 1


@njit(cache=_CACHE, inline="always")
def _add_at(table, iy, ix, ty, tx, sign, acc):
    """acc[k] += sign * bilinear read of table in cell (iy, ix) at fractions (ty, tx), every channel k (the
    reference's _table_at, same operation order)."""
    for k in range(acc.shape[0]):
        a = table[iy, ix, k]
        b = table[iy, ix + 1, k]
        c = table[iy + 1, ix, k]
        d = table[iy + 1, ix + 1, k]
        top = a + tx * (b - a)
        acc[k] += sign * (top + ty * ((c + tx * (d - c)) - top))


@njit(cache=_CACHE, inline="always")
def _box_sum(table, cells, weights, y, x, acc):
    iy0, iy1, ix0, ix1 = cells[y, x, 0], cells[y, x, 1], cells[y, x, 2], cells[y, x, 3]
    ty0, ty1, tx0, tx1 = weights[y, x, 0], weights[y, x, 1], weights[y, x, 2], weights[y, x, 3]
    acc[:] = 0.0
    _add_at(table, iy1, ix1, ty1, tx1, 1.0, acc)
    _add_at(table, iy0, ix1, ty0, tx1, -1.0, acc)
    _add_at(table, iy1, ix0, ty1, tx0, -1.0, acc)
    _add_at(table, iy0, ix0, ty0, tx0, 1.0, acc)


@njit(cache=_CACHE, parallel=True)
def _ratio(table, cells, weights, observed, eps, out):
    """out = observed / max(box mean of the tabled image, eps) [H, W, C] (Richardson-Lucy's first half)."""
    h, w, c = out.shape
    for y in prange(h):
        acc = np.empty(c, np.float64)
        for x in range(w):
            _box_sum(table, cells, weights, y, x, acc)
            area = weights[y, x, 4]
            for k in range(c):
                out[y, x, k] = observed[y, x, k] / max(acc[k] / area, eps)


@njit(cache=_CACHE, parallel=True)
def _update(table, cells, weights, estimate):
    """estimate *= box mean of the tabled ratio [H, W, C] (Richardson-Lucy's second half)."""
    h, w, c = estimate.shape
    for y in prange(h):
        acc = np.empty(c, np.float64)
        for x in range(w):
            _box_sum(table, cells, weights, y, x, acc)
            area = weights[y, x, 4]
            for k in range(c):
                estimate[y, x, k] *= acc[k] / area


def deblur(rgb: np.ndarray, disparity: np.ndarray, iterations: int, radius: tuple[float, float], out: np.ndarray,
           eps: float = 1e-3) -> np.ndarray:
    """Validated float32 rgb [H, W, C], disparity [H, W] and (R_x, R_y) -> out float32 [H, W, C]
    (see kernels/deblur.py)."""
    h, w, c = rgb.shape
    mag = np.abs(disparity.astype(np.float64))
    b = rgb.astype(np.float64)
    x = b.copy()
    table = np.empty((h + 1, w + 1, c), np.float64)
    ratio = np.empty_like(b)
    cells, weights = np.empty((h, w, 4), np.int64), np.empty((h, w, 5), np.float64)
    with _LAUNCH:
        if iterations:
            _geometry(radius[0] * mag, radius[1] * mag, cells, weights)
        for _ in range(iterations):
            _table(x, table)
            _ratio(table, cells, weights, b, eps, ratio)
            _table(ratio, table)
            _update(table, cells, weights, x)
    np.copyto(out, np.clip(x, 0.0, 1.0, out=x))
    return out


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every function once."""
    deblur(np.zeros((3, 4, 3), np.float32), np.zeros((3, 4), np.float32), 1, (0.9, 0.9), np.empty((3, 4, 3), np.float32))

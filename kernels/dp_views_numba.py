"""Compiled CPU blend for kernels/dp_views.py: views between the two DP halves, a + t * (b - a), written straight
into the frame's view array at their grid indices (uint8: clip(rint(255 * colour)), as dibr_warp rounds). The
same float32 operations in the same order as the numpy path, so the results are bit-identical
(tests/kernels/test_dp_views.py). `fastmath` off; `cache=True` (see kernels/dibr_numba.py)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .dibr_numba import _LAUNCH   # one launch at a time across the kernels (numba's workqueue layer)

_CACHE = __name__ == "kernels.dp_views_numba"


@njit(cache=_CACHE, parallel=True)
def _blend_f32(a, b, t, views, out):
    """out[views[m]] = a[m] + t[m] * (b[m] - a[m]) for a, b float32 [M, H, W, 3]."""
    m_count, h, w = a.shape[0], a.shape[1], a.shape[2]
    for job in prange(m_count * h):
        m, y = job // h, job % h
        for x in range(w):
            for c in range(3):
                out[views[m], y, x, c] = a[m, y, x, c] + t[m] * (b[m, y, x, c] - a[m, y, x, c])


@njit(cache=_CACHE, parallel=True)
def _blend_u8(a, b, t, views, out):
    """The same into uint8: clip(rint(255 * colour))."""
    m_count, h, w = a.shape[0], a.shape[1], a.shape[2]
    scale, low, high = np.float32(255.0), np.float32(0.0), np.float32(255.0)
    for job in prange(m_count * h):
        m, y = job // h, job % h
        for x in range(w):
            for c in range(3):
                colour = a[m, y, x, c] + t[m] * (b[m, y, x, c] - a[m, y, x, c])
                out[views[m], y, x, c] = np.uint8(min(max(np.rint(colour * scale), low), high))


def blend_into(a: np.ndarray, b: np.ndarray, t: np.ndarray, views: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Validated float32 a, b [M, H, W, 3], t float32 [M], views intp [M] -> out [P, H, W, 3] (float32 or uint8)."""
    with _LAUNCH:
        (_blend_u8 if out.dtype == np.uint8 else _blend_f32)(a, b, t, views, out)
    return out


def warm_up() -> None:
    a = np.zeros((1, 2, 2, 3), np.float32)
    for dtype in (np.float32, np.uint8):
        blend_into(a, a, np.zeros(1, np.float32), np.zeros(1, np.intp), np.empty((1, 2, 2, 3), dtype))

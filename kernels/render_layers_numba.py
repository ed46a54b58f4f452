"""Compiled CPU `render_layers` (numba): the rules of kernels/render_layers.py, all views of a frame in one call.

    view_p(x, y, c) = mean_r prod_l layers[l, r, c](x + b * planes[l] * u_p, y + b * planes[l] * v_p)

For a fronto-parallel plane every (layer, view) pair is a pure translation by d = (b * planes[l]) * (u, v)
(float32), so its bilinear weights are constant: with d clamped to [-n, n] (beyond that every sample is an edge
pixel anyway), i = floor(d) and f = d - i (exact in float32), output index x reads taps x + i and x + i + 1 when
both are inside ([lo, hi) = [clip(-i), n - 1 - i)), and the edge pixel (index 0 below lo, n - 1 from hi on)
elsewhere, which is the border clamp of the reference. Only these per-(view, layer) integers and fractions are
computed on the host (`shift_table`); the kernel has no per-pixel coordinates.

Same float32 operations, in the same order, as the numpy/OpenCV fast path (kernels/render_layers.py), so the two
agree bit for bit on a CPU with FMA (OpenCV's AVX2 code, whose results the tests compare against):
- lerp a -> b by f is cv2.addWeighted(a, 1 - f, b, f, 0) = fma(a, 1 - f, b * f) (one rounding of the sum);
  f == 0 copies a;
- horizontal lerp first (on rows of the layer), then the vertical lerp of two horizontally lerped rows;
- product over l in order, the last factor fused into the sum over r: acc = fma(v0 * v1 * ..., v_{L-1}, acc)
  (cv2.multiply then cv2.accumulateProduct); L = 1: acc + v0 (cv2.accumulate);
- float outputs: acc * float32(1 / R) (float16: rounded from that float32); uint8: clip(rint(acc * float32(255 /
  R))) (cv2.convertScaleAbs of max(acc, 0)).
Against the float64 pure reference the difference is float rounding: the reference rounds x + d to float32
before taking its fraction, and lerps as (1 - f) * a + f * b in float64 (~1e-6 on values in [0, 1]; one uint8
level where 255 * view is within that of k + 1/2).

Parallel decomposition: the work is split into row bands of the output (`band` rows) x groups of views that share
their horizontal offsets (a column of the u, v grid); `prange` runs over the threads, worker k taking tiles
k, k + n, ... (band-major, so a band's layer rows are reused from cache by all groups). Per tile, for each channel
and r: the horizontal pass of every layer for just the rows the group's views read (per-thread scratch
[L, rows, W]), then, per view and output row, the vertical lerps fused with the product and the fma into a
per-thread accumulator [G, band, W]; after the last r the channel is scaled and written straight into `out`
(uint8 rounded in place). All loops over x are unit-stride and vectorise (AVX2 FMA checked in the assembly).

`fastmath` is off (the explicit fmas are llvm.fma, never contracted or reassociated otherwise). Compiled with
`cache=True` only under the canonical module name (see kernels/dibr_numba.py); `warm_up()` compiles or loads
the three output dtypes. float16 layers are converted to float32 once on the host (numba has no CPU float16).
"""
from __future__ import annotations

import threading

import numba
import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic

# numba's cache stores the module name and re-imports it on load: cache only under the canonical name.
_CACHE = __name__ == "kernels.render_layers_numba"
_LAUNCH = threading.Lock()   # numba's workqueue threading layer aborts on concurrent launches from 2 threads

OUT_U8, OUT_F32, OUT_F16 = 0, 1, 2


@intrinsic
def _fma(typingctx, a, b, c):
    """float32 fused multiply-add a * b + c, one rounding (llvm.fma.f32; vfmadd on x86 with FMA)."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@njit(cache=_CACHE, inline="always")
def _hrow(src, i, f, a, lo, hi, dst):
    """dst[x] = src sampled at x + (i + f), linear, border clamp; [lo, hi) have both taps inside."""
    W = dst.shape[0]
    e0 = src[0]
    for x in range(lo):
        dst[x] = e0
    if f == 0:
        for x in range(lo, hi):
            dst[x] = src[x + i]
    else:
        s0 = src[lo + i:hi + i]
        s1 = src[lo + i + 1:hi + i + 1]
        d = dst[lo:hi]
        for x in range(hi - lo):
            d[x] = _fma(s0[x], a, s1[x] * f)
    e1 = src[W - 1]
    for x in range(hi, W):
        dst[x] = e1


@njit(cache=_CACHE, inline="always")
def _row(y, i, lo, hi, H):
    """Source index read (first tap) for output index y: 0 below lo, H - 1 from hi on, y + i between."""
    if y < lo:
        return 0
    if y >= hi:
        return H - 1
    return y + i


@njit(cache=_CACHE, inline="always")
def _vtaps(hbuf, rstart, p, l, y, iy, fy, ay, loy, hiy, H):
    """Rows of layer l's horizontal pass that output row y of view p lerps, and their weights (1 - f, f).

    A copy (edge rows, f == 0) is returned as the lerp of a row with itself with weights (1, 0):
    fma(h, 1, h * 0) == h for every finite h (-0 aside)."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    if y < loy[p, l]:
        h = hbuf[l, 0 - rstart[l]]
        return h, h, one, zero
    if y >= hiy[p, l]:
        h = hbuf[l, H - 1 - rstart[l]]
        return h, h, one, zero
    s = y + iy[p, l] - rstart[l]
    if fy[p, l] == 0:
        return hbuf[l, s], hbuf[l, s], one, zero
    return hbuf[l, s], hbuf[l, s + 1], ay[p, l], fy[p, l]


@njit(cache=_CACHE)
def _band(layers, ix, fx, ax, lox, hix, iy, fy, ay, loy, hiy, group_views, group_start, y0, y1, out, hbuf, prod,
          acc, rstart, kind, scale):
    """Render output rows [y0, y1) of every view into out.

    hbuf [L, rows, W], prod [W], acc [P, band, W], rstart [L] are this worker's scratch."""
    L, R, C, H, W = layers.shape
    P = out.shape[0]
    nb = y1 - y0
    zero = np.float32(0.0)
    for c in range(C):
        for p in range(P):
            for yy in range(nb):
                for x in range(W):
                    acc[p, yy, x] = zero
        for r in range(R):
            # the layer rows of (r, c) this band reads stay in cache while every group uses them
            for gi in range(group_start.shape[0] - 1):
                views = group_views[group_start[gi]:group_start[gi + 1]]
                G = views.shape[0]
                p0 = views[0]
                # horizontal pass: the layer rows [rmin, rmax] any view of the group reads for rows [y0, y1)
                for l in range(L):
                    rmin = H - 1
                    rmax = 0
                    for g in range(G):
                        p = views[g]
                        rmin = min(rmin, _row(y0, iy[p, l], loy[p, l], hiy[p, l], H))
                        rmax = max(rmax, _row(y1 - 1, iy[p, l], loy[p, l], hiy[p, l], H) + (fy[p, l] != 0))
                    rmax = min(rmax, H - 1)
                    for s in range(rmin, rmax + 1):
                        _hrow(layers[l, r, c, s], ix[p0, l], fx[p0, l], ax[p0, l], lox[p0, l], hix[p0, l],
                              hbuf[l, s - rmin])
                    rstart[l] = rmin
                # vertical pass fused with the product over l and the sum over r
                for yy in range(nb):
                    y = y0 + yy
                    for g in range(G):
                        p = views[g]
                        _vrow(hbuf, rstart, p, y, iy, fy, ay, loy, hiy, H, L, W, prod, acc[p, yy])
        # scale and write channel c of the band
        for p in range(P):
            o = out[p]
            for yy in range(nb):
                arow = acc[p, yy]
                orow = o[y0 + yy]
                if kind == OUT_U8:
                    for x in range(W):
                        v = np.rint(max(arow[x], zero) * scale)
                        orow[x, c] = np.uint8(min(v, np.float32(255.0)))
                else:
                    for x in range(W):
                        orow[x, c] = arow[x] * scale


@njit(cache=_CACHE, inline="always")
def _vrow(hbuf, rstart, p, y, iy, fy, ay, loy, hiy, H, L, W, prod, arow):
    """arow += prod_l (vertical lerp of layer l's horizontal pass for output row y of view p), in the numpy
    path's order: L = 1: arow + v0; else fma(v0 * v1 * ... * v_{L-2}, v_{L-1}, arow)."""
    h0, h1, a0, f0 = _vtaps(hbuf, rstart, p, 0, y, iy, fy, ay, loy, hiy, H)
    if L == 1:
        for x in range(W):
            arow[x] = arow[x] + _fma(h0[x], a0, h1[x] * f0)
        return
    k0, k1, a1, f1 = _vtaps(hbuf, rstart, p, 1, y, iy, fy, ay, loy, hiy, H)
    if L == 2:
        for x in range(W):
            arow[x] = _fma(_fma(h0[x], a0, h1[x] * f0), _fma(k0[x], a1, k1[x] * f1), arow[x])
        return
    m0, m1, a2, f2 = _vtaps(hbuf, rstart, p, L - 1, y, iy, fy, ay, loy, hiy, H)
    if L == 3:
        for x in range(W):
            arow[x] = _fma(_fma(h0[x], a0, h1[x] * f0) * _fma(k0[x], a1, k1[x] * f1),
                           _fma(m0[x], a2, m1[x] * f2), arow[x])
        return
    for x in range(W):
        prod[x] = _fma(h0[x], a0, h1[x] * f0) * _fma(k0[x], a1, k1[x] * f1)
    for l in range(2, L - 1):
        n0, n1, al, fl = _vtaps(hbuf, rstart, p, l, y, iy, fy, ay, loy, hiy, H)
        for x in range(W):
            prod[x] = prod[x] * _fma(n0[x], al, n1[x] * fl)
    for x in range(W):
        arow[x] = _fma(prod[x], _fma(m0[x], a2, m1[x] * f2), arow[x])


@njit(cache=_CACHE, parallel=True)
def _render_all(layers, ix, fx, ax, lox, hix, iy, fy, ay, loy, hiy, group_views, group_start, band, out, hbuf,
                prod, acc, rstart, kind, scale):
    """Row bands b = k, k + n, ... on worker k of n = hbuf.shape[0]."""
    n = hbuf.shape[0]
    H = layers.shape[3]
    n_bands = (H + band - 1) // band
    for k in prange(n):
        for bi in range(k, n_bands, n):
            y0 = bi * band
            _band(layers, ix, fx, ax, lox, hix, iy, fy, ay, loy, hiy, group_views, group_start, y0,
                  min(y0 + band, H), out, hbuf[k], prod[k], acc[k], rstart[k], kind, scale)


def shift_table(shifts: np.ndarray, n: int):
    """Per (view, layer) integer offset i, fraction f, 1 - f and the interior [lo, hi) along an axis of size n,
    exactly as the numpy path's `_lerp_shift` computes them.  shifts float32 [P, L] -> 5 arrays [P, L]."""
    d = np.clip(shifts.astype(np.float64), -n, n)
    i = np.floor(d)
    f = (d - i).astype(np.float32)        # exact: the fractional part of a float32
    a = (np.float32(1.0) - f).astype(np.float32)
    i = i.astype(np.int64)
    lo = np.minimum(np.maximum(-i, 0), n)
    hi = np.minimum(np.maximum(n - 1 - i, lo), n)
    return i, f, a, lo, hi


def render(layers: np.ndarray, shifts: np.ndarray, out: np.ndarray, threads: int | None = None,
           band: int | None = None) -> np.ndarray:
    """Validated float32 C-contiguous layers [L,R,3,H,W], float32 shifts [P,L,2] (layer_shifts) -> out [P,H,W,3]
    (float32, float16 or uint8, C-contiguous)."""
    L, R, C, H, W = layers.shape
    P = shifts.shape[0]
    if P == 0:
        return out
    ix, fx, ax, lox, hix = shift_table(shifts[:, :, 0], W)
    iy, fy, ay, loy, hiy = shift_table(shifts[:, :, 1], H)
    groups: dict[bytes, list[int]] = {}
    for p in range(P):
        groups.setdefault(shifts[p, :, 0].tobytes(), []).append(p)
    members = list(groups.values())
    group_views = np.array([p for m in members for p in m], np.int64)
    group_start = np.cumsum([0] + [len(m) for m in members]).astype(np.int64)
    if band is None:  # keep the accumulator [P, band, W] around 1 MB (L2)
        band = max(4, min(16, (1 << 20) // (P * W * 4)))
    band = max(1, min(band, H))
    n = max(1, min(-(-H // band), threads or numba.get_num_threads()))
    # rows of one layer a group reads for one band: the band, the spread of its views' offsets, one more tap
    spread = int((iy.max(axis=0) - iy.min(axis=0)).max()) if P else 0
    rows = min(H, band + spread + 2)
    hbuf = np.empty((n, L, rows, W), np.float32)
    prod = np.empty((n, W), np.float32)
    rstart = np.empty((n, L), np.int64)
    acc = np.empty((n, P, band, W), np.float32)
    if out.dtype == np.uint8:
        kind, scale = OUT_U8, np.float32(255.0 / R)
    else:
        kind, scale = (OUT_F32 if out.dtype == np.float32 else OUT_F16), np.float32(1.0 / R)
    if kind == OUT_F16:
        target = np.empty(out.shape, np.float32)
    else:
        target = out
    with _LAUNCH:
        _render_all(layers, ix, fx, ax, lox, hix, iy, fy, ay, loy, hiy, group_views, group_start, band, target,
                    hbuf, prod, acc, rstart, kind, scale)
    if kind == OUT_F16:
        np.copyto(out, target, casting="unsafe")
    return out


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the kernel for float32, float16 and uint8 output."""
    layers = np.zeros((1, 1, 3, 3, 4), np.float32)
    shifts = np.zeros((1, 1, 2), np.float32)
    for dtype in (np.float32, np.float16, np.uint8):
        render(layers, shifts, np.empty((1, 3, 4, 3), dtype))

"""Compiled CPU `render_layers` (numba): the rules of kernels/render_layers.py, all views of a frame in one call.

    view_p(x, y, c) = mean_r prod_l layers[l, r, c](x + b * planes[l] * u_p, y + b * planes[l] * v_p)

For a fronto-parallel plane every (layer, view) pair is a pure translation by d = (b * planes[l]) * (u, v)
(float32), so its bilinear weights are constant: with d clamped to [-n, n] (beyond that every sample is an edge
pixel anyway), i = floor(d) and f = d - i (exact in float32), output index x reads taps x + i and x + i + 1 when
both are inside ([lo, hi) = [clip(-i), n - 1 - i)), and the edge pixel (index 0 below lo, n - 1 from hi on)
elsewhere, which is the border clamp of the reference. Only these per-(view, layer) integers and fractions are
computed on the host (`shift_table`); the kernel has no per-pixel coordinates.

Same float32 operations, in the same order, as the numpy/OpenCV fast path (kernels/render_layers.py), so the two
agree bit for bit on a CPU with FMA (OpenCV's AVX2 code, whose results the tests compare against; without FMA,
llvm.fma is a libm call, still exact, while OpenCV uses mul + add, so the two differ by float rounding there):
- lerp a -> b by f is cv2.addWeighted(a, 1 - f, b, f, 0) = fma(a, 1 - f, b * f) (one rounding of the sum);
  f == 0 copies a;
- horizontal lerp first (on rows of the layer), then the vertical lerp of two horizontally lerped rows;
- product over l in order, the last factor fused into the sum over r: acc = fma(v0 * v1 * ..., v_{L-1}, acc)
  (cv2.multiply then cv2.accumulateProduct); L = 1: acc + v0 (cv2.accumulate); a vertical copy (edge rows,
  f == 0) is computed as fma(h, 1, h * 0), which equals h for every finite h (-0 aside);
- float outputs: acc * float32(1 / R) (float16: rounded from that float32); uint8: clip(rint(acc * float32(255 /
  R))) (cv2.convertScaleAbs of max(acc, 0)).
Against the float64 pure reference the difference is float rounding: the reference rounds x + d to float32
before taking its fraction, and lerps as (1 - f) * a + f * b in float64 (~1e-6 on values in [0, 1]; one uint8
level where 255 * view is within that of k + 1/2).

Parallel decomposition: the output rows are cut into bands (8-24 rows, so that the per-worker accumulator
[P, band*W] stays in L2, and at least 2 bands per worker); `prange` runs over the workers, worker k taking bands
k, k + n, ... . Per band, channel c and r (the sum over r stays in order), for each group of views that share their
horizontal offsets (a column of the u, v grid): the horizontal pass of every layer over just the rows the group's
views read (one flat loop over those rows, the few clamped columns fixed up after), then per view the vertical
lerps fused with the product over l and the fma into the accumulator, again one flat loop over the band's rows
where every layer reads inside the image (row by row at the clamped rows). After the last r the channel is scaled
/ rounded in place (vectorised) and copied into `out` (uint8 written directly, no full-frame temporary; float16
goes through one float32 frame, numba has no CPU float16). All loops over x are unit stride and vectorise (AVX2
vfmadd*ps checked in the assembly). The layer rows of one (r, c) are read from memory once per band and reused
from cache by all groups.

`fastmath` is off (the explicit fmas are llvm.fma, never contracted or reassociated otherwise). Compiled with
`cache=True` only under the canonical module name (see kernels/dibr_numba.py); `warm_up()` compiles or loads
the three output dtypes. float16 layers are converted to float32 once on the host by the caller (numba has no
CPU float16; the conversion is ~5 % of a frame, while each layer sample is read ~10 times by the kernel).
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
def _hpass(src, rmin, nrows, i, f, a, lo, hi, W, dst):
    """dst[row * W + x] = row rmin + row of src [H*W] sampled at x + (i + f), linear, border clamp.

    One flat loop over all the rows (columns [lo, hi) of a row have both taps inside that row; the others read
    across a row end and are overwritten with the row's edge pixel afterwards), so the per-row overhead is only
    the edge fix-up."""
    n = nrows * W
    base = rmin * W + i          # flat index of dst[0]'s first tap
    k0 = max(0, -base)
    if f == 0:
        k1 = min(n, src.shape[0] - base)
        s0 = src[base + k0:base + k1]
        d = dst[k0:k1]
        for k in range(k1 - k0):
            d[k] = s0[k]
    else:
        k1 = min(n, src.shape[0] - 1 - base)
        s0 = src[base + k0:base + k1]
        s1 = src[base + k0 + 1:base + k1 + 1]
        d = dst[k0:k1]
        for k in range(k1 - k0):
            d[k] = _fma(s0[k], a, s1[k] * f)
    if lo > 0 or hi < W:
        for row in range(nrows):
            srow = (rmin + row) * W
            drow = row * W
            e0 = src[srow]
            e1 = src[srow + W - 1]
            for x in range(lo):
                dst[drow + x] = e0
            for x in range(hi, W):
                dst[drow + x] = e1


@njit(cache=_CACHE, inline="always")
def _row(y, i, lo, hi, H):
    """Source index read (first tap) for output index y: 0 below lo, H - 1 from hi on, y + i between."""
    if y < lo:
        return 0
    if y >= hi:
        return H - 1
    return y + i


@njit(cache=_CACHE, inline="always")
def _vrun(hbuf, o0, o1, wa, wf, n, dst, prod, L):
    """dst[k] += prod_l lerp(hbuf[l, o0[l] + k], hbuf[l, o1[l] + k]; wa[l], wf[l]) for k < n, in the numpy path's
    order: L = 1: dst + v0; else fma(v0 * v1 * ... * v_{L-2}, v_{L-1}, dst). The lerp is fma(a, 1 - f, b * f);
    a copy is the lerp of a row with itself with weights (1, 0): fma(h, 1, h * 0) == h for finite h (-0 aside)."""
    h0 = hbuf[0, o0[0]:o0[0] + n]
    h1 = hbuf[0, o1[0]:o1[0] + n]
    a0 = wa[0]
    f0 = wf[0]
    if L == 1:
        for k in range(n):
            dst[k] = dst[k] + _fma(h0[k], a0, h1[k] * f0)
        return
    k0 = hbuf[1, o0[1]:o0[1] + n]
    k1 = hbuf[1, o1[1]:o1[1] + n]
    a1 = wa[1]
    f1 = wf[1]
    if L == 2:
        for k in range(n):
            dst[k] = _fma(_fma(h0[k], a0, h1[k] * f0), _fma(k0[k], a1, k1[k] * f1), dst[k])
        return
    m0 = hbuf[L - 1, o0[L - 1]:o0[L - 1] + n]
    m1 = hbuf[L - 1, o1[L - 1]:o1[L - 1] + n]
    a2 = wa[L - 1]
    f2 = wf[L - 1]
    if L == 3:
        for k in range(n):
            dst[k] = _fma(_fma(h0[k], a0, h1[k] * f0) * _fma(k0[k], a1, k1[k] * f1), _fma(m0[k], a2, m1[k] * f2),
                          dst[k])
        return
    for k in range(n):
        prod[k] = _fma(h0[k], a0, h1[k] * f0) * _fma(k0[k], a1, k1[k] * f1)
    for l in range(2, L - 1):
        n0 = hbuf[l, o0[l]:o0[l] + n]
        n1 = hbuf[l, o1[l]:o1[l] + n]
        al = wa[l]
        fl = wf[l]
        for k in range(n):
            prod[k] = prod[k] * _fma(n0[k], al, n1[k] * fl)
    for k in range(n):
        dst[k] = _fma(prod[k], _fma(m0[k], a2, m1[k] * f2), dst[k])


@njit(cache=_CACHE, inline="always")
def _taps(p, l, y, iy, fy, ay, loy, hiy, H, W, rstart, o0, o1, wa, wf):
    """Offsets into hbuf[l] of the two rows output row y of view p lerps, and the weights (edge rows and f == 0
    rows: one row with weights (1, 0))."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    if y < loy[p, l]:
        o0[l] = (0 - rstart[l]) * W
        o1[l] = o0[l]
        wa[l], wf[l] = one, zero
    elif y >= hiy[p, l]:
        o0[l] = (H - 1 - rstart[l]) * W
        o1[l] = o0[l]
        wa[l], wf[l] = one, zero
    else:
        o0[l] = (y + iy[p, l] - rstart[l]) * W
        if fy[p, l] != 0:
            o1[l] = o0[l] + W
            wa[l], wf[l] = ay[p, l], fy[p, l]
        else:
            o1[l] = o0[l]
            wa[l], wf[l] = one, zero


@njit(cache=_CACHE)
def _band(layers, ix, fx, ax, lox, hix, iy, fy, ay, loy, hiy, group_views, group_start, y0, y1, out, hbuf, prod,
          acc, rstart, o0, o1, wa, wf, kind, scale):
    """Render output rows [y0, y1) of every view into out.  layers [L, R, C, H*W].

    hbuf [L, rows*W], prod [band*W], acc [P, band*W], rstart/o0/o1/wa/wf [L] are this worker's scratch."""
    L, R, C = layers.shape[0], layers.shape[1], layers.shape[2]
    P, H, W = out.shape[0], out.shape[1], out.shape[2]
    nb = y1 - y0
    zero = np.float32(0.0)
    for c in range(C):
        for p in range(P):
            for k in range(nb * W):
                acc[p, k] = zero
        for r in range(R):
            # the layer rows of (r, c) this band reads stay in cache while every group uses them
            for gi in range(group_start.shape[0] - 1):
                views = group_views[group_start[gi]:group_start[gi + 1]]
                p0 = views[0]
                # horizontal pass: the layer rows [rmin, rmax] any view of the group reads for rows [y0, y1)
                for l in range(L):
                    rmin = H - 1
                    rmax = 0
                    for g in range(views.shape[0]):
                        p = views[g]
                        rmin = min(rmin, _row(y0, iy[p, l], loy[p, l], hiy[p, l], H))
                        rmax = max(rmax, _row(y1 - 1, iy[p, l], loy[p, l], hiy[p, l], H) + (fy[p, l] != 0))
                    rmax = min(rmax, H - 1)
                    _hpass(layers[l, r, c], rmin, rmax - rmin + 1, ix[p0, l], fx[p0, l], ax[p0, l], lox[p0, l],
                           hix[p0, l], W, hbuf[l])
                    rstart[l] = rmin
                # vertical pass fused with the product over l and the sum over r: the rows where every layer
                # reads inside the image in one flat run, the others row by row
                for g in range(views.shape[0]):
                    p = views[g]
                    ya = y0
                    yb = y1
                    for l in range(L):
                        ya = max(ya, loy[p, l])
                        yb = min(yb, hiy[p, l])
                    if ya < yb:
                        for l in range(L):
                            _taps(p, l, ya, iy, fy, ay, loy, hiy, H, W, rstart, o0, o1, wa, wf)
                        _vrun(hbuf, o0, o1, wa, wf, (yb - ya) * W, acc[p, (ya - y0) * W:(yb - y0) * W], prod, L)
                    for y in range(y0, y1):
                        if ya <= y < yb:
                            continue
                        for l in range(L):
                            _taps(p, l, y, iy, fy, ay, loy, hiy, H, W, rstart, o0, o1, wa, wf)
                        _vrun(hbuf, o0, o1, wa, wf, W, acc[p, (y - y0) * W:(y - y0 + 1) * W], prod, L)
        # scale and write channel c of the band: rounded in a vectorised loop over the band (in place in acc,
        # as float32: exact for integers up to 255), then one strided copy into out
        top = np.float32(255.0)
        for p in range(P):
            ap = acc[p, :nb * W]
            if kind == OUT_U8:
                for k in range(nb * W):
                    ap[k] = min(np.rint(max(ap[k], zero) * scale), top)
            else:
                for k in range(nb * W):
                    ap[k] = ap[k] * scale
            for yy in range(nb):
                arow = acc[p, yy * W:(yy + 1) * W]
                orow = out[p, y0 + yy]
                for x in range(W):
                    orow[x, c] = arow[x]


@njit(cache=_CACHE, parallel=True)
def _render_all(layers, ix, fx, ax, lox, hix, iy, fy, ay, loy, hiy, group_views, group_start, band, out, hbuf,
                prod, acc, rstart, o0, o1, wa, wf, kind, scale):
    """Row bands b = k, k + n, ... on worker k of n = hbuf.shape[0]."""
    n = hbuf.shape[0]
    H = out.shape[1]
    n_bands = (H + band - 1) // band
    for k in prange(n):
        for bi in range(k, n_bands, n):
            y0 = bi * band
            _band(layers, ix, fx, ax, lox, hix, iy, fy, ay, loy, hiy, group_views, group_start, y0,
                  min(y0 + band, H), out, hbuf[k], prod[k], acc[k], rstart[k], o0[k], o1[k], wa[k], wf[k], kind,
                  scale)


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
    workers = threads or numba.get_num_threads()
    if band is None:  # accumulator [P, band*W] about 2 MB at most (L2); at least 2 bands per worker
        band = max(8, min(24, (2 << 20) // (P * W * 4)))
        band = min(band, max(4, -(-H // (2 * workers))))
    band = max(1, min(band, H))
    n = max(1, min(-(-H // band), workers))
    # rows of one layer a group reads for one band: the band, the spread of its views' offsets, one more tap
    spread = int((iy.max(axis=0) - iy.min(axis=0)).max()) if P else 0
    rows = min(H, band + spread + 2)
    hbuf = np.empty((n, L, rows * W), np.float32)
    prod = np.empty((n, band * W), np.float32)
    rstart, o0, o1 = (np.empty((n, L), np.int64) for _ in range(3))
    wa, wf = np.empty((n, L), np.float32), np.empty((n, L), np.float32)
    acc = np.empty((n, P, band * W), np.float32)
    if out.dtype == np.uint8:
        kind, scale = OUT_U8, np.float32(255.0 / R)
    else:
        kind, scale = (OUT_F32 if out.dtype == np.float32 else OUT_F16), np.float32(1.0 / R)
    if kind == OUT_F16:
        target = np.empty(out.shape, np.float32)
    else:
        target = out
    with _LAUNCH:
        _render_all(layers.reshape(L, R, C, H * W), ix, fx, ax, lox, hix, iy, fy, ay, loy, hiy, group_views,
                    group_start, band, target, hbuf, prod, acc, rstart, o0, o1, wa, wf, kind, scale)
    if kind == OUT_F16:
        np.copyto(out, target, casting="unsafe")
    return out


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the kernel for float32, float16 and uint8 output."""
    layers = np.zeros((1, 1, 3, 3, 4), np.float32)
    shifts = np.zeros((1, 1, 2), np.float32)
    for dtype in (np.float32, np.float16, np.uint8):
        render(layers, shifts, np.empty((1, 3, 4, 3), dtype))

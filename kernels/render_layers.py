"""Layered light-field renderer: CPU fast path and a pure reference.

    view_p(x, y, c) = mean_r prod_l layers[l, r, c](x + b * planes[l] * u_p, y + b * planes[l] * v_p)

Sampling is bilinear with border clamp: the sample coordinate is clamped to [0, W-1] x [0, H-1] first,
then x0 = floor(xs), x1 = min(x0 + 1, W - 1), fx = xs - x0 (likewise y), and
value = (1 - fy) * ((1 - fx) * I[y0, x0] + fx * I[y0, x1]) + fy * ((1 - fx) * I[y1, x0] + fx * I[y1, x1]).
The shift d = b * planes[l] * u is computed in float32. uint8 output is clip(rint(255 * view), 0, 255)
(rint = round half to even, as OpenCV's saturate_cast and CUDA's __float2int_rn).

For a fronto-parallel plane the samples are a pure translation of the layer, so the fast path needs no
per-pixel coordinates: bilinear = a horizontal lerp then a vertical lerp of shifted slices. OpenCV's own
warpAffine/remap quantise the fraction to 1/32 pixel (errors ~1e-2), so the lerps are cv2.addWeighted on
slices (float32-exact). Views that share their horizontal shifts share the horizontal pass, and the work is
done plane by plane ([H, W] at a time) so the intermediates stay in cache.

Implementations (`method=` or $DPLF_RENDER_LAYERS): "numba" (default; kernels/render_layers_numba.py, compiled,
all views in one call), "numpy" (the numpy/OpenCV fast path below), and the pure reference
`render_layers_reference` (tests only). "numba" and "numpy" give bit-identical outputs on a CPU with FMA; without
numba installed the default falls back to "numpy".
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from . import cpu_method
try:
    from . import render_layers_numba
except ImportError:  # numba missing: the numpy/OpenCV fast path is the default
    render_layers_numba = None

OUT_DTYPES = (np.float32, np.float16, np.uint8)
METHODS = cpu_method.METHODS


def default_method() -> str:
    """$DPLF_RENDER_LAYERS when set ("numba" | "numpy"), else "numba" when it imports, else "numpy"."""
    return cpu_method.default_method("DPLF_RENDER_LAYERS", render_layers_numba is not None)


def warm_up(method: str | None = None) -> None:
    """Compile (or load from numba's disk cache) the default CPU kernel for every output dtype, so no frame
    pays for it."""
    if (method or default_method()) == "numba" and render_layers_numba is not None:
        render_layers_numba.warm_up()


def _validate(layers, planes, positions, baseline):
    layers = np.asarray(layers)
    if layers.ndim != 5 or layers.shape[2] != 3:
        raise ValueError(f"render_layers: layers must be [L, R, 3, H, W], got shape {layers.shape}")
    if layers.dtype not in (np.float32, np.float16, np.float64):
        raise ValueError(f"render_layers: layers must be float32/float16, got {layers.dtype}")
    L, R, _, H, W = layers.shape
    if min(L, R, H, W) < 1:
        raise ValueError(f"render_layers: layers has an empty axis, shape {layers.shape}")
    planes = np.asarray(planes, dtype=np.float32).reshape(-1)
    if planes.shape != (L,):
        raise ValueError(f"render_layers: planes must be [L={L}], got {planes.shape}")
    positions = np.asarray(positions, dtype=np.float32)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"render_layers: positions must be [P, 2] (u, v), got {positions.shape}")
    if not (np.isfinite(planes).all() and np.isfinite(positions).all() and np.isfinite(baseline)):
        raise ValueError("render_layers: planes, positions and baseline must be finite (NaN/Inf found)")
    return layers, planes, positions


def _prepare_out(out, shape, out_dtype):
    out_dtype = np.dtype(out_dtype)
    if out_dtype not in [np.dtype(t) for t in OUT_DTYPES]:
        raise ValueError(f"render_layers: out_dtype must be float32, float16 or uint8, got {out_dtype}")
    if out is None:
        return np.empty(shape, out_dtype)
    if out.shape != shape or out.dtype != out_dtype or not out.flags.c_contiguous:
        raise ValueError(f"render_layers: out must be a C-contiguous {out_dtype} array of shape {shape}, "
                         f"got {out.dtype} {out.shape}")
    return out


def layer_shifts(planes: np.ndarray, positions: np.ndarray, baseline: float = 1.0) -> np.ndarray:
    """Per-view, per-layer sample offsets d = b * planes[l] * (u, v) in float32.  -> [P, L, 2]"""
    bp = np.float32(baseline) * np.asarray(planes, np.float32)  # [L]
    return (bp[None, :, None] * np.asarray(positions, np.float32)[:, None, :]).astype(np.float32)


def _lerp_shift(src: np.ndarray, d: float, axis: int, dst: np.ndarray, start: int = 0, stop: int | None = None):
    """dst = src sampled at (index + d) along `axis` (0 rows, 1 columns), linear, border clamp.

    Only output indices [start, stop) along `axis` are produced; dst holds just those.  src [H, W]
    """
    n = src.shape[axis]
    stop = n if stop is None else stop
    d = float(np.clip(d, -n, n))  # beyond the image every sample clamps to an edge anyway
    i = int(np.floor(d))
    f = np.float32(d - i)
    lo = min(max(-i, start), stop)  # first output index whose two taps are both inside
    hi = min(max(n - 1 - i, lo), stop)

    def sl(a, b):
        return (slice(a, b), slice(None)) if axis == 0 else (slice(None), slice(a, b))

    if hi > lo:
        if f == 0:
            np.copyto(dst[sl(lo - start, hi - start)], src[sl(lo + i, hi + i)])
        else:
            cv2.addWeighted(src[sl(lo + i, hi + i)], float(1 - f), src[sl(lo + i + 1, hi + i + 1)], float(f), 0.0,
                            dst=dst[sl(lo - start, hi - start)])
    if lo > start:
        dst[sl(0, lo - start)] = src[sl(0, 1)]
    if hi < stop:
        dst[sl(hi - start, stop - start)] = src[sl(n - 1, n)]


def _render_group(layers, shifts, views, out, R, band=96):
    """Render `views` (which share their horizontal shifts) into out[views].

    The vertical pass, products and accumulation run on row bands so their buffers stay in L2.
    """
    L, R, C, H, W = layers.shape
    G = len(views)
    hbuf = np.empty((L, H, W), np.float32)
    vbuf = np.empty((L, band, W), np.float32)
    prod = np.empty((band, W), np.float32)
    acc = np.zeros((G, C, H, W), np.float32)
    dx = shifts[views[0], :, 0]
    bands = [(a, min(a + band, H)) for a in range(0, H, band)]
    for r in range(R):
        for c in range(C):
            hs = []
            for l in range(L):
                if dx[l] == 0:
                    hs.append(layers[l, r, c])
                else:
                    _lerp_shift(layers[l, r, c], dx[l], 1, hbuf[l])
                    hs.append(hbuf[l])
            for a, b in bands:
                for g, p in enumerate(views):
                    vs = []
                    for l in range(L):
                        dy = shifts[p, l, 1]
                        if dy == 0:
                            vs.append(hs[l][a:b])
                        else:
                            _lerp_shift(hs[l], dy, 0, vbuf[l, :b - a], a, b)
                            vs.append(vbuf[l, :b - a])
                    target = acc[g, c, a:b]
                    if L == 1:
                        cv2.accumulate(vs[0], target)
                        continue
                    last = vs[0]
                    for l in range(1, L - 1):
                        cv2.multiply(last, vs[l], dst=prod[:b - a])
                        last = prod[:b - a]
                    cv2.accumulateProduct(last, vs[L - 1], target)
    for g, p in enumerate(views):
        if out.dtype == np.uint8:
            planes = [cv2.convertScaleAbs(cv2.max(acc[g, c], 0.0), alpha=255.0 / R) for c in range(C)]
            cv2.merge(planes, dst=out[p])
        else:
            np.multiply(acc[g], np.float32(1.0 / R), out=acc[g])
            if out.dtype == np.float32:
                cv2.merge(list(acc[g]), dst=out[p])
            else:
                out[p] = cv2.merge(list(acc[g]))


def render_layers(layers: np.ndarray, planes: np.ndarray, positions: np.ndarray, baseline: float = 1.0,
                  out: np.ndarray | None = None, out_dtype=np.float32, threads: int | None = None,
                  method: str | None = None) -> np.ndarray:
    """Render light-field views from a layered representation (CPU).

    Args:
        layers: float32 (or float16) [L, R, 3, H, W], non-negative.
        planes: float32 [L], each layer's disparity (units of D).
        positions: float32 [P, 2], aperture coordinates (u, v) of the views.
        baseline: b, scales the parallax.
        out: optional pre-allocated C-contiguous [P, H, W, 3] array of `out_dtype`, reused across frames.
        out_dtype: np.float32, np.float16 or np.uint8.
        threads: worker threads (numba: over row bands, default numba's thread count; numpy: over view
            groups, default min(cpu count, groups)).
        method: "numba" | "numpy" (default: `default_method()`).

    Returns:
        [P, H, W, 3] views of `out_dtype` (``out`` when given).
    """
    method = method or default_method()
    cpu_method.check_method("render_layers", method)
    layers, planes, positions = _validate(layers, planes, positions, baseline)
    L, R, C, H, W = layers.shape
    P = positions.shape[0]
    out = _prepare_out(out, (P, H, W, C), out_dtype)
    if P == 0:
        return out
    layers = np.ascontiguousarray(layers, dtype=np.float32)
    shifts = layer_shifts(planes, positions, baseline)
    if method == "numba":
        if render_layers_numba is None:
            raise RuntimeError("render_layers: method='numba' needs numba (pip install 'numba>=0.60')")
        return render_layers_numba.render(layers, shifts, out, threads)
    groups: dict[bytes, list[int]] = {}
    for p in range(P):
        groups.setdefault(shifts[p, :, 0].tobytes(), []).append(p)
    # Bound each group's accumulator (G x 3 x H x W floats) to keep memory modest.
    max_group = max(1, int(64e6 // (C * H * W * 4)))
    jobs = [g[i:i + max_group] for g in groups.values() for i in range(0, len(g), max_group)]
    n_threads = threads or min(os.cpu_count() or 1, len(jobs))
    if n_threads <= 1 or len(jobs) == 1:
        for views in jobs:
            _render_group(layers, shifts, views, out, R)
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(lambda v: _render_group(layers, shifts, v, out, R), jobs))
    return out


def bilinear_clamped(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sample img [..., H, W] at float coordinates xs, ys [H', W'] (bilinear, border clamp) in float64."""
    H, W = img.shape[-2:]
    xs = np.clip(xs.astype(np.float64), 0, W - 1)
    ys = np.clip(ys.astype(np.float64), 0, H - 1)
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    x1 = np.minimum(x0 + 1, W - 1)
    y1 = np.minimum(y0 + 1, H - 1)
    fx = xs - x0
    fy = ys - y0
    img = img.astype(np.float64)
    top = (1 - fx) * img[..., y0, x0] + fx * img[..., y0, x1]
    bottom = (1 - fx) * img[..., y1, x0] + fx * img[..., y1, x1]
    return (1 - fy) * top + fy * bottom


def render_layers_reference(layers: np.ndarray, planes: np.ndarray, positions: np.ndarray,
                            baseline: float = 1.0, out_dtype=np.float32) -> np.ndarray:
    """Pure, obviously-correct version of :func:`render_layers` (float64 math; small inputs). -> [P, H, W, 3]"""
    layers, planes, positions = _validate(layers, planes, positions, baseline)
    L, R, C, H, W = layers.shape
    shifts = layer_shifts(planes, positions, baseline)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    views = np.empty((positions.shape[0], H, W, C), np.float64)
    for p in range(positions.shape[0]):
        product = np.ones((R, C, H, W), np.float64)
        for l in range(L):
            dx, dy = shifts[p, l]
            product *= bilinear_clamped(layers[l], xs + dx, ys + dy)  # float32 coordinates, as the kernels
        views[p] = product.mean(axis=0).transpose(1, 2, 0)
    if np.dtype(out_dtype) == np.uint8:
        return np.clip(np.rint(views * 255.0), 0, 255).astype(np.uint8)
    return views.astype(out_dtype)

"""Occlusion-aware depth-image-based rendering (DIBR) for the disparity-only path.

Target: view_(u,v)(x, y) ~ rgb(x + b*D*u, y + b*D*v). Exact semantics, per view with s = (b*u, b*v) in float32
(the CUDA kernels in dibr_warp.cu follow them operation for operation):

1. Splat (z-buffer). Source pixel (x, y) with d = D[y, x] lands on
   tx = floor((x - d*s_u) + 0.5), ty = floor((y - d*s_v) + 0.5)  (float32 ops, round half up);
   targets outside the image are dropped. Each target keeps the source with the largest key
   key = (ordered_bits(d) << 32) | (0xFFFFFFFF - (y*W + x)): larger d (nearer) wins, ties go to the
   smaller source index (CUDA: one atomicMax on the 64-bit key).
2. Visible pixels: Dt = D of the winner; colour = bilinear, border-clamped sample of rgb at
   (x + Dt*s_u, y + Dt*s_v) (the render_layers sampler), so visible pixels are sub-pixel exact.
3. Holes (disocclusions, cracks): look for the nearest visible pixel to the left, right, up and down
   (same row / column); take the one with the smallest Dt (the background side); ties in the order left,
   right, up, down. The hole copies that pixel's colour from step 2. A hole with no visible pixel on any of
   the four lines falls back to the plain backward warp rgb(x + D[y,x]*s_u, y + D[y,x]*s_v).

uint8 output is clip(rint(255 * colour)).

The engine's DIBR renderers warp with `render_disparity(D)`, the 5x5 median of the student's D (replicated
borders): it removes single-pixel D outliers that would otherwise flicker in the views (docs/kernels.md).

Implementations (`method=` or $DPLF_DIBR): "numba" (default; kernels/dibr_numba.py, compiled, all views in one
call), "numpy" (the numpy/OpenCV fast path below), and the pure reference `dibr_warp_reference` (tests only).
"numba" and "numpy" give bit-identical outputs; without numba installed the default falls back to "numpy".
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from . import cpu_method
from .render_layers import bilinear_clamped

try:
    from . import dibr_numba
except ImportError:  # numba missing: the numpy/OpenCV fast path is the default
    dibr_numba = None

METHODS = cpu_method.METHODS
MEDIAN = 5   # render_disparity's window (OpenCV's largest median for float32)

_LOW32 = np.uint64(0xFFFFFFFF)


def _validate(rgb, disparity, positions, baseline, out_dtype):
    rgb = np.asarray(rgb)
    disparity = np.asarray(disparity)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"dibr_warp: rgb must be [H, W, 3], got shape {rgb.shape}")
    if disparity.shape != rgb.shape[:2]:
        raise ValueError(f"dibr_warp: disparity must be [H, W] = {rgb.shape[:2]}, got {disparity.shape}")
    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.float32) / np.float32(255.0)
    elif rgb.dtype in (np.float32, np.float16, np.float64):
        rgb = rgb.astype(np.float32, copy=False)
    else:
        raise ValueError(f"dibr_warp: rgb must be uint8 or float in [0, 1], got {rgb.dtype}")
    disparity = disparity.astype(np.float32, copy=False)
    if not np.isfinite(disparity).all():
        raise ValueError("dibr_warp: disparity contains NaN/Inf; clean it before warping")
    positions = np.asarray(positions, np.float32)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"dibr_warp: positions must be [P, 2] (u, v), got {positions.shape}")
    if not (np.isfinite(positions).all() and np.isfinite(baseline)):
        raise ValueError("dibr_warp: positions and baseline must be finite")
    if np.dtype(out_dtype) not in (np.dtype(np.float32), np.dtype(np.uint8)):
        raise ValueError(f"dibr_warp: out_dtype must be float32 or uint8, got {np.dtype(out_dtype)}")
    return np.ascontiguousarray(rgb), np.ascontiguousarray(disparity), positions


def ordered_bits(d: np.ndarray) -> np.ndarray:
    """Map float32 to uint32 so that unsigned order equals float order.  [...] -> uint32 [...]"""
    bits = np.ascontiguousarray(d, np.float32).view(np.uint32)
    return np.where(bits & np.uint32(0x80000000), ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


def splat_keys(disparity: np.ndarray) -> np.ndarray:
    """z-buffer keys of every source pixel (step 1).  [H, W] -> uint64 [H*W]"""
    idx = np.arange(disparity.size, dtype=np.uint64)
    return (ordered_bits(disparity).reshape(-1).astype(np.uint64) << np.uint64(32)) | (_LOW32 - idx)


def _to_out(colour, out, p, out_dtype):
    if np.dtype(out_dtype) == np.uint8:
        out[p] = np.clip(np.rint(colour * np.float32(255.0)), 0, 255)
    else:
        out[p] = colour


def _nearest_visible(valid: np.ndarray):
    """Index of the nearest visible pixel left/right (columns) and up/down (rows); -1 where none."""
    H, W = valid.shape
    cols = np.broadcast_to(np.arange(W), (H, W))
    rows = np.broadcast_to(np.arange(H)[:, None], (H, W))
    left = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    right = np.minimum.accumulate(np.where(valid, cols, W)[:, ::-1], axis=1)[:, ::-1]
    up = np.maximum.accumulate(np.where(valid, rows, -1), axis=0)
    down = np.minimum.accumulate(np.where(valid, rows, H)[::-1], axis=0)[::-1]
    right = np.where(right == W, -1, right)
    down = np.where(down == H, -1, down)
    return left, right, up, down


def default_method() -> str:
    """$DPLF_DIBR when set ("numba" | "numpy"), else "numba" when it imports, else "numpy"."""
    return cpu_method.default_method("DPLF_DIBR", dibr_numba is not None)


def warm_up(method: str | None = None) -> None:
    """Compile (or load from numba's disk cache) the default CPU kernel, so no frame pays for it."""
    if (method or default_method()) == "numba" and dibr_numba is not None:
        dibr_numba.warm_up()


def render_disparity(disparity: np.ndarray) -> np.ndarray:
    """The D the DIBR renderers warp with: the 5x5 median of D, borders replicated. float32 [H, W] -> [H, W]."""
    return cv2.medianBlur(np.ascontiguousarray(disparity, dtype=np.float32), MEDIAN)


def dibr_warp(rgb: np.ndarray, disparity: np.ndarray, positions: np.ndarray, baseline: float = 1.0,
              out: np.ndarray | None = None, out_dtype=np.float32, threads: int | None = None,
              method: str | None = None) -> np.ndarray:
    """Render views at aperture positions from the centre image and its disparity (CPU).

    Args:
        rgb: [H, W, 3] float in [0, 1] or uint8.
        disparity: float32 [H, W], D in pixels (larger is nearer).
        positions: float32 [P, 2] aperture coordinates (u, v).
        baseline: b, scales the parallax.
        out: optional C-contiguous [P, H, W, 3] array of `out_dtype` to write into.
        out_dtype: np.float32 or np.uint8.
        threads: views rendered in parallel (default: all cores).
        method: "numba" | "numpy" (default: `default_method()`).

    Returns:
        [P, H, W, 3] views (``out`` when given).
    """
    method = method or default_method()
    cpu_method.check_method("dibr_warp", method)
    rgb, disparity, positions = _validate(rgb, disparity, positions, baseline, out_dtype)
    H, W = disparity.shape
    shape = (positions.shape[0], H, W, 3)
    if out is None:
        out = np.empty(shape, out_dtype)
    elif out.shape != shape or out.dtype != np.dtype(out_dtype):
        raise ValueError(f"dibr_warp: out must be {np.dtype(out_dtype)} {shape}, got {out.dtype} {out.shape}")
    if method == "numba":
        if dibr_numba is None:
            raise RuntimeError("dibr_warp: method='numba' needs numba (pip install 'numba>=0.60')")
        return dibr_numba.render(rgb, disparity, positions, baseline, out, threads)
    keys = splat_keys(disparity)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)

    def render(p: int) -> None:
        _render_view(rgb, disparity, keys, xs, ys, positions[p], baseline, out, p, out_dtype)

    workers = min(len(positions), threads or os.cpu_count() or 1)
    if workers > 1:  # views are independent; OpenCV and most numpy kernels release the GIL
        list(_pool(workers).map(render, range(len(positions))))
    else:
        for p in range(len(positions)):
            render(p)
    return out


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per worker count: no threads are created per frame."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="dplf-dibr")
    return _POOLS[workers]


def _render_view(rgb, disparity, keys, xs, ys, position, baseline, out, p, out_dtype) -> None:
    """Steps 1-3 of the module docstring for one view, written to out[p]."""
    H, W = disparity.shape
    half = np.float32(0.5)
    su = np.float32(baseline) * position[0]
    sv = np.float32(baseline) * position[1]
    tx = np.floor((xs - disparity * su) + half).astype(np.int64).reshape(-1)
    ty = np.floor((ys - disparity * sv) + half).astype(np.int64).reshape(-1)
    inside = (tx >= 0) & (tx < W) & (ty >= 0) & (ty < H)
    zbuf = np.zeros(H * W, np.uint64)
    np.maximum.at(zbuf, (ty * W + tx)[inside], keys[inside])
    valid = (zbuf != 0).reshape(H, W)
    winner = (_LOW32 - (zbuf & _LOW32)).astype(np.int64)
    dt = np.where(valid, disparity.reshape(-1)[np.where(valid.reshape(-1), winner, 0)].reshape(H, W),
                  np.float32(0))
    colour = _sample(rgb, xs + dt * su, ys + dt * sv)
    if not valid.all():
        _fill_holes(colour, dt, valid, rgb, disparity, xs, ys, su, sv)
    _to_out(colour, out, p, out_dtype)


def _sample(rgb, xs, ys):
    """Bilinear, border-clamped float32 sampling of rgb [H, W, 3] at xs, ys [H', W'] -> [H', W', 3].

    The four taps are gathered with cv2.remap(INTER_NEAREST) at integer coordinates (exact); the weights are
    applied here because OpenCV's INTER_LINEAR quantises them to 1/32.
    """
    H, W = rgb.shape[:2]
    xs = np.clip(xs, 0, W - 1)
    ys = np.clip(ys, 0, H - 1)
    x0 = np.floor(xs)
    y0 = np.floor(ys)
    fx = cv2.merge([xs - x0] * 3)
    fy = cv2.merge([ys - y0] * 3)
    x1 = np.minimum(x0 + 1, W - 1)
    y1 = np.minimum(y0 + 1, H - 1)

    def lerp(a, b, f):  # a + f * (b - a), in place in a
        return cv2.add(a, cv2.multiply(cv2.subtract(b, a), f), dst=a)

    def tap(mx, my):
        return cv2.remap(rgb, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)

    top = lerp(tap(x0, y0), tap(x1, y0), fx)
    bottom = lerp(tap(x0, y1), tap(x1, y1), fx)
    return lerp(top, bottom, fy)


def _fill_holes(colour, dt, valid, rgb, disparity, xs, ys, su, sv):
    """Fill colour [H, W, 3] in place at the holes (~valid), step 3 of the module docstring."""
    H, W = dt.shape
    left, right, up, down = _nearest_visible(valid)
    hy, hx = np.nonzero(~valid)
    cand_y = np.stack([hy, hy, up[hy, hx], down[hy, hx]])
    cand_x = np.stack([left[hy, hx], right[hy, hx], hx, hx])
    present = (cand_y >= 0) & (cand_x >= 0)
    cand_d = np.where(present, dt[np.maximum(cand_y, 0), np.maximum(cand_x, 0)], np.inf)
    best = np.argmin(cand_d, axis=0)[None]  # first minimum: left, right, up, down
    by = np.take_along_axis(cand_y, best, 0)[0]
    bx = np.take_along_axis(cand_x, best, 0)[0]
    filled = colour[np.maximum(by, 0), np.maximum(bx, 0)]
    orphan = ~present.any(axis=0)
    if orphan.any():
        oy, ox = hy[orphan], hx[orphan]
        filled[orphan] = _sample(rgb, xs + disparity * su, ys + disparity * sv)[oy, ox]
    colour[hy, hx] = filled


def dibr_warp_reference(rgb: np.ndarray, disparity: np.ndarray, positions: np.ndarray, baseline: float = 1.0,
                        out_dtype=np.float32) -> np.ndarray:
    """Plain-loop version of :func:`dibr_warp` (same rules; small inputs only).  -> [P, H, W, 3]"""
    rgb, disparity, positions = _validate(rgb, disparity, positions, baseline, out_dtype)
    H, W = disparity.shape
    rgb_chw = rgb.transpose(2, 0, 1)
    out = np.empty((positions.shape[0], H, W, 3), out_dtype)

    def sample(x, y, d, su, sv):
        return bilinear_clamped(rgb_chw, np.float32([[x + d * su]]), np.float32([[y + d * sv]]))[:, 0, 0]

    for p, (u, v) in enumerate(positions):
        su, sv = np.float32(baseline) * u, np.float32(baseline) * v
        best = {}  # target -> (d, -source index)
        for y in range(H):
            for x in range(W):
                d = disparity[y, x]
                tx = int(np.floor(np.float32(np.float32(x) - d * su) + np.float32(0.5)))
                ty = int(np.floor(np.float32(np.float32(y) - d * sv) + np.float32(0.5)))
                if 0 <= tx < W and 0 <= ty < H:
                    cand = (float(d), -(y * W + x))
                    if (ty, tx) not in best or cand > best[(ty, tx)]:
                        best[(ty, tx)] = cand
        colour = np.zeros((H, W, 3))
        for (ty, tx), (d, _) in best.items():
            colour[ty, tx] = sample(np.float32(tx), np.float32(ty), np.float32(d), su, sv)
        for y in range(H):
            for x in range(W):
                if (y, x) in best:
                    continue
                candidates = []
                for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):  # left, right, up, down
                    cy, cx = y + dy, x + dx
                    while 0 <= cy < H and 0 <= cx < W and (cy, cx) not in best:
                        cy, cx = cy + dy, cx + dx
                    if 0 <= cy < H and 0 <= cx < W:
                        candidates.append((best[(cy, cx)][0], len(candidates), cy, cx))
                if candidates:
                    _, _, cy, cx = min(candidates)
                    colour[y, x] = colour[cy, cx]
                else:
                    colour[y, x] = sample(np.float32(x), np.float32(y), disparity[y, x], su, sv)
        _to_out(colour.astype(np.float32), out, p, out_dtype)
    return out

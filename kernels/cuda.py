"""CuPy launchers for the CUDA kernels (*.cu, compiled at run time with NVRTC through cupy.RawModule).

Same signatures and semantics as the CPU functions, taking and returning CuPy arrays (numpy inputs for the
small arguments such as planes/positions are accepted). CuPy is imported lazily, so importing this module
never needs a GPU; `cuda_available()` says whether the launchers can run.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .deblur import radii
from .levels import levels_table

from .preprocess import padded_size

_DIR = Path(__file__).resolve().parent
_BLOCK = (32, 8, 1)
_OUT_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16", np.dtype(np.uint8): "u8"}


class CudaUnavailableError(RuntimeError):
    """No CuPy or no usable CUDA device."""


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device. Never raises."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _cupy():
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install
        raise CudaUnavailableError(f"CUDA kernels need CuPy and a GPU ({exc}); use the CPU kernels") from exc
    return cupy


@functools.lru_cache(maxsize=None)
def _module(name: str):
    cp = _cupy()
    return cp.RawModule(code=(_DIR / f"{name}.cu").read_text(), options=("--std=c++14",))


def _kernel(module: str, name: str):
    return _module(module).get_function(name)


def _grid(width: int, height: int, depth: int = 1):
    return (-(-width // _BLOCK[0]), -(-height // _BLOCK[1]), depth)


def _out(cp, out, shape, dtype, where):
    if out is None:
        return cp.empty(shape, dtype)
    if tuple(out.shape) != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"{where}: out must be a C-contiguous {np.dtype(dtype)} array of shape {shape}")
    return out


def _positions(cp, positions, where: str):
    """positions as a contiguous float32 cupy [P, 2] (u, v), or a one-line error."""
    positions = cp.ascontiguousarray(cp.asarray(positions, dtype=cp.float32))
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"{where}: positions must be [P, 2] (u, v), got {positions.shape}")
    return positions


def _out_dtype(out_dtype, allowed, where: str) -> np.dtype:
    out_dtype = np.dtype(out_dtype)
    if out_dtype not in allowed:
        raise ValueError(f"{where}: out_dtype must be {' or '.join(np.dtype(a).name for a in allowed)}, "
                         f"got {out_dtype}")
    return out_dtype


def render_layers(layers, planes, positions, baseline: float = 1.0, out=None, out_dtype=np.float32):
    """GPU render_layers: layers cupy float32/float16 [L, R, 3, H, W] -> cupy [P, H, W, 3] of out_dtype."""
    cp = _cupy()
    layers = cp.asarray(layers)
    if layers.ndim != 5 or layers.shape[2] != 3:
        raise ValueError(f"render_layers: layers must be [L, R, 3, H, W], got shape {layers.shape}")
    if layers.dtype not in (cp.float32, cp.float16):
        layers = layers.astype(cp.float32)
    layers = cp.ascontiguousarray(layers)
    L, R, _, H, W = layers.shape
    if L > 8:
        raise ValueError(f"render_layers: the CUDA kernel supports at most 8 layers, got {L}")
    planes = cp.ascontiguousarray(cp.asarray(planes, dtype=cp.float32).reshape(-1))
    positions = cp.ascontiguousarray(cp.asarray(positions, dtype=cp.float32))
    if planes.shape != (L,) or positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"render_layers: need planes [L={L}] and positions [P, 2], got {planes.shape}, "
                         f"{positions.shape}")
    out_dtype = np.dtype(out_dtype)
    if out_dtype not in _OUT_SUFFIX:
        raise ValueError(f"render_layers: out_dtype must be float32, float16 or uint8, got {out_dtype}")
    P = positions.shape[0]
    out = _out(cp, out, (P, H, W, 3), out_dtype, "render_layers")
    if P == 0:
        return out
    name = f"render_layers_{'f16' if layers.dtype == cp.float16 else 'f32'}_{_OUT_SUFFIX[out_dtype]}"
    # fp16 arrays are passed as their raw bits (the kernel converts with cvt.f32.f16).
    src = layers.view(cp.uint16) if layers.dtype == cp.float16 else layers
    dst = out.view(cp.uint16) if out_dtype == np.float16 else out
    tiles = _grid(W, H)
    _kernel("render_layers", name)((P, tiles[0], tiles[1]), _BLOCK,
                                   (src, planes, positions, np.float32(baseline), np.int32(L), np.int32(R),
                                    np.int32(H), np.int32(W), np.int32(P), dst))
    return out


PACKED_RANKS = (4, 12)   # ranks with a compiled packed-layout kernel


def packed_channels(rank: int, dtype) -> int:
    """CP: the 3 * rank channels of a pixel rounded up to a 16-byte multiple."""
    vec = 16 // np.dtype(dtype).itemsize
    return -(-3 * rank // vec) * vec


def pack_layers(layers, dtype=np.float16, out=None):
    """[L, R, 3, H, W] (cupy, any float) -> packed [L, H, W, CP] of `dtype` (float16 or float32), channels
    in (r, c) order; the padding channels are never read."""
    cp = _cupy()
    layers = cp.asarray(layers)
    if layers.ndim != 5 or layers.shape[2] != 3:
        raise ValueError(f"pack_layers: layers must be [L, R, 3, H, W], got shape {layers.shape}")
    L, R, _, H, W = layers.shape
    shape = (L, H, W, packed_channels(R, dtype))
    out = _out(cp, out, shape, np.dtype(dtype), "pack_layers")
    out[..., :3 * R] = layers.reshape(L, 3 * R, H, W).transpose(0, 2, 3, 1)
    return out


def render_layers_packed(packed, planes, positions, rank: int, baseline: float = 1.0, out=None,
                         out_dtype=np.float32):
    """render_layers on packed layers [L, H, W, CP] (see pack_layers) -> cupy [P, H, W, 3]; same results."""
    cp = _cupy()
    if rank not in PACKED_RANKS:
        raise ValueError(f"render_layers_packed: rank {rank} has no packed kernel ({PACKED_RANKS}); "
                         f"use render_layers")
    if packed.ndim != 4 or packed.dtype not in (cp.float16, cp.float32) or not packed.flags.c_contiguous \
            or packed.shape[3] != packed_channels(rank, packed.dtype):
        raise ValueError(f"render_layers_packed: need C-contiguous float16/float32 [L, H, W, "
                         f"{packed_channels(rank, packed.dtype)}], got {packed.dtype} {packed.shape}")
    L, H, W, _ = packed.shape
    planes = cp.ascontiguousarray(cp.asarray(planes, dtype=cp.float32).reshape(-1))
    positions = _positions(cp, positions, "render_layers_packed")
    if L > 8 or planes.shape != (L,):
        raise ValueError(f"render_layers_packed: need L <= 8 and planes [L={L}]; got {planes.shape}")
    out_dtype = _out_dtype(out_dtype, (np.float32, np.uint8), "render_layers_packed")
    P = positions.shape[0]
    out = _out(cp, out, (P, H, W, 3), out_dtype, "render_layers_packed")
    if P == 0:
        return out
    src = packed.view(cp.uint16) if packed.dtype == cp.float16 else packed
    name = f"render_packed_{'f16' if packed.dtype == cp.float16 else 'f32'}_r{rank}_{_OUT_SUFFIX[out_dtype]}"
    tiles = _grid(W, H)
    _kernel("render_layers", name)((P, tiles[0], tiles[1]), _BLOCK,
                                   (src, planes, positions, np.float32(baseline), np.int32(L), np.int32(H),
                                    np.int32(W), np.int32(P), out))
    return out


def dibr_warp(rgb, disparity, positions, baseline: float = 1.0, out=None, out_dtype=np.float32,
              workspace: dict | None = None):
    """GPU dibr_warp: rgb cupy [H, W, 3] (uint8 or float [0, 1]), disparity [H, W] -> cupy [P, H, W, 3].

    workspace: a dict the caller keeps between frames; the z-buffer and scratch planes live there and are
    reused while (P, H, W) stays the same (no per-frame allocation).
    """
    cp = _cupy()
    rgb = cp.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"dibr_warp: rgb must be [H, W, 3], got shape {rgb.shape}")
    rgb = rgb.astype(cp.float32) / 255.0 if rgb.dtype == cp.uint8 else rgb.astype(cp.float32, copy=False)
    rgb = cp.ascontiguousarray(rgb)
    H, W = rgb.shape[:2]
    disparity = cp.ascontiguousarray(cp.asarray(disparity, dtype=cp.float32))
    if disparity.shape != (H, W):
        raise ValueError(f"dibr_warp: disparity must be [H, W] = {(H, W)}, got {disparity.shape}")
    positions = _positions(cp, positions, "dibr_warp")
    out_dtype = _out_dtype(out_dtype, (np.float32, np.uint8), "dibr_warp")
    P = positions.shape[0]
    out = _out(cp, out, (P, H, W, 3), out_dtype, "dibr_warp")
    if P == 0:
        return out
    ws = workspace if workspace is not None else {}
    if ws.get("shape") != (P, H, W):
        # dt/colour are read only where resolve wrote them (zbuf != 0): only the z-buffer needs zeroing
        ws.update(shape=(P, H, W), zbuf=cp.empty((P, H, W), cp.uint64), dt=cp.empty((P, H, W), cp.float32),
                  colour=cp.empty((P, H, W, 3), cp.float32))
    zbuf, dt, colour = ws["zbuf"], ws["dt"], ws["colour"]
    zbuf.fill(0)
    grid = _grid(W, H, P)
    b, h, w, p = np.float32(baseline), np.int32(H), np.int32(W), np.int32(P)
    _kernel("dibr_warp", "dibr_splat")(grid, _BLOCK, (disparity, positions, b, h, w, p, zbuf))
    _kernel("dibr_warp", "dibr_resolve")(grid, _BLOCK, (rgb, disparity, positions, b, h, w, p, zbuf, dt, colour))
    _kernel("dibr_warp", f"dibr_fill_{_OUT_SUFFIX[out_dtype]}")(
        grid, _BLOCK, (rgb, disparity, positions, b, h, w, p, zbuf, dt, colour, out))
    return out


def deblur(rgb, disparity, iterations: int = 3, radius=0.9, out=None, eps: float = 1e-3):
    """GPU `deblur` (semantics and reference in kernels/deblur.py): rgb cupy float32 [H, W, 3] in [0, 1],
    disparity [H, W] -> cupy float32 [H, W, 3]. Summed-area tables by cupy.cumsum (float64), the box blur by
    kernels/deblur.cu, the Richardson-Lucy arithmetic by CuPy element-wise operations. radius: R or (R_x, R_y)."""
    cp = _cupy()
    rgb = cp.ascontiguousarray(cp.asarray(rgb, dtype=cp.float32))
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"deblur: rgb must be [H, W, 3], got shape {rgb.shape}")
    H, W = rgb.shape[:2]
    disparity = cp.asarray(disparity, dtype=cp.float32)
    if disparity.shape != (H, W):
        raise ValueError(f"deblur: disparity must be [H, W] = {(H, W)}, got {disparity.shape}")
    out = _out(cp, out, (H, W, 3), np.float32, "deblur")
    rx, ry = radii(radius)
    mag = cp.abs(disparity.astype(cp.float64))
    half_x, half_y = cp.ascontiguousarray(rx * mag), cp.ascontiguousarray(ry * mag)
    b = rgb.astype(cp.float64)
    x = b.copy()
    table = cp.zeros((H + 1, W + 1, 3), cp.float64)
    blurred = cp.empty_like(b)
    blur, grid = _kernel("deblur", "deblur_box_blur"), _grid(W, H)

    def box(image):
        table[1:, 1:] = cp.cumsum(cp.cumsum(image, axis=0), axis=1)
        blur(grid, _BLOCK, (table, half_x, half_y, np.int32(H), np.int32(W), blurred))
        return blurred

    for _ in range(int(iterations)):
        ratio = b / cp.maximum(box(x), eps)
        x *= box(ratio)
    out[...] = cp.clip(x, 0.0, 1.0)
    return out


def half_aperture_rgb(rgb, left, right, out=None):
    """GPU kernels.dp_views.half_aperture_rgb: rgb cupy float32 [H, W, 3], left / right [H, W] -> cupy float32
    [2, H, W, 3]; the same function run by CuPy (the DP balance stays on the device: no synchronisation)."""
    from . import dp_views

    cp = _cupy()
    rgb = cp.asarray(rgb, dtype=cp.float32)
    out = None if out is None else _out(cp, out, (2,) + rgb.shape, np.float32, "half_aperture_rgb")
    return dp_views.half_aperture_rgb(rgb, cp.asarray(left, dtype=cp.float32), cp.asarray(right, dtype=cp.float32),
                                      out=out, xp=cp)


def render_disparity(disparity):
    """GPU kernels.dibr.render_disparity: the 5x5 median of D with replicated borders (cupyx.scipy.ndimage,
    OpenCV's medianBlur semantics). cupy float32 [H, W] -> [H, W]."""
    from cupyx.scipy import ndimage

    from .dibr import MEDIAN

    cp = _cupy()
    return ndimage.median_filter(cp.asarray(disparity, dtype=cp.float32), size=MEDIAN, mode="nearest")


def render_from_halves(halves, disparity, positions, baseline: float = 1.0, out=None, out_dtype=np.float32,
                       workspace: dict | None = None):
    """GPU kernels.dp_views.render_from_halves: every view warped by `dibr_warp` from the left / right half of
    halves cupy [2, H, W, 3], or blended from both (`dp_views.view_weights`, computed on the host from
    positions [P, 2]). workspace: per-group z-buffers and scratch kept between frames. -> cupy [P, H, W, 3]."""
    from .dp_views import half_offsets, view_weights

    cp = _cupy()
    offsets, t = view_weights(positions.get() if hasattr(positions, "get") else positions, baseline)
    disparity = cp.ascontiguousarray(cp.asarray(disparity, dtype=cp.float32))
    H, W = disparity.shape
    out_dtype = _out_dtype(out_dtype, (np.float32, np.uint8), "render_from_halves")
    out = _out(cp, out, (len(offsets), H, W, 3), out_dtype, "render_from_halves")
    ws = workspace if workspace is not None else {}

    def warp(half, views, dtype, role):
        scratch = ws.setdefault((role, half), {})   # one z-buffer and view buffer per group: their sizes differ
        buf = scratch.get("views")
        if buf is None or buf.shape != (views.size, H, W, 3) or buf.dtype != dtype:
            buf = scratch["views"] = cp.empty((views.size, H, W, 3), dtype)
        return dibr_warp(halves[half], disparity, half_offsets(offsets[views], half), 1.0, out=buf, out_dtype=dtype,
                         workspace=scratch)

    for half, views in ((0, np.flatnonzero(t == 0)), (1, np.flatnonzero(t == 1))):
        if views.size == len(offsets):
            return dibr_warp(halves[half], disparity, half_offsets(offsets, half), 1.0, out=out, out_dtype=out_dtype,
                             workspace=ws.setdefault(("all", half), {}))
        if views.size:
            out[cp.asarray(views)] = warp(half, views, out_dtype, "alone")
    mixed = np.flatnonzero((t > 0) & (t < 1))
    if mixed.size:
        left, right = warp(0, mixed, np.dtype(np.float32), "mixed"), warp(1, mixed, np.dtype(np.float32), "mixed")
        colour = left + cp.asarray(t[mixed])[:, None, None, None] * (right - left)
        if out_dtype == np.uint8:
            colour = cp.clip(cp.rint(colour * cp.float32(255.0)), 0, 255).astype(cp.uint8)
        out[cp.asarray(mixed)] = colour
    return out


_IN_SUFFIX = {np.dtype(np.uint8): "u8", np.dtype(np.uint16): "u16", np.dtype(np.float32): "f32"}


def preprocess(left, right, rgb=None, multiple: int = 16, out=None, black_level: float = 0.0,
               white_level: float | None = None):
    """GPU preprocess: cupy planes -> (dp cupy [1, 2, Hp, Wp], rgb cupy [1, 3, Hp, Wp], (H, W))."""
    cp = _cupy()
    left, right = cp.asarray(left), cp.asarray(right)
    if left.ndim != 2 or right.shape != left.shape:
        raise ValueError(f"preprocess: left/right must be matching [H, W], got {left.shape} and {right.shape}")
    if left.dtype == cp.float16 or left.dtype == cp.float64:
        left, right = left.astype(cp.float32), right.astype(cp.float32)
    if np.dtype(left.dtype) not in _IN_SUFFIX or right.dtype != left.dtype:
        raise ValueError(f"preprocess: left/right must both be uint8, uint16 or float32, got {left.dtype}, "
                         f"{right.dtype}")
    H, W = left.shape
    Hp, Wp = padded_size(H, W, multiple)
    if out is None:
        dp_out, rgb_out = cp.empty((1, 2, Hp, Wp), cp.float32), cp.empty((1, 3, Hp, Wp), cp.float32)
    else:
        dp_out, rgb_out = out
        if dp_out.shape != (1, 2, Hp, Wp) or rgb_out.shape != (1, 3, Hp, Wp):
            raise ValueError(f"preprocess: out must be (dp [1, 2, {Hp}, {Wp}], rgb [1, 3, {Hp}, {Wp}]) float32")
    suffix = _IN_SUFFIX[np.dtype(left.dtype)]
    lut = _levels_on_device(cp, left.dtype, black_level, white_level, "preprocess: left/right")
    grid = _grid(Wp, Hp)
    dims = (np.int32(H), np.int32(W), np.int32(Hp), np.int32(Wp))
    _kernel("preprocess", f"preprocess_dp_{suffix}")(
        grid, _BLOCK, (cp.ascontiguousarray(left), cp.ascontiguousarray(right), *dims, lut, dp_out))
    if rgb is None:
        _kernel("preprocess", "preprocess_rgb_from_dp")(grid, _BLOCK, (dp_out, np.int32(Hp), np.int32(Wp), rgb_out))
    else:
        rgb = cp.asarray(rgb)
        if rgb.dtype in (cp.float16, cp.float64):
            rgb = rgb.astype(cp.float32)
        if rgb.shape != (H, W, 3) or np.dtype(rgb.dtype) not in _IN_SUFFIX:
            raise ValueError(f"preprocess: rgb must be [H, W, 3] = {(H, W, 3)} uint8/uint16/float32, "
                             f"got {rgb.dtype} {rgb.shape}")
        rsuffix = _IN_SUFFIX[np.dtype(rgb.dtype)]
        rlut = _levels_on_device(cp, rgb.dtype, 0.0, None, "preprocess: rgb")
        _kernel("preprocess", f"preprocess_rgb_{rsuffix}")(
            grid, _BLOCK, (cp.ascontiguousarray(rgb), *dims, rlut, rgb_out))
    return dp_out, rgb_out, (H, W)


_DEVICE_TABLES: dict = {}


def _levels_on_device(cp, dtype, black_level, white_level, name):
    """The `kernels.levels` table for integer planes, uploaded once per (device, dtype, levels); a 1-entry
    placeholder for float planes (the kernel does not read it)."""
    dtype = np.dtype(dtype)
    key = (cp.cuda.Device().id, dtype.str, float(black_level),
           None if white_level is None else float(white_level))
    if key not in _DEVICE_TABLES:
        table = (levels_table(dtype, black_level, white_level, name) if dtype.kind == "u"
                 else np.zeros(1, np.float32))
        _DEVICE_TABLES[key] = cp.asarray(table)
    return _DEVICE_TABLES[key]


def defocus_box_min_max(err, inv_noise, families: int, window: int, best=None, worst=None):
    """Fused DP-cost aggregation (kernels/defocus_aggregate.cu): err cupy float32 [F*J, H, W], inv_noise [F*J]
    -> (best, worst) [J, H, W]: min / max over the F families of inv_noise * box_window(err), edge-replicated."""
    cp = _cupy()
    if err.ndim != 3 or err.dtype != cp.float32 or not err.flags.c_contiguous or err.shape[0] % families:
        raise ValueError(f"defocus_box_min_max: err must be C-contiguous float32 [F*J, H, W] with F={families}, "
                         f"got {err.dtype} {err.shape}")
    if window % 2 == 0 or not 1 <= window <= 31:
        raise ValueError(f"defocus_box_min_max: window must be odd and <= 31, got {window}")
    C, H, W = err.shape
    J = C // families
    inv_noise = cp.ascontiguousarray(inv_noise.reshape(-1), dtype=cp.float32)
    best = _out(cp, best, (J, H, W), np.dtype(np.float32), "defocus_box_min_max")
    worst = _out(cp, worst, (J, H, W), np.dtype(np.float32), "defocus_box_min_max")
    _kernel("defocus_aggregate", "defocus_box_min_max")(
        (-(-W // 32), -(-H // 32), J), (32, 8, 1),
        (err, inv_noise, np.int32(families), np.int32(J), np.int32(H), np.int32(W), np.int32(window), best, worst))
    return best, worst

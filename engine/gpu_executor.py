"""`GpuExecutor`: the pipeline's GPU hot path: one CUDA stream, pinned host buffers, no per-frame allocation.

A frame goes: host planes -> pinned staging -> async upload -> `preprocess` kernel -> DP student (device I/O)
-> crop -> [deblur] -> `dibr_warp` (renderer "dibr-dp": `render_from_halves`; or LF student + `render_layers`)
-> async download into pinned buffers -> one synchronise. Every device and pinned buffer is allocated on the
first frame of a size and reused after. With outputs="device" nothing is downloaded: the frame's arrays are
CuPy arrays on the GPU. The DIBR renderers warp with `render_disparity(D)` (5x5 median), as on the CPU.
Stage times come from CUDA events recorded on the stream (GPU time); "total" is host wall time.
"""
from __future__ import annotations

import time

import numpy as np

from .kernel_package import load as _load_kernels
from .validation import as_unit_plane, check_pair

_levels = _load_kernels("levels")

_STAGES = ("upload", "preprocess", "disparity", "lf", "render", "download")


def _raw_plane(arr: np.ndarray, name: str, black: float, white: float | None) -> np.ndarray:
    """What the preprocess kernel takes: uint8/uint16 as they are (levels checked by `kernels.levels`, whose
    table the kernel indexes), anything float checked -> float32 (`as_unit_plane`, the CPU path)."""
    if arr.dtype in (np.uint8, np.uint16):
        _levels.check_levels(arr.dtype, black, white, name)
        return arr
    return as_unit_plane(arr, name, black, white)   # one-line errors for NaN, range and other dtypes


class GpuExecutor:
    """Per-pipeline GPU state. `process(...)` returns the pieces of a PipelineOutput.

    dp_session / lf_session: sessions with device I/O (`Session.run_device`); lf_session None renders with
    DIBR; dp_session None skips the disparity stage (for an LF network that takes only rgb + dp).
    stream: the CuPy stream for everything (a backend that owns one, such as ort-cuda, passes its own).
    """

    def __init__(self, dp_session, lf_session, positions: np.ndarray | None, outputs: str = "host",
                 stream=None, deblur: tuple[int, float] | None = None, dp_views: bool = False):
        import cupy as cp
        import cupyx

        self.cp, self._pinned_alloc = cp, cupyx.empty_pinned
        self.dp, self.lf, self.outputs = dp_session, lf_session, outputs
        self.stream = stream if stream is not None else cp.cuda.Stream(non_blocking=True)
        self.positions = None if positions is None else cp.asarray(positions, cp.float32)
        self.host_positions = None if positions is None else np.asarray(positions, np.float32)
        self._dev: dict = {}
        self._host: dict = {}
        self._events = {s: (cp.cuda.Event(), cp.cuda.Event()) for s in _STAGES}
        self.dibr_workspace: dict = {}
        self.deblur = deblur          # (iterations, radius): renderer "dibr-deblur" sharpens the RGB before DIBR
        self.dp_views = dp_views      # renderer "dibr-dp": the views warp from the (sharpened) DP halves

    # -- reused buffers ----------------------------------------------------------------------------------
    def dev(self, key: str, shape, dtype):
        buf = self._dev.get(key)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != np.dtype(dtype):
            buf = self._dev[key] = self.cp.empty(tuple(shape), dtype)
        return buf

    def pinned(self, key: str, shape, dtype) -> np.ndarray:
        buf = self._host.get(key)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != np.dtype(dtype):
            buf = self._host[key] = self._pinned_alloc(tuple(shape), dtype)
        return buf

    def upload(self, key: str, arr: np.ndarray):
        staging = self.pinned(key, arr.shape, arr.dtype)
        np.copyto(staging, arr)
        dst = self.dev(key, arr.shape, arr.dtype)
        dst.set(staging, stream=self.stream)
        return dst

    def download(self, key: str, arr):
        host = self.pinned(key, arr.shape, arr.dtype)
        arr.get(stream=self.stream, out=host, blocking=False)
        return host

    # -- one frame ---------------------------------------------------------------------------------------
    def process(self, left, right, rgb, black: float, white: float | None, n_views: int, baseline: float,
                dtype) -> dict:
        cuda = _load_kernels("cuda")

        cp, s, ev = self.cp, self.stream, self._events
        t0 = time.perf_counter()
        check_pair(left, right, rgb)
        left, right = _raw_plane(left, "left", black, white), _raw_plane(right, "right", black, white)
        if left.dtype != right.dtype:   # the kernel takes one dtype for both planes
            left, right = as_unit_plane(left, "left", black, white), as_unit_plane(right, "right", black, white)
        if rgb is not None:
            rgb = rgb if rgb.dtype in (np.uint8, np.uint16) else as_unit_plane(rgb, "rgb")
        h, w = left.shape
        with s:
            ev["upload"][0].record(s)
            d_left, d_right = self.upload("left", left), self.upload("right", right)
            d_rgb = None if rgb is None else self.upload("rgb", rgb)
            ev["upload"][1].record(s)

            ev["preprocess"][0].record(s)
            hp, wp = -(-h // 16) * 16, -(-w // 16) * 16
            bufs = (self.dev("dp", (1, 2, hp, wp), cp.float32), self.dev("rgb_nchw", (1, 3, hp, wp), cp.float32))
            dp, rgb_nchw, _ = cuda.preprocess(d_left, d_right, d_rgb, out=bufs, black_level=black,
                                              white_level=white)
            ev["preprocess"][1].record(s)

            disp_pad = disparity = None
            if self.dp is not None:        # None: an LF network that needs no disparity (the paper's baseline)
                ev["disparity"][0].record(s)
                disp_pad = self.dp.run_device({"dp": dp}, s)["disparity"]
                disparity = self.dev("disparity", (h, w), cp.float32)
                disparity[...] = disp_pad[0, 0, :h, :w]
                ev["disparity"][1].record(s)

            out = {"disparity": disparity, "views": None, "layers": None, "planes": None, "rgb": None,
                   "halves": None}
            if n_views:
                views = self.dev("views", (len(self.positions), h, w, 3), dtype)
                if self.lf is not None:
                    ev["lf"][0].record(s)
                    feeds = {"rgb": rgb_nchw, "dp": dp, "disparity": disp_pad}
                    res = self.lf.run_device({k: feeds[k] for k in self.lf.input_names}, s)
                    L, R = res["layers"].shape[1:3]
                    # FP16 sessions keep the layers in FP16: half the bytes the renderer reads
                    ldtype = cp.float16 if getattr(self.lf, "fp16", False) else cp.float32
                    src = res["layers"][0, ..., :h, :w]
                    if R in cuda.PACKED_RANKS:   # pixel-major layout: 16-byte loads of 8 channels
                        layers = self.dev("layers", (L, h, w, cuda.packed_channels(R, ldtype)), ldtype)
                        cuda.pack_layers(src, ldtype, out=layers)
                    else:
                        layers = self.dev("layers", (L, R, 3, h, w), ldtype)
                        layers[...] = src
                    self.rank = R
                    out["layers"], out["planes"] = layers, res["planes"][0]
                    ev["lf"][1].record(s)
                    ev["render"][0].record(s)
                    self._render_layers(layers, out["planes"], self.positions, baseline, views, dtype)
                else:
                    ev["render"][0].record(s)
                    colour = self.dev("rgb_hwc", (h, w, 3), cp.float32)
                    colour[...] = rgb_nchw[0, :, :h, :w].transpose(1, 2, 0)
                    warp_d = cuda.render_disparity(disparity)
                    if self.dp_views:
                        out["halves"] = self._sharp_halves(colour, dp[0, :, :h, :w], disparity)
                        cuda.render_from_halves(out["halves"], warp_d, self.host_positions, baseline, out=views,
                                                out_dtype=dtype, workspace=self.dibr_workspace)
                    else:
                        if self.deblur is not None:
                            colour = cuda.deblur(colour, disparity, *self.deblur,
                                                 out=self.dev("rgb_sharp", (h, w, 3), cp.float32))
                        cuda.dibr_warp(colour, warp_d, self.positions, baseline, out=views, out_dtype=dtype,
                                       workspace=self.dibr_workspace)
                ev["render"][1].record(s)
                out["views"] = views

            if self.lf is None and n_views:
                out["rgb"] = colour          # on the GPU: what `render()` re-warps
            if self.outputs == "host":      # the layers stay on the GPU: downloading them would dominate
                ev["download"][0].record(s)
                for k in ("disparity", "views"):
                    out[k] = None if out[k] is None else self.download(k, out[k])
                ev["download"][1].record(s)
        s.synchronize()
        timings = {}
        for stage, (a, b) in ev.items():
            if (stage == "lf" and self.lf is None or stage == "download" and self.outputs != "host"
                    or stage == "disparity" and self.dp is None):
                continue
            if stage in ("lf", "render") and not n_views:
                continue
            timings[stage] = cp.cuda.get_elapsed_time(a, b)
        timings["total"] = (time.perf_counter() - t0) * 1e3
        out["timings"] = timings
        return out

    def _sharp_halves(self, colour, dp, disparity):
        """"dibr-dp"'s side sources: the RGB re-lit by each DP half (dp: the normalised planes [2, H, W]), each
        sharpened with a box of (R / 2, R). -> cupy float32 [2, H, W, 3]."""
        cuda = _load_kernels("cuda")

        h, w = disparity.shape
        halves = cuda.half_aperture_rgb(colour, dp[0], dp[1], out=self.dev("halves", (2, h, w, 3), self.cp.float32))
        iterations, radius = self.deblur
        for half in halves:
            cuda.deblur(half, disparity, iterations, (radius / 2, radius), out=half)
        return halves

    def render(self, disparity, rgb, layers, planes, positions: np.ndarray, baseline: float, dtype, halves=None):
        """Re-render a frame's arrays at explicit positions [P, 2] on the GPU (host or device result)."""
        cuda = _load_kernels("cuda")

        cp = self.cp
        with self.stream:
            pos = cp.asarray(positions, cp.float32)
            if layers is not None:
                views = self._render_layers(layers, planes, pos, baseline, None, dtype)
            elif halves is not None:
                views = cuda.render_from_halves(halves, cuda.render_disparity(cp.asarray(disparity)), positions,
                                                baseline, out_dtype=dtype)
            else:
                views = cuda.dibr_warp(rgb, cuda.render_disparity(cp.asarray(disparity)), pos, baseline,
                                       out_dtype=dtype)
            result = views.get(stream=self.stream) if self.outputs == "host" else views
        self.stream.synchronize()
        return result

    def _render_layers(self, layers, planes, positions, baseline, out, dtype):
        cuda = _load_kernels("cuda")

        if layers.ndim == 4:   # packed [L, H, W, CP]
            return cuda.render_layers_packed(layers, planes, positions, self.rank, baseline, out=out,
                                             out_dtype=dtype)
        return cuda.render_layers(layers, planes, positions, baseline, out=out, out_dtype=dtype)

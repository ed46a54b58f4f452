"""`torch-cuda` backend: the TorchScript artefact `dplf export` writes beside each ONNX, on a CUDA GPU, FP16,
CUDA graphs.

`load(onnx_path)` runs `<name>.ts` from the same folder (the file index.json lists as `torchscript`, else the
ONNX name without `.fp16`/`.onnx` plus `.ts`): `torch.jit.load(path, map_location="cuda")`, called as
`module(*inputs)` with float32 NCHW inputs in ONNX input order, returning its outputs in ONNX output order;
the ONNX metadata travels in the TorchScript extra file `metadata.json`. No Python model code is imported
(the runtime never imports `models`), and torch is imported only here, lazily. How the DP student's matching
runs was fixed when the artefact was exported. Per input shape the session captures one CUDA graph and replays it:
static input/output tensors are the only device memory it touches per frame, and CuPy sees them through DLPack
without copies. fp16 = autocast (convolutions in FP16, reductions in FP32); modules that must stay FP32 (the DP
cost volume, where FP16 cancels the defocus residual) disable autocast themselves.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

import numpy as np

from ..model_store import ModelStore
from .base import Backend, BackendUnavailable, Probe, Session, cuda_device_count, onnx_metadata
from .registry import register_backend

METADATA_FILE = "metadata.json"   # the TorchScript extra file holding the ONNX metadata


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailable("backend 'torch-cuda' needs PyTorch with CUDA: pip install 'dplf[train]' on a "
                                 "CUDA machine") from exc
    return torch


@contextlib.contextmanager
def _kernel_choice(torch, allow_tf32: bool = False, benchmark: bool = True):
    """While this backend runs or captures: TF32 off by default (it keeps 10 mantissa bits, as FP16 does), and
    cuDNN autotuning on (algorithms are picked during warm-up, outside the graph). Restored afterwards."""
    b = torch.backends
    saved = b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32, b.cudnn.benchmark
    b.cudnn.allow_tf32 = b.cuda.matmul.allow_tf32 = allow_tf32
    b.cudnn.benchmark = benchmark
    try:
        yield
    finally:
        b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32, b.cudnn.benchmark = saved


class TorchCudaSession(Session):
    """Runs an `nn.Module` on the GPU. Inputs/outputs by name; a CUDA graph per input-shape set.

    Args:
        module: the network (moved to the GPU, eval mode).
        input_names / output_names: names of forward's positional inputs and of its outputs, in order.
        fp16: run under autocast(float16); outputs are returned as float32.
        graphs: capture CUDA graphs (falls back to eager with the reason in `self.graph_error` if capture fails).
        allow_tf32 / cudnn_benchmark: kernel choice while running and capturing (see `_kernel_choice`).
    """

    device_io = True

    def __init__(self, module, input_names, output_names, fp16: bool = True, graphs: bool = True,
                 metadata: dict | None = None, allow_tf32: bool = False, cudnn_benchmark: bool = True):
        self._torch = _torch()
        self.module = module.to("cuda").eval()
        self.input_names, self.output_names = tuple(input_names), tuple(output_names)
        self.fp16, self.use_graphs = fp16, graphs
        self.allow_tf32, self.cudnn_benchmark = allow_tf32, cudnn_benchmark
        self.metadata = dict(metadata or {})
        self.graph_error: str | None = None
        self._graphs: dict = {}          # shape key -> (graph, static inputs, static outputs)
        self._external: dict = {}        # cupy stream pointer -> torch.cuda.ExternalStream
        self._as_cupy: dict = {}          # output data pointers -> CuPy views of them

    def _forward(self, inputs):
        torch = self._torch
        with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=self.fp16, cache_enabled=False):
            out = self.module(*inputs)
        out = out if isinstance(out, (tuple, list)) else (out,)
        if len(out) != len(self.output_names):
            raise ValueError(f"model returned {len(out)} outputs, expected {list(self.output_names)}")
        return tuple(o.float() for o in out)

    def _capture(self, key, example):
        torch = self._torch
        static_in = [t.clone() for t in example]
        with _kernel_choice(torch, self.allow_tf32, self.cudnn_benchmark):
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):        # warm-up: cuDNN picks its algorithms outside the capture
                    self._forward(static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._forward(static_in)
        self._graphs[key] = (graph, static_in, static_out)
        return self._graphs[key]

    def run_torch(self, inputs: list, stream=None) -> tuple:
        """inputs: CUDA tensors in `input_names` order -> output tensors (float32; owned, reused)."""
        torch = self._torch
        key = tuple((tuple(t.shape), t.dtype) for t in inputs)
        ctx = torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()
        with ctx:
            if self.use_graphs and self.graph_error is None:
                entry = self._graphs.get(key)
                if entry is None:
                    try:
                        entry = self._capture(key, inputs)
                    except RuntimeError as exc:   # an op that cannot be captured: run eagerly, say why
                        self.graph_error = f"CUDA graph capture failed, running eagerly: {exc}".splitlines()[0]
                        torch.cuda.synchronize()
                        entry = None
                if entry is not None:
                    graph, static_in, static_out = entry
                    for dst, src in zip(static_in, inputs):
                        dst.copy_(src, non_blocking=True)
                    graph.replay()
                    return static_out
            with _kernel_choice(torch, self.allow_tf32, self.cudnn_benchmark):
                return self._forward(inputs)

    def run_device(self, feeds: dict, stream) -> dict:
        import cupy

        torch = self._torch
        if stream is None:
            stream = cupy.cuda.get_current_stream()
        tstream = self._external.get(stream.ptr)
        if tstream is None:
            tstream = self._external[stream.ptr] = torch.cuda.ExternalStream(stream.ptr)
        with torch.cuda.stream(tstream):   # same stream on both sides: DLPack adds no synchronisation
            inputs = [torch.from_dlpack(_require(feeds, n)) for n in self.input_names]
            outputs = self.run_torch(inputs)
            if not self.use_graphs or self.graph_error is not None:
                return {n: cupy.from_dlpack(o) for n, o in zip(self.output_names, outputs)}
            key = tuple(o.data_ptr() for o in outputs)
            if key not in self._as_cupy:   # graph outputs are static tensors: wrap them once
                self._as_cupy[key] = {n: cupy.from_dlpack(o) for n, o in zip(self.output_names, outputs)}
            return self._as_cupy[key]

    def run_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        inputs = [torch.from_numpy(np.ascontiguousarray(_require(feeds, n), np.float32)).cuda()
                  for n in self.input_names]
        outputs = self.run_torch(inputs)
        torch.cuda.current_stream().synchronize()
        return {n: o.cpu().numpy() for n, o in zip(self.output_names, outputs)}


def _require(feeds: dict, name: str):
    if name not in feeds:
        raise ValueError(f"model input {name!r} was not given (got {sorted(feeds)})")
    return feeds[name]


def torchscript_path(onnx_path) -> Path:
    """The TorchScript file exported beside `onnx_path` (index.json's `torchscript` entry for that model when
    the folder has an index, else `<stem>.ts` with `.fp16` dropped)."""
    onnx_path = Path(onnx_path)
    found = _index_entry(onnx_path)
    if found is not None and "torchscript" in found.files:
        return onnx_path.with_name(found.files["torchscript"])
    return onnx_path.with_name(onnx_path.name.removesuffix(".onnx").removesuffix(".fp16") + ".ts")


def model_io(onnx_path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(input names, output names) of the model in ONNX order: from index.json, else from the ONNX file."""
    found = _index_entry(Path(onnx_path))
    if found is not None:
        return found.inputs, found.outputs
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return tuple(i.name for i in sess.get_inputs()), tuple(o.name for o in sess.get_outputs())


def _index_entry(onnx_path: Path):
    try:
        found = ModelStore(onnx_path.parent).entry_for_file(onnx_path)
    except (OSError, ValueError):   # no index (a bare folder of files): fall back to names
        return None
    return None if found is None else found[0]


def load_torchscript(path, device: str = "cuda") -> tuple[object, dict]:
    """(module in eval mode on `device`, metadata dict) from a TorchScript file written by `dplf export`.
    One-line FileNotFoundError / ValueError when the file is missing or not TorchScript."""
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"torch-cuda needs the TorchScript file {path}; run `dplf export` (it writes "
                                f"it beside the ONNX) or use --backend ort-cpu")
    extra = {METADATA_FILE: ""}
    try:
        with warnings.catch_warnings():   # torch 2.x deprecates TorchScript; the artefact format is still this
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path} is not a loadable TorchScript file ({first}); run `dplf export` again") from None
    try:
        metadata = json.loads(extra[METADATA_FILE] or "{}")
    except ValueError:
        metadata = {}
    return module.eval(), {str(k): str(v) for k, v in dict(metadata).items()}


@register_backend
class TorchCudaBackend(Backend):
    name = "torch-cuda"
    device = "cuda"
    precisions = ("fp16", "fp32")
    priority = 20

    @classmethod
    def probe(cls) -> Probe:
        from importlib.util import find_spec

        if find_spec("torch") is None:     # checked without importing it: the runtime stays torch-free
            return Probe(False, "PyTorch is not installed (pip install 'dplf[train]' on a CUDA machine)")
        if find_spec("cupy") is None:
            return Probe(False, "CuPy is not installed (pip install 'dplf[gpu]')")
        n = cuda_device_count()
        if n == 0:
            return Probe(False, "no CUDA GPU (the NVIDIA driver reports none)")
        return Probe(True, f"PyTorch + CuPy, {n} CUDA device(s)")

    def load(self, onnx_path: Path) -> Session:
        probe = self.probe()
        if not probe.ok:
            raise BackendUnavailable(f"backend 'torch-cuda' cannot run here: {probe.reason}")
        onnx_path = Path(onnx_path)
        ts = torchscript_path(onnx_path)
        module, ts_meta = load_torchscript(ts, "cuda")
        inputs, outputs = model_io(onnx_path)
        meta = {**onnx_metadata(onnx_path), **ts_meta}
        meta.update(model_name=meta.get("model_name") or ts.stem, weights=str(ts), precision=self.precision)
        return TorchCudaSession(module, inputs, outputs, fp16=self.precision == "fp16", metadata=meta)

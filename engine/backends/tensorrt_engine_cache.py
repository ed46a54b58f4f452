"""TensorRT engine cache: the runtime half of building engines (used by the `trt` backend and by
`dplf export --trt`).

    path = load_or_build("models/weights/dp-disparity-v1.onnx", "fp16")   # cached engine, built if needed

Inputs have dynamic H, W (multiples of 16) and batch 1; one optimisation profile covers
`profile = ((minH, minW), (optH, optW), (maxH, maxW))`, default 32x32 / 192x256 / 1088x1920
(`$DPLF_TRT_PROFILE="32x32,192x256,1088x1920"` overrides it).

Precision: TensorRT 10 builds the FP32 ONNX with `BuilderFlag.FP16` (weak typing); TensorRT 11 removed that
flag, so FP16 builds the `<name>.fp16.onnx` (FP16 I/O), strongly typed (always on in 11).

Cache: `<cache_dir>/<model>.<precision>-<key16>.engine` + a `.json` sidecar; key = sha256 over the ONNX
sha256, the GPU compute capability, the TensorRT version, the precision and the profile. An engine whose
sidecar does not match is rebuilt, never run. `cache_dir` defaults to `$DPLF_CACHE` or `~/.cache/dplf/trt`.
Engines, sidecars and the timing cache are written atomically (temporary name, then rename).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from ..io.atomic import atomic_write
from .base import BackendUnavailable

Shape = tuple[int, int]                 # (H, W)
Profile = tuple[Shape, Shape, Shape]    # (min, opt, max)

DEFAULT_PROFILE: Profile = ((32, 32), (192, 256), (1088, 1920))
STRIDE = 16
INSTALL_HINT = "pip install 'dplf[tensorrt]' on a machine with an NVIDIA GPU"
log = logging.getLogger("dplf.trt")


class TrtBuildError(BackendUnavailable):
    """TensorRT could not parse or build a model; the message says which and what to do."""


# -- pure helpers (no TensorRT needed) -------------------------------------------------------------
def default_cache_dir() -> Path:
    return Path(os.environ.get("DPLF_CACHE") or Path.home() / ".cache" / "dplf" / "trt").expanduser()


def parse_profile(text: str) -> Profile:
    """'32x32,192x256,1088x1920' (H x W: min, opt, max) -> ((32, 32), (192, 256), (1088, 1920))."""
    try:
        shapes = tuple(tuple(int(v) for v in part.lower().split("x")) for part in text.split(","))
    except ValueError:
        shapes = ()
    if len(shapes) != 3 or any(len(s) != 2 for s in shapes):
        raise ValueError(f"TensorRT profile {text!r} is not 'HxW,HxW,HxW' (min,opt,max), e.g. 32x32,192x256,1088x1920")
    return check_profile(shapes)


def check_profile(profile) -> Profile:
    """Validate (min, opt, max) H x W shapes: multiples of 16, min <= opt <= max. Returns it as tuples."""
    p = tuple((int(h), int(w)) for h, w in profile)
    if len(p) != 3 or any(v <= 0 or v % STRIDE for s in p for v in s):
        raise ValueError(f"TensorRT profile {p} must be 3 (H, W) shapes, each a positive multiple of {STRIDE}")
    if not all(p[i][d] <= p[i + 1][d] for i in (0, 1) for d in (0, 1)):
        raise ValueError(f"TensorRT profile {p} must have min <= opt <= max in H and W")
    return p


def default_profile() -> Profile:
    text = os.environ.get("DPLF_TRT_PROFILE")
    return parse_profile(text) if text else DEFAULT_PROFILE


def profile_text(profile: Profile) -> str:
    return ",".join(f"{h}x{w}" for h, w in profile)


def trt_major(version: str) -> int:
    return int(str(version).split(".")[0])


def model_stem(onnx_path) -> str:
    """'dp-disparity-v1.fp16.onnx' -> 'dp-disparity-v1'."""
    name = Path(onnx_path).name
    return name.removesuffix(".onnx").removesuffix(".fp16")


def source_onnx(onnx_path, precision: str, trt_version: str) -> Path:
    """Which ONNX file the engine is built from: TensorRT >= 11 with fp16 -> `<model>.fp16.onnx` (strongly
    typed), otherwise `<model>.onnx` (FP32, plus the FP16 builder flag on TensorRT 10)."""
    path = Path(onnx_path)
    want = f"{model_stem(path)}.fp16.onnx" if precision == "fp16" and trt_major(trt_version) >= 11 \
        else f"{model_stem(path)}.onnx"
    src = path.with_name(want)
    if not src.is_file():
        raise TrtBuildError(f"TensorRT {trt_version} {precision} builds from {src}, which is missing; "
                            f"run `dplf export` (with FP16, the default)")
    return src


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def engine_key(onnx_sha256: str, compute_capability: str, trt_version: str, precision: str,
               profile: Profile = DEFAULT_PROFILE) -> str:
    """sha256 hex over everything an engine depends on (ONNX bytes, GPU arch, TensorRT, precision, profile)."""
    return hashlib.sha256(json.dumps(expected_fields(onnx_sha256, compute_capability, trt_version, precision,
                                                     profile, with_key=False), sort_keys=True).encode()).hexdigest()


def expected_fields(onnx_sha256: str, compute_capability: str, trt_version: str, precision: str,
                    profile: Profile = DEFAULT_PROFILE, with_key: bool = True) -> dict:
    """The sidecar fields an engine must have to be used here (JSON-shaped: the profile as lists)."""
    fields = {"onnx_sha256": onnx_sha256, "compute_capability": str(compute_capability),
              "tensorrt": str(trt_version), "precision": precision,
              "profile": [list(s) for s in check_profile(profile)]}
    if with_key:
        fields["key"] = engine_key(onnx_sha256, compute_capability, trt_version, precision, profile)
    return fields


_MISMATCH = (  # field, reason (old = the cached engine's, new = here)
    ("compute_capability", "built for GPU compute capability sm_{old}, this GPU is sm_{new}"),
    ("tensorrt", "built with TensorRT {old}, this is TensorRT {new}"),
    ("onnx_sha256", "the ONNX changed (sha256 {old:.12} -> {new:.12})"),
    ("precision", "built for {old}, {new} requested"),
    ("profile", "built for profile {old}, {new} requested"),
)


def cache_decision(sidecar: dict | None, expected: dict) -> tuple[bool, str]:
    """(use the cached engine?, why). `sidecar` is a cached engine's JSON (None: none cached)."""
    if sidecar is None:
        return False, "rebuild: no cached engine"
    for field, reason in _MISMATCH:
        old, new = sidecar.get(field), expected.get(field)
        if old != new:
            return False, "rebuild: " + reason.format(old=str(old), new=str(new))
    return True, "cached engine matches"


def engine_file(cache_dir, onnx_path, precision: str, key: str) -> Path:
    return Path(cache_dir) / f"{model_stem(onnx_path)}.{precision}-{key[:16]}.engine"


def read_sidecar(engine_path) -> dict | None:
    try:
        return json.loads(Path(engine_path).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None


def plan_engine(cache_dir, onnx_path, expected: dict) -> tuple[Path, bool, str]:
    """Where the engine for `expected` lives and whether the cached one can be used: (path, use, why).

    When no engine with this key exists, the newest sidecar of the same model, precision and profile
    explains why (another GPU, TensorRT version or ONNX)."""
    path = engine_file(cache_dir, onnx_path, expected["precision"], expected["key"])
    if path.is_file():
        return (path, *cache_decision(read_sidecar(path), expected))
    others = [s for p in sorted(path.parent.glob(f"{model_stem(onnx_path)}.{expected['precision']}-*.engine"),
                                key=lambda p: p.stat().st_mtime, reverse=True)
              if (s := read_sidecar(p)) and s.get("profile") == expected["profile"]]
    use, why = cache_decision(others[0] if others else None, expected)
    return path, False, "rebuild: no cached engine" if use else why


# -- TensorRT ---------------------------------------------------------------------------------------
def import_tensorrt():
    try:
        import tensorrt as trt
    except Exception as exc:  # ImportError, or OSError when libnvinfer is missing
        raise BackendUnavailable(f"TensorRT is not importable ({type(exc).__name__}: {exc}); {INSTALL_HINT}") from exc
    return trt


def compute_capability() -> str:
    """The current CUDA device's compute capability as CuPy spells it ('90' for sm_90)."""
    try:
        import cupy
        return str(cupy.cuda.Device().compute_capability)
    except Exception as exc:  # ImportError, or CUDARuntimeError without a driver/GPU
        raise BackendUnavailable(f"no CUDA GPU through CuPy ({type(exc).__name__}: {exc}); "
                                 f"pip install 'dplf[gpu]' on a machine with an NVIDIA GPU") from exc


def build_engine(onnx_path, precision: str = "fp16", cache_dir=None, profile: Profile | None = None) -> Path:
    """Build `onnx_path` into `<cache_dir>/<model>.<precision>-<key16>.engine` (+ `.json` sidecar), using and
    updating the timing cache `<cache_dir>/timing-sm<cc>-trt<version>.cache`. Returns the engine path."""
    trt = import_tensorrt()
    onnx_path, profile = Path(onnx_path), check_profile(profile or default_profile())
    data = onnx_path.read_bytes()
    cc = compute_capability()
    expected = expected_fields(hashlib.sha256(data).hexdigest(), cc, trt.__version__, precision, profile)
    return _build(trt, onnx_path, data, expected, Path(cache_dir or default_cache_dir()))


def _build(trt, onnx_path: Path, data: bytes, expected: dict, cache_dir: Path) -> Path:
    if expected["precision"] not in ("fp16", "fp32"):
        raise ValueError(f"TensorRT precision must be fp16 or fp32, not {expected['precision']!r}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackendUnavailable(f"cannot create the TensorRT engine cache {cache_dir} ({exc.strerror}); "
                                 f"set DPLF_CACHE to a writable folder") from exc
    t0 = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)   # explicit batch (10); strongly typed is always on in 11
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(data):
        first = str(parser.get_error(0)) if parser.num_errors else "unknown error"
        raise TrtBuildError(f"TensorRT could not parse {onnx_path}: {first.splitlines()[0]}")
    config = builder.create_builder_config()
    if expected["precision"] == "fp16" and trt_major(trt.__version__) < 11:
        config.set_flag(trt.BuilderFlag.FP16)   # weak typing; removed in 11, where the fp16 ONNX is built
    (mn, opt, mx) = expected["profile"]
    prof = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        t = network.get_input(i)
        c = t.shape[1]
        if c < 0:
            raise TrtBuildError(f"{onnx_path}: input {t.name!r} has a dynamic channel count; expected [N, C, H, W]")
        prof.set_shape(t.name, (1, c, *mn), (1, c, *opt), (1, c, *mx))
    config.add_optimization_profile(prof)
    timing_path = cache_dir / f"timing-sm{expected['compute_capability']}-trt{expected['tensorrt']}.cache"
    timing = config.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
    if not config.set_timing_cache(timing, ignore_mismatch=False):
        log.warning("dplf trt: timing cache %s does not fit this GPU/TensorRT; starting a fresh one", timing_path)
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TrtBuildError(f"TensorRT failed to build {onnx_path} ({expected['precision']}); see the TensorRT "
                            f"log above, or use --backend ort-cuda")
    engine = engine_file(cache_dir, onnx_path, expected["precision"], expected["key"])
    blob = bytes(memoryview(serialized))
    try:
        atomic_write(engine, blob)
        atomic_write(timing_path, bytes(memoryview(config.get_timing_cache().serialize())))
        sidecar = {**expected, "onnx": str(onnx_path), "engine_bytes": len(blob), "gpu": _gpu_name(),
                   "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "build_s": round(time.perf_counter() - t0, 2)}
        atomic_write(engine.with_suffix(".json"), json.dumps(sidecar, indent=1).encode())
    except OSError as exc:
        raise BackendUnavailable(f"cannot write the TensorRT engine cache {cache_dir} ({exc.strerror}); "
                                 f"set DPLF_CACHE to a writable folder") from exc
    return engine


def _gpu_name() -> str:
    try:
        import cupy
        name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


def load_or_build(onnx_path, precision: str = "fp16", cache_dir=None, profile: Profile | None = None) -> Path:
    """The cached engine for this ONNX / GPU / TensorRT / precision / profile; built (one log line saying
    why) when missing or when its sidecar does not match."""
    trt = import_tensorrt()
    onnx_path, profile = Path(onnx_path), check_profile(profile or default_profile())
    cache_dir = Path(cache_dir or default_cache_dir())
    data = onnx_path.read_bytes()
    expected = expected_fields(hashlib.sha256(data).hexdigest(), compute_capability(), trt.__version__,
                               precision, profile)
    path, use, why = plan_engine(cache_dir, onnx_path, expected)
    if use:
        return path
    log.warning("dplf trt: building %s from %s (%s); this takes a minute, once", path.name, onnx_path.name, why)
    return _build(trt, onnx_path, data, expected, cache_dir)

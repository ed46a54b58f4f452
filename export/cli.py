"""`dplf export`: the typer command (found through the dplf.commands entry point). Importable without torch:
the export modules are imported when the command runs."""
from __future__ import annotations

from pathlib import Path

from models import WEIGHTS_DIR


def export_command(weights: str = str(WEIGHTS_DIR), opset: int = 17, fp16: bool = True, torchscript: bool = True,
                   trt: bool = False, trt_compare: bool = False, trt_precision: str = "fp16", trt_profile: str = "",
                   trt_cache: str = ""):
    """Export every models/weights/<name>.pt whose name is a registered student to ONNX (+ FP16), validated,
    and to TorchScript (<name>.ts, for the torch-cuda backend; --no-torchscript skips it); rewrite
    index.json.

    --trt: then build a TensorRT engine per model into the engine cache (--trt-cache, default $DPLF_CACHE or
    ~/.cache/dplf/trt) for --trt-profile 'HxW,HxW,HxW' (min,opt,max); --trt-compare: also compare each engine
    with ONNX Runtime (polygraphy) and print a table (exit 1 when a comparison fails)."""
    import typer

    trt = trt or trt_compare
    profile = None
    if trt:
        profile = _trt_profile(trt_precision, trt_profile)
    folder = Path(weights)
    if not folder.is_dir():
        typer.echo(f"dplf export: weights folder {folder} does not exist; pass --weights DIR", err=True)
        raise typer.Exit(2)
    from export.bundle import export_folder, registered_weights
    from models.architectures import list_models

    if not registered_weights(folder):
        typer.echo(f"dplf export: no <model>.pt in {folder} (known models: {list_models()})", err=True)
        raise typer.Exit(2)
    onnx_paths = export_folder(folder, opset, fp16, torchscript, echo=typer.echo)
    if trt:
        _build_engines(onnx_paths, trt_precision, trt_cache, profile, trt_compare)


def _trt_profile(precision: str, text: str):
    """Fail early (exit 2, one line) without TensorRT or with a bad option; -> the parsed profile or None."""
    import typer

    from engine.backends.tensorrt_backend import TrtBackend
    from export.trt_build import parse_profile

    probe = TrtBackend.probe()
    if not probe.ok:
        try:
            import tensorrt  # noqa: F401
        except Exception:  # noqa: BLE001
            typer.echo("dplf export --trt needs TensorRT: pip install 'dplf[tensorrt]' on a machine with an "
                       "NVIDIA GPU", err=True)
            raise typer.Exit(2)
        typer.echo(f"dplf export --trt: {probe.reason}", err=True)
        raise typer.Exit(2)
    try:
        if precision not in ("fp16", "fp32"):
            raise ValueError(f"--trt-precision must be fp16 or fp32, not {precision!r}")
        return parse_profile(text) if text else None
    except ValueError as exc:
        typer.echo(f"dplf export: {exc}", err=True)
        raise typer.Exit(2)


def _build_engines(onnx_paths, precision: str, cache: str, profile, compare: bool) -> None:
    import typer

    from engine.backends.base import BackendUnavailable
    from export.trt_build import export_engines

    try:
        ok = export_engines(onnx_paths, precision, cache or None, profile, compare=compare, echo=typer.echo)
    except (BackendUnavailable, ValueError, OSError) as exc:
        typer.echo(f"dplf export --trt: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(2)
    if not ok:
        typer.echo("dplf export --trt-compare: TensorRT differs from ONNX Runtime beyond tolerance "
                   "(table above)", err=True)
        raise typer.Exit(1)

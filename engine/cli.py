"""`dplf` command line: run, convert, info (+ train and export, which need the `train` extra)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="dplf: dual-pixel video -> disparity + light-field views.")


class UserError(Exception):
    """Bad input or environment: reported as one line, exit code 2."""


def fail(prog: str, message: str, code: int = 2) -> None:
    typer.echo(f"{prog}: error: {message}", err=True)
    raise typer.Exit(code)


def run_command(
    input: Path = typer.Option(..., "--input", "-i", help=".dp file, folder of DP pairs, or light-field folder"),
    out: Path = typer.Option(..., "--out", "-o", help="output folder"),
    views: int = typer.Option(7, help="render an N x N grid of views"),
    baseline: float = typer.Option(1.0, help="grid half-extent in aperture units (1 = the physical aperture)"),
    backend: str = typer.Option("auto", help="auto | trt | ort-cuda | torch-cuda | ort-cpu"),
    precision: str = typer.Option("auto", help="auto | fp32 | fp16"),
    format: str = typer.Option("png", "--format", help="views as png | npy | mp4"),
    frames: int = typer.Option(None, help="process at most this many frames"),
    start: int = typer.Option(0, help="first frame index"),
    no_views: bool = typer.Option(False, "--no-views", help="disparity only"),
    max_size: int = typer.Option(None, help="downscale so that max(H, W) <= this"),
    renderer: str = typer.Option("dibr", help="dibr (occlusion-aware warp with D) | layers (LF student)"),
    preview: bool = typer.Option(False, help="also write a colour PNG of each disparity map"),
    on_error: str = typer.Option("stop", help="a bad frame: stop | skip"),
    threads: int = typer.Option(None, help="CPU threads for inference (default: all)"),
):
    """Convert a DP video into disparity maps and light-field views (SPEC §4)."""
    from .run import run

    try:
        summary = run(input=input, out=out, views=0 if no_views else views, baseline=baseline, backend=backend,
                      precision=precision, view_format=format, frames=frames, start=start, max_size=max_size,
                      renderer=renderer, preview=preview, on_error=on_error, threads=threads)
    except KeyboardInterrupt:
        fail("dplf-run", f"interrupted; frames written so far are complete and listed in {out / 'manifest.json'}",
             130)
    except (ValueError, OSError, RuntimeError, UserError) as exc:
        fail("dplf-run", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    typer.echo(summary)


def info_command(backend: str = typer.Option("auto"), as_json: bool = typer.Option(False, "--json")):
    """Which backends work here, which one `auto` picks, and the bundled models."""
    from .pipeline import Pipeline

    try:
        info = Pipeline(backend=backend, views=0).info()
    except (ValueError, OSError, RuntimeError) as exc:
        fail("dplf info", str(exc))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"backend: {info['backend']} ({info['precision']}) - {info['why']}")
    for name, p in info["backends"].items():
        typer.echo(f"  {name:11s} {'yes' if p['ok'] else 'no ':3s}  {p['reason']}")
    for name, m in info["models"].items():
        typer.echo(f"model {name}: {m['path']} sha256 {m['sha256'][:16]}")


app.command("run")(run_command)
app.command("info")(info_command)


def _register_optional() -> None:
    """Commands whose modules are written by other parts; each is imported lazily when present."""
    from importlib import import_module

    for name, module, attr in (("convert", "engine.io.convert", "convert_command"),
                               ("train", "models.train", "train_command"),
                               ("export", "export.onnx_export", "export_command")):
        def lazy(ctx: typer.Context, _module=module, _attr=attr):
            try:
                fn = getattr(import_module(_module), _attr)
            except ImportError as exc:
                fail(f"dplf {ctx.info_name}", f"{exc}; install the extra: pip install 'dplf[train]'")
            sys.argv = [f"dplf {ctx.info_name}", *ctx.args]
            typer.run(fn)

        app.command(name, context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                            "help_option_names": []},
                    help=f"see `dplf {name} --help`")(lazy)


_register_optional()


def main() -> None:
    app()


def run_main() -> None:
    typer.run(run_command)


if __name__ == "__main__":
    main()

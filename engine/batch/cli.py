"""`dplf batch INPUT... --out DIR` (loaded by engine/cli.py only when the command runs)."""
from __future__ import annotations

from pathlib import Path

import typer

from ..errors import one_line


def batch_command(
    inputs: list[str] = typer.Argument(..., metavar="INPUT...", help=".dp files, folders, quoted globs "
                                       "(\"caps/*.dp\"), or list files (@list.txt or any .txt: one input per line)"),
    out: Path = typer.Option(..., "--out", "-o", help="output folder: one dplf-run folder per input, OUT/<name>/, "
                             "and OUT/batch.json"),
    workers: int = typer.Option(None, "--workers", "-w", help="worker actors, each with its own pipeline (default: "
                                "one per GPU, else one per two CPUs)"),
    address: str = typer.Option(None, "--address", help="a running Ray cluster (auto, ray://host:10001, or "
                                "host:6379); default: a local Ray started for this batch"),
    views: int = typer.Option(7, help="render an N x N grid of views, N >= 1"),
    baseline: float = typer.Option(1.0, help="grid half-extent in aperture units, > 0 and <= 100"),
    format: str = typer.Option("png", "--format", help="views as png | jpg | npy | mp4 | mosaic"),
    no_views: bool = typer.Option(False, "--no-views", help="disparity only"),
    frames: int = typer.Option(None, help="process at most this many frames of each input"),
    start: int = typer.Option(0, help="first frame index of each input"),
    max_size: int = typer.Option(None, help="downscale so that max(H, W) <= this"),
    backend: str = typer.Option("auto", help="auto | trt | ort-cuda | torch-cuda | ort-cpu (on every worker)"),
    precision: str = typer.Option("auto", help="auto | fp32 | fp16"),
    dp_model: str = typer.Option(None, "--dp-model", help="DP student by name (default: the bundled default)"),
    renderer: str = typer.Option("dibr", help="dibr (DP student + DIBR) | dibr-deblur (the RGB sharpened with D first) "
                                  "| dibr-dp (views warped from the DP halves) | layers (LF student + layered renderer)"),
    png_level: int = typer.Option(1, "--png-level", help="PNG compression 0-9 (same pixels at every level)"),
    jpg_quality: int = typer.Option(90, "--jpg-quality", help="--format jpg: JPEG quality 1-100"),
    on_error: str = typer.Option("stop", "--on-error", help="a bad frame inside an input: stop that input | "
                                 "skip the frame"),
    overwrite: bool = typer.Option(False, "--overwrite", help="redo inputs whose run is already complete"),
):
    """Convert many DP inputs on Ray (local by default, --address for a cluster); resumable, see docs/scaling.md.

    Exit code 0 when every input is complete (converted now or before), 1 when any input failed (each one's
    reason is in OUT/batch.json and the summary), 2 for bad arguments or a missing Ray, 130 on Ctrl-C."""
    from .batch import MissingRay, batch
    from .options import run_options

    prog = "dplf batch"
    try:
        options = run_options(views, baseline, format, no_views, frames, start, max_size, backend, precision,
                              dp_model, renderer, png_level, jpg_quality, on_error)
        report = batch(inputs, out, options, workers=workers, address=address, overwrite=overwrite)
    except KeyboardInterrupt:
        _fail(prog, f"interrupted; finished inputs are recorded in {out / 'batch.json'}, rerun to go on", 130)
    except (MissingRay, ValueError, OSError, RuntimeError) as exc:
        _fail(prog, one_line(exc))
    typer.echo(report.summary())
    raise typer.Exit(report.exit_code)


def _fail(prog: str, message: str, code: int = 2) -> None:
    typer.echo(f"{prog}: error: {message}", err=True)
    raise typer.Exit(code)

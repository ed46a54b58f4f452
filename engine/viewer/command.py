"""`dplf view RUN_DIR | INPUT`: write RUN_DIR/viewer.html, running the pipeline first for an input file."""
from __future__ import annotations

import os
import sys
import webbrowser
from pathlib import Path

import typer

from ..errors import one_line
from .build import DEFAULT_MAX_MB, write_viewer

PROG = "dplf view"


def _run_folder(path: Path, out: Path | None) -> Path:
    if out is not None:
        raise ValueError(f"--out is for an input file (the run is written there); {path} is a folder, so "
                         f"viewer.html goes into it: drop --out")
    if not (path / "manifest.json").is_file():
        raise ValueError(f"{path} is not a dplf-run output folder (it has no manifest.json); pass a run folder "
                         f"(dplf-run --out DIR) or an input file such as a .dp video")
    return path


def _glob_or_camera(input: str) -> bool:
    """Inputs dplf-run takes that are not paths: a glob of DP pairs, a camera or stream."""
    from ..io.video import parse_camera

    return any(ch in input for ch in "*?[") or parse_camera(input) is not None


def view(input: str, out: Path | None = None, frames: int | None = None, views: int = 7, baseline: float = 1.0,
         max_size: int | None = 640, backend: str = "auto", overwrite: bool = False, image_format: str = "jpg",
         quality: int = 90, max_mb: float = DEFAULT_MAX_MB) -> tuple[Path, str]:
    """viewer.html for a run folder, or for an input (run first into `out`, default ./<stem>-view).
    Returns (page path, summary lines). Bad input raises ValueError / OSError with one line."""
    src = Path(input)
    if src.is_dir():
        run_dir, lines = _run_folder(src, out), []
    else:
        if not src.exists() and not _glob_or_camera(input):
            raise FileNotFoundError(f"{src} does not exist; pass a dplf-run output folder or an input file "
                                    f"such as a .dp video")
        if views < 1:
            raise ValueError(f"--views must be >= 1, got {views}")
        from ..run import run

        run_dir = Path(out) if out is not None else Path(f"{src.stem}-view")
        lines = [run(input=src, out=run_dir, views=views, baseline=baseline, backend=backend, frames=frames,
                     max_size=max_size, overwrite=overwrite)]
        frames = None   # the run holds exactly the frames asked for
    path, summary = write_viewer(run_dir, frames=frames, image_format=image_format, quality=quality, max_mb=max_mb)
    return path, "\n".join([*lines, summary])


def can_open_browser() -> bool:
    """--open's default: a person at a terminal on a machine with a desktop (not a pipe, CI or an SSH shell)."""
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    desktop = sys.platform in ("darwin", "win32") or bool(display)
    return desktop and sys.stdout.isatty() and not os.environ.get("CI")


def open_page(path: Path) -> None:
    uri = path.resolve().as_uri()
    if not webbrowser.open(uri):
        typer.echo(f"{PROG}: warning: no browser could be started here; open {uri} yourself", err=True)


def view_command(
    input: str = typer.Argument(..., help="a dplf-run output folder (RUN_DIR), or an input file (a .dp video or "
                                "anything dplf-run reads) to run first"),
    out: Path = typer.Option(None, "--out", "-o", help="input file: the run folder to write (default "
                             "./<name>-view)"),
    frames: int = typer.Option(None, help="RUN_DIR: the first N frames of the run; input file: process N frames"),
    views: int = typer.Option(7, help="input file: render an N x N grid of views"),
    baseline: float = typer.Option(1.0, help="input file: grid half-extent in aperture units, > 0 and <= 100"),
    max_size: int = typer.Option(640, "--max-size", help="input file: downscale so that max(H, W) <= this"),
    backend: str = typer.Option("auto", help="input file: inference backend"),
    overwrite: bool = typer.Option(False, "--overwrite", help="input file: replace a run already in --out"),
    image_format: str = typer.Option("jpg", "--image-format", help="views in the page as jpg (small) | png "
                                     "(lossless, several times larger)"),
    quality: int = typer.Option(90, help="JPEG quality 1-100"),
    max_mb: float = typer.Option(DEFAULT_MAX_MB, "--max-mb", help="refuse to write a page larger than this "
                                 "(the views are inline; use --frames to keep fewer)"),
    open_browser: bool = typer.Option(None, "--open/--no-open", help="open the page in the default browser "
                                      "(default: yes at a terminal on a desktop, no in scripts, CI or SSH)",
                                      show_default=False),
):
    """Interactive light-field viewer: one self-contained viewer.html (drag to move the viewpoint, click to
    refocus, aperture, disparity overlay, frame scrubber) that opens from disk with no server or network."""
    try:
        path, summary = view(input, out, frames, views, baseline, max_size, backend, overwrite, image_format,
                             quality, max_mb)
    except KeyboardInterrupt:
        typer.echo(f"{PROG}: error: interrupted", err=True)
        raise typer.Exit(130) from None
    except (ValueError, OSError, RuntimeError) as exc:
        typer.echo(f"{PROG}: error: {one_line(exc)}", err=True)
        raise typer.Exit(2) from None
    typer.echo(summary)
    if can_open_browser() if open_browser is None else open_browser:
        open_page(path)
    sys.stdout.flush()

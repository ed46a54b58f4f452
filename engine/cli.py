"""`dplf` command line: run, convert, info, preview, depth, refocus (+ train and export, which need the `train`
extra)."""
from __future__ import annotations

import inspect
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
    input: str = typer.Option(..., "--input", "-i", help=".dp file, folder or glob of DP pairs, light-field "
                              "folder, side-by-side L|R video, or a camera (camera:N, /dev/videoN, rtsp://...)"),
    out: Path = typer.Option(..., "--out", "-o", help="output folder"),
    views: int = typer.Option(7, help="render an N x N grid of views"),
    baseline: float = typer.Option(1.0, help="grid half-extent in aperture units (1 = the physical aperture)"),
    backend: str = typer.Option("auto", help="auto | trt | ort-cuda | torch-cuda | ort-cpu"),
    precision: str = typer.Option("auto", help="auto | fp32 | fp16"),
    format: str = typer.Option("png", "--format",
                               help="views as png | npy | mp4 (a video per view) | mosaic (one video tiling the grid)"),
    frames: int = typer.Option(None, help="process at most this many frames"),
    start: int = typer.Option(0, help="first frame index"),
    no_views: bool = typer.Option(False, "--no-views", help="disparity only"),
    max_size: int = typer.Option(None, help="downscale so that max(H, W) <= this"),
    renderer: str = typer.Option("dibr", help="dibr (occlusion-aware warp with D) | layers (LF student)"),
    preview: bool = typer.Option(False, help="also write a colour PNG of each disparity map"),
    on_error: str = typer.Option("stop", help="a bad frame: stop | skip"),
    threads: int = typer.Option(None, help="CPU threads for inference (default: all)"),
    depth: Path = typer.Option(None, "--depth", help="calibration JSON: also write metric depth to OUT/depth "
                                                     "(docs/outputs.md)"),
    mosaic_max_size: int = typer.Option(None, help="--format mosaic: cap on the video's longer side "
                                                   "(default 4096; tiles are scaled down to fit)"),
):
    """Convert a DP video into disparity maps and light-field views (SPEC §4)."""
    from .run import run

    try:
        extra = _optional_args(run, depth=depth, mosaic_max_size=mosaic_max_size)
        if depth is not None:
            from .depth import load_calibration

            load_calibration(depth)    # a bad calibration fails before any work
        summary = run(input=input, out=out, views=0 if no_views else views, baseline=baseline, backend=backend,
                      precision=precision, view_format=format, frames=frames, start=start, max_size=max_size,
                      renderer=renderer, preview=preview, on_error=on_error, threads=threads, **extra)
    except KeyboardInterrupt:
        fail("dplf-run", f"interrupted; frames written so far are complete and listed in {out / 'manifest.json'}",
             130)
    except (ValueError, OSError, RuntimeError, UserError) as exc:
        fail("dplf-run", _one_line(exc))
    typer.echo(summary)


def _optional_args(fn, **options) -> dict:
    """The options that were set (not None), checked against what `fn` accepts (one-line error if not)."""
    params = inspect.signature(fn).parameters
    out = {name: value for name, value in options.items() if value is not None}
    for name in out:
        if name not in params:
            raise UserError(f"--{name.replace('_', '-')} is not supported by this version of engine/run.py")
    return out


def _one_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


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


def preview_command(
    input: Path = typer.Argument(..., help="a dplf-run output folder, or a .dp file (run first at a small size)"),
    out: Path = typer.Option(..., "--out", "-o", help="output folder"),
    frame: int = typer.Option(None, help="source frame index (default: the first frame of the run)"),
    views: int = typer.Option(5, help="source input: render an N x N grid"),
    baseline: float = typer.Option(1.0, help="source input: grid half-extent in aperture units"),
    max_size: int = typer.Option(320, help="source input: downscale so that max(H, W) <= this"),
    backend: str = typer.Option("auto", help="source input: inference backend"),
):
    """LF contact sheet, wiggle animation (mp4, + GIF with Pillow) and disparity colour map of one frame."""
    from .preview import preview

    try:
        summary = preview(input, out, frame=frame, views=views, baseline=baseline, max_size=max_size,
                          backend=backend)
    except (ValueError, OSError, RuntimeError, UserError) as exc:
        fail("dplf preview", _one_line(exc))
    typer.echo(summary)


def depth_command(
    run_dir: Path = typer.Argument(..., help="a dplf-run output folder (its disparity/*.pfm are read)"),
    calib: Path = typer.Option(None, "--calib", help="calibration JSON (docs/outputs.md); default: the "
                                                     "calibration the run's source recorded"),
    out: Path = typer.Option(None, "--out", "-o", help="output folder (default: RUN_DIR/depth)"),
    float_format: str = typer.Option("pfm", "--float-format", help="metres as pfm | npy"),
):
    """Metric depth from a run's disparity: float32 metres (PFM/NPY) and 16-bit millimetre PNGs (0 = invalid)."""
    from .depth import depth_run_folder

    try:
        summary = depth_run_folder(run_dir, calib, out, float_format)
    except (ValueError, OSError, RuntimeError) as exc:
        fail("dplf depth", _one_line(exc))
    typer.echo(summary)


def refocus_command(
    input: Path = typer.Argument(..., help="a dplf-run output folder with views, or a .dp file (rendered on the fly)"),
    out: Path = typer.Option(..., "--out", "-o", help="output image (.png)"),
    frame: int = typer.Option(None, help="source frame index (default: the run's first frame; 0 for a .dp)"),
    slope: float = typer.Option(0.0, help="disparity D (px) brought into focus; 0 = the captured focal plane"),
    focus_at: str = typer.Option(None, "--focus-at", help="X,Y: focus on the disparity at this pixel "
                                                          "(overrides --slope)"),
    aperture: float = typer.Option(None, help="synthetic aperture radius in (u, v) units; default all views, "
                                              "0 = the centre view"),
    views: int = typer.Option(9, help=".dp input: render an N x N grid"),
    baseline: float = typer.Option(1.0, help=".dp input: grid half-extent in aperture units"),
    max_size: int = typer.Option(None, help=".dp input: downscale so that max(H, W) <= this"),
    backend: str = typer.Option("auto", help=".dp input: inference backend"),
):
    """Synthetic refocus / aperture by shift-and-add over the light-field views of one frame."""
    try:
        _refocus(input, out, frame, slope, focus_at, aperture, views, baseline, max_size, backend)
    except (ValueError, OSError, RuntimeError) as exc:
        fail("dplf refocus", _one_line(exc))


def _refocus(input, out, frame, slope, focus_at, aperture, views, baseline, max_size, backend) -> None:
    import cv2
    import numpy as np

    from .io.outputs import RunFolder, _atomic
    from .refocus import aperture_views, refocus

    input, out = Path(input), Path(out)
    if not input.exists():
        raise ValueError(f"input {input} does not exist; pass a dplf-run output folder or a .dp file")
    if input.is_dir() and (input / "manifest.json").is_file():
        run = RunFolder(input)
        frame = run.frame(frame)
        lf, positions, disparity = run.views(frame), run.positions, run.disparity(frame)
    else:
        from .conventions import grid_positions
        from .io.sources import open_source
        from .pipeline import Pipeline

        if views < 1:
            raise ValueError(f"--views must be >= 1, got {views}")
        frame = frame or 0
        with open_source(input, max_size=max_size, start=frame, frames=1) as source:
            f = source[0]
        res = Pipeline(backend=backend, views=views, baseline=baseline, dtype=np.uint8)(
            f.left, f.right, f.rgb, index=f.index)
        lf, positions, disparity = res.views, grid_positions(views, baseline), res.disparity
    if focus_at is not None:
        try:
            x, y = (int(t) for t in focus_at.split(","))
        except ValueError:
            raise ValueError(f"--focus-at must be X,Y in pixels, got {focus_at!r}") from None
        h, w = disparity.shape
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"--focus-at {x},{y} is outside the {w}x{h} image")
        slope = float(np.median(disparity[max(0, y - 2):y + 3, max(0, x - 2):x + 3]))
    image = refocus(lf, positions, slope, aperture)
    ok, buf = cv2.imencode(out.suffix or ".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError(f"cannot encode {out}: use a .png (or another OpenCV image) file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic(out, lambda p: p.write_bytes(buf.tobytes()))
    n = len(aperture_views(np.asarray(positions).reshape(-1, 2), aperture))
    typer.echo(f"dplf refocus: frame {frame}, slope {slope:+.3f} px, {n} views -> {out}")


app.command("run")(run_command)
app.command("info")(info_command)
app.command("preview")(preview_command)
app.command("depth")(depth_command)
app.command("refocus")(refocus_command)


def _register_optional() -> None:
    """Commands whose modules are written by other parts; each is imported lazily when present."""
    from importlib import import_module

    for name, module, attr in (("convert", "engine.io.convert", "convert_command"),
                               ("train", "models.training.cli", "train_command"),
                               ("export", "export.cli", "export_command")):
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
    """`dplf-run`. Usage errors (a bad option value, a missing option) are one line too, exit 2."""
    t = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    t.command()(run_command)
    try:
        code = t(prog_name="dplf-run", standalone_mode=False)   # typer.Exit(n) comes back as n here
    except typer.TyperException as exc:   # click's UsageError / BadParameter / MissingParameter
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        typer.echo(f"dplf-run: error: {' '.join(message.split())} (see dplf-run --help)", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

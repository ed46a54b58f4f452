"""`dplf` command line: run, convert, info, preview, depth, calibrate, refocus, and the commands other parts install
(train, export: entry-point group `dplf.commands`, loaded only when invoked, so engine never imports them)."""
from __future__ import annotations

import inspect
import json
import sys
from importlib import import_module, metadata
from pathlib import Path

import typer

from .errors import one_line


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,   # help text is plain: "[train]" is an extra, not markup
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
    views: int = typer.Option(7, help="render an N x N grid of views, N >= 1 (for disparity only use --no-views)"),
    baseline: float = typer.Option(1.0, help="grid half-extent in aperture units, > 0 and <= 100 "
                                             "(1 = the physical aperture; > 1 extrapolates parallax)"),
    backend: str = typer.Option("auto", help="auto | trt | ort-cuda | torch-cuda | ort-cpu"),
    precision: str = typer.Option("auto", help="auto | fp32 | fp16"),
    format: str = typer.Option("png", "--format",
                               help="views as png | jpg (lossy previews, --jpg-quality) | npy | mp4 (a video per "
                                    "view) | mosaic (one video tiling the grid)"),
    png_level: int = typer.Option(1, "--png-level", help="PNG compression 0-9, same pixels at every level: 0 "
                                  "stores, 1 (default) is Huffman-only coding (the fastest), 2-9 are zlib levels "
                                  "(slower; smaller only where LZ77 matching pays)"),
    jpg_quality: int = typer.Option(90, "--jpg-quality", help="--format jpg: JPEG quality 1-100"),
    writers: int = typer.Option(None, "--writers", help="threads that encode and write the files (default: one "
                                "per CPU core, at most 4; 0 = on the main thread)"),
    frames: int = typer.Option(None, help="process at most this many frames"),
    start: int = typer.Option(0, help="first frame index"),
    no_views: bool = typer.Option(False, "--no-views", help="disparity only: no views are rendered or written"),
    max_size: int = typer.Option(None, help="downscale so that max(H, W) <= this"),
    renderer: str = typer.Option("dibr", help="dibr (occlusion-aware warp with D) | dibr-deblur (the RGB "
                                  "sharpened with D first) | dibr-dp (views warped from the DP halves) | layers (LF student)"),
    preview: bool = typer.Option(False, help="also write a colour PNG of each disparity map"),
    on_error: str = typer.Option("stop", help="a bad frame: stop | skip"),
    threads: int = typer.Option(None, help="CPU threads for inference (default: all)"),
    dp_model: str = typer.Option(None, "--dp-model", help="DP student by name, e.g. dp-disparity-v2 (default: the "
                                 "bundled default)"),
    depth: Path = typer.Option(None, "--depth", help="calibration JSON: also write metric depth to OUT/depth "
                                                     "(docs/outputs.md)"),
    mosaic_max_size: int = typer.Option(None, help="--format mosaic: cap on the video's longer side "
                                                   "(default 4096; tiles are scaled down to fit)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace the run already in --out (a used --out is "
                                   "refused otherwise; files that are not part of a run are kept)"),
    viewer: bool = typer.Option(False, "--viewer", help="also write OUT/viewer.html, the interactive light-field "
                                "viewer (as dplf view OUT does)"),
):
    """Convert a DP video into disparity maps and light-field views (see docs/outputs.md)."""
    from .run import run

    try:
        if views < 1 and not no_views:
            raise UserError(f"--views must be >= 1, got {views}; for disparity only pass --no-views")
        if viewer and no_views:
            raise UserError("--viewer shows the views, so it cannot go with --no-views; drop one of them")
        extra = _optional_args(run, depth=depth, mosaic_max_size=mosaic_max_size, writers=writers)
        if depth is not None:
            from .depth import load_calibration

            load_calibration(depth)    # a bad calibration fails before any work
        summary = run(input=input, out=out, views=0 if no_views else views, baseline=baseline, backend=backend,
                      precision=precision, view_format=format, frames=frames, start=start, max_size=max_size,
                      renderer=renderer, preview=preview, on_error=on_error, threads=threads,
                      overwrite=overwrite, dp_model=dp_model, png_level=png_level, jpg_quality=jpg_quality,
                      **extra)
    except KeyboardInterrupt:
        fail("dplf-run", f"interrupted; frames written so far are complete and listed in {out / 'manifest.json'}",
             130)
    except (ValueError, OSError, RuntimeError, UserError) as exc:
        fail("dplf-run", one_line(exc))
    typer.echo(summary)
    if viewer:
        _write_viewer(out)


def _write_viewer(out: Path) -> None:
    """dplf-run --viewer: OUT/viewer.html once the run is complete (the run stays if this fails)."""
    from .viewer import write_viewer

    try:
        typer.echo(write_viewer(out)[1])
    except (ValueError, OSError) as exc:
        fail("dplf-run", f"the run in {out} is complete, but its viewer.html was not written: {one_line(exc)}; "
                         f"try dplf view {out} --frames N")


def _optional_args(fn, **options) -> dict:
    """The options that were set (not None), checked against what `fn` accepts (one-line error if not)."""
    params = inspect.signature(fn).parameters
    out = {name: value for name, value in options.items() if value is not None}
    for name in out:
        if name not in params:
            raise UserError(f"--{name.replace('_', '-')} is not supported by this version of engine/run.py")
    return out


def info_command(backend: str = typer.Option("auto"), as_json: bool = typer.Option(False, "--json")):
    """Which backends work here, which one `auto` picks, and the bundled models."""
    from .pipeline import Pipeline

    try:
        info = Pipeline(backend=backend, views=0).info()
    except (ValueError, OSError, RuntimeError) as exc:
        fail("dplf info", one_line(exc))
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
    baseline: float = typer.Option(1.0, help="source input: grid half-extent in aperture units, > 0 and <= 100"),
    max_size: int = typer.Option(320, help="source input: downscale so that max(H, W) <= this"),
    backend: str = typer.Option("auto", help="source input: inference backend"),
):
    """LF contact sheet, wiggle animation (mp4, + GIF with Pillow) and disparity colour map of one frame."""
    from .preview import preview

    try:
        summary = preview(input, out, frame=frame, views=views, baseline=baseline, max_size=max_size,
                          backend=backend)
    except (ValueError, OSError, RuntimeError, UserError) as exc:
        fail("dplf preview", one_line(exc))
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
        fail("dplf depth", one_line(exc))
    typer.echo(summary)


def calibrate_command(
    input: str = typer.Argument(..., help="a .dp file (or any input dplf-run reads) showing a scene of known depth"),
    reference: Path = typer.Option(..., "--reference", "-r", help="the frame's true depth: a depth map (.pfm or "
                                   ".npy in metres, 16-bit .png in millimetres; 0 = unknown) or planes at known "
                                   "distances (.json, docs/outputs.md)"),
    frame: int = typer.Option(0, help="frame index of the input to fit on"),
    backend: str = typer.Option("ort-cpu", help="inference backend for the disparity (auto | ort-cpu | ...)"),
    max_size: int = typer.Option(None, help="run the network on a frame downscaled so that max(H, W) <= this"),
    write: bool = typer.Option(False, "--write", help="store disparity_gain / disparity_offset in the .dp file's "
                               "header (the file is rewritten atomically; every frame is kept)"),
    out: Path = typer.Option(None, "--out", "-o", help="also save the fit as a calibration JSON (for "
                             "dplf-run --depth and dplf depth --calib)"),
    focal_length_px: float = typer.Option(None, "--focal-length-px", help="camera focal length in pixels "
                                          "(default: the .dp header's); needed to express the fit as gain/offset"),
    baseline_mm: float = typer.Option(None, "--baseline-mm", help="distance between the DP half-aperture "
                                      "centroids in mm (default: the .dp header's)"),
):
    """Fit the camera's depth calibration (D = a / z + b) from one frame with a known depth reference."""
    from .calibrate import calibrate

    try:
        summary = calibrate(input, reference, frame=frame, backend=backend, max_size=max_size, write=write, out=out,
                            focal_length_px=focal_length_px, baseline_mm=baseline_mm)
    except (ValueError, OSError, RuntimeError) as exc:
        fail("dplf calibrate", one_line(exc))
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
    baseline: float = typer.Option(1.0, help=".dp input: grid half-extent in aperture units, > 0 and <= 100"),
    max_size: int = typer.Option(None, help=".dp input: downscale so that max(H, W) <= this"),
    backend: str = typer.Option("auto", help=".dp input: inference backend"),
):
    """Synthetic refocus / aperture by shift-and-add over the light-field views of one frame."""
    from .refocus import refocus_file

    try:
        summary = refocus_file(input, out, frame, slope, focus_at, aperture, views, baseline, max_size, backend)
    except (ValueError, OSError, RuntimeError) as exc:
        fail("dplf refocus", one_line(exc))
    typer.echo(summary)


app.command("run")(run_command)
app.command("info")(info_command)
app.command("preview")(preview_command)
app.command("depth")(depth_command)
app.command("calibrate")(calibrate_command)
app.command("refocus")(refocus_command)


ENTRY_POINTS = "dplf.commands"
#: Commands other parts of dplf install through ENTRY_POINTS (name: what `dplf --help` says about them).
PLUGIN_HELP = {"train": "Train the students (needs the train extra).",
               "export": "Export the students to ONNX, TorchScript and TensorRT (needs the train extra)."}
#: Commands from engine modules, imported when invoked (module, attribute).
LAZY = {"convert": ("engine.io.convert", "convert_command",
                    "Convert a capture (image sequence, light field, video) into a .dp file, or back to PNGs."),
        "view": ("engine.viewer.command", "view_command",
                 "Interactive light-field viewer: a self-contained RUN_DIR/viewer.html (no server needed)."),
        "batch": ("engine.batch.cli", "batch_command",
                  "Convert many inputs on Ray, locally or on a cluster; resumable (needs the cluster extra).")}
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    """The dplf.commands entry points: the installed package's; for a source checkout whose installed metadata
    predates them (an old editable install), the ones its pyproject.toml declares."""
    try:
        found = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINTS)}
    except Exception:  # noqa: BLE001 - broken metadata must not break `dplf --help`
        found = {}
    if found:
        return found
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        import tomllib

        declared = tomllib.loads(pyproject.read_text())["project"]["entry-points"][ENTRY_POINTS]
    except (ImportError, OSError, ValueError, KeyError, TypeError):
        return {}
    return {name: metadata.EntryPoint(name, str(value), ENTRY_POINTS) for name, value in declared.items()}


def _entry_point(name: str):
    return _entry_points().get(name)


def _load_command(name: str):
    """The object behind `dplf NAME` (imported now). UserError with one line when it cannot be loaded."""
    if name in LAZY:
        module, attr, _ = LAZY[name]
        try:
            return getattr(import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"cannot load the {name} command ({one_line(exc)}); reinstall dplf") from exc
    ep = _entry_point(name)
    if ep is None:
        raise UserError(f"no {name!r} command is installed (entry point group {ENTRY_POINTS}); "
                        f"reinstall dplf: pip install 'dplf[train]'")
    try:
        return ep.load()
    except (ImportError, AttributeError) as exc:
        ours = str(getattr(exc, "name", None) or "").split(".")[0] in ("models", "export", "engine")
        todo = "reinstall dplf" if ours or isinstance(exc, AttributeError) else \
            "it needs the train extra: pip install 'dplf[train]'"
        raise UserError(f"the {name} command cannot be loaded from {ep.value} ({one_line(exc)}); {todo}") from exc


def _invoke(obj, prog: str, args: list[str]):
    """Run a loaded command (a built typer/click command, a Typer app or a plain typer-style function) on `args`."""
    if isinstance(obj, typer.Typer):
        obj = typer.main.get_command(obj)
    elif not (hasattr(obj, "main") and hasattr(obj, "params")):   # typer may vendor click: duck-type the command
        app1 = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        app1.command()(obj)
        obj = typer.main.get_command(app1)
    return obj.main(args=args, prog_name=prog, standalone_mode=True)


def _register_lazy(name: str, help_text: str) -> None:
    def lazy(ctx: typer.Context):
        prog = f"dplf {name}"
        try:
            obj = _load_command(name)
        except UserError as exc:
            if any(a in ("--help", "-h") for a in ctx.args):   # say what it is and why it cannot run
                typer.echo(f"Usage: {prog} [OPTIONS]\n\n  {help_text} Install it with: pip install 'dplf[train]'"
                           f"\n\n  Not available: {exc}")
                raise typer.Exit(0) from None
            fail(prog, str(exc))
        _invoke(obj, prog, list(ctx.args))

    app.command(name, context_settings=dict(_PASS_THROUGH), help=help_text, add_help_option=False)(lazy)


def _register_optional() -> None:
    for name, (_, _, help_text) in LAZY.items():
        _register_lazy(name, help_text)
    for name in dict.fromkeys([*PLUGIN_HELP, *_entry_points()]):
        if name not in LAZY:
            _register_lazy(name, PLUGIN_HELP.get(name, f"see `dplf {name} --help`"))


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

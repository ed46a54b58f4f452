"""`RUN_DIR/viewer.html` from a dplf-run output folder (docs/viewer.md)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write
from ..io.run_folder import RunFolder
from .pack import D_LEVELS, IMAGE_FORMATS, PackedFrame, disparity_range, pack_frame
from .page import write_page_file

VIEWER_FILE = "viewer.html"
VIEWER_FORMAT = "dplf-viewer/1"
DEFAULT_MAX_MB = 200   # Chromium opens pages of this size from disk in a few seconds; bigger ones get slow
MIME = {"jpg": "image/jpeg", "png": "image/png"}


def open_run(run_dir: str | Path) -> RunFolder:
    """The run folder, checked to be one the viewer can show (ValueError with one line if not)."""
    run = RunFolder(run_dir)
    if not run.has_views:
        raise ValueError(f"{run.path} has no views (it was written with --no-views), so there is nothing to view; "
                         f"run dplf-run again without --no-views, or pass the input to dplf view")
    return run


def viewer_meta(run: RunFolder, frames: list[int], d_range: tuple[float, float], image_format: str,
                size: tuple[int, int]) -> dict:
    """What the page needs besides the pixels: grid, (u, v) positions, size, frames, fps, disparity range."""
    m = run.manifest
    return {
        "format": VIEWER_FORMAT, "grid": list(run.grid), "positions": run.positions.reshape(-1, 2).tolist(),
        "height": size[0], "width": size[1], "frames": frames, "fps": float(m.get("fps") or 30.0),
        "baseline": m.get("baseline"), "image_type": MIME[image_format], "source": m.get("source"),
        "renderer": m.get("renderer"), "backend": m.get("backend"),
        "disparity": {"lo": d_range[0], "hi": d_range[1], "levels": D_LEVELS, "encoding": "zlib-uint16le"},
    }


def _check_options(frames: int | None, image_format: str, quality: int, max_mb: float) -> None:
    if frames is not None and frames < 1:
        raise ValueError(f"--frames must be >= 1, got {frames}")
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"--image-format {image_format!r} is unknown; choose jpg or png")
    if not 1 <= quality <= 100:
        raise ValueError(f"--quality must be 1-100, got {quality}")
    if not max_mb > 0:
        raise ValueError(f"--max-mb must be > 0, got {max_mb}")


def _packed(run: RunFolder, frames: list[int], d_range, image_format: str, quality: int, max_mb: float):
    """Each frame packed, in order; ValueError as soon as the page would pass max_mb."""
    total = 0
    for k, index in enumerate(frames):
        frame: PackedFrame = pack_frame(index, run.views(index), run.disparity(index), d_range, image_format,
                                        quality)
        total += frame.nbytes
        if total > max_mb * 1e6:
            fit = f"pass --frames {k}" if k else "use a run with a smaller --max-size or fewer --views"
            raise ValueError(f"viewer.html for {run.path} would be over --max-mb {max_mb:g} MB after {k + 1} of "
                             f"{len(frames)} frames; {fit}, a lower --quality, or a higher --max-mb")
        yield frame


def write_viewer(run_dir: str | Path, frames: int | None = None, image_format: str = "jpg", quality: int = 90,
                 max_mb: float = DEFAULT_MAX_MB) -> tuple[Path, str]:
    """Write RUN_DIR/viewer.html (atomically: an old page stays until the new one is complete).

    `frames`: the first N frames of the run (default all). Returns (path, summary line). Bad input raises
    ValueError / OSError with one line.
    """
    _check_options(frames, image_format, quality, max_mb)
    run = open_run(run_dir)
    chosen = run.frames[:frames] if frames else list(run.frames)
    extremes, size = [], None
    for i in chosen:   # the page's D range first (maps are read again while packing: constant memory)
        d = run.disparity(i)
        finite = d[np.isfinite(d)]
        extremes += [finite.min(), finite.max()] if finite.size else []
        size = d.shape[:2]
    d_range = disparity_range([np.asarray(extremes, np.float32)])
    meta = viewer_meta(run, chosen, d_range, image_format, size)
    title = f"{Path(str(run.manifest.get('source') or run.path)).name} ({len(chosen)} frames)"
    path = run.path / VIEWER_FILE
    written = [0]

    def write(tmp: Path) -> None:
        written[0] = write_page_file(tmp, meta, title,
                                     _packed(run, chosen, d_range, image_format, quality, max_mb))

    atomic_write(path, write)
    v, u = run.grid
    summary = (f"dplf view: {path} ({written[0] / 1e6:.1f} MB, {len(chosen)} frame{'s' * (len(chosen) != 1)}, "
               f"{v}x{u} views, {meta['width']}x{meta['height']}); open it in a browser (no server needed)")
    return path, summary

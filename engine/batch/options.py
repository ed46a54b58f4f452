"""The run options a batch passes to every input, checked once before any worker starts (so a bad option is one
line at the command, not the same failure recorded for every input)."""
from __future__ import annotations

from ..io.outputs import JPG_QUALITY, PNG_LEVEL, VIEW_FORMATS, check_encoding
from ..pipeline import RENDERERS
from ..validation import check_baseline

PRECISIONS = ("auto", "fp32", "fp16")
ON_ERROR = ("stop", "skip")


def run_options(views: int = 7, baseline: float = 1.0, view_format: str = "png", no_views: bool = False,
                frames: int | None = None, start: int = 0, max_size: int | None = None, backend: str = "auto",
                precision: str = "auto", dp_model: str | None = None, renderer: str = "dibr",
                png_level: int = PNG_LEVEL, jpg_quality: int = JPG_QUALITY, on_error: str = "stop") -> dict:
    """The options dict BatchWorker and batch.json use. ValueError with one line on a bad value."""
    if no_views:
        views = 0
    elif views < 1:
        raise ValueError(f"--views must be >= 1, got {views}; for disparity only pass --no-views")
    check_baseline(baseline)
    if view_format not in VIEW_FORMATS:
        raise ValueError(f"--format {view_format!r} is unknown; choose one of {', '.join(VIEW_FORMATS)}")
    if frames is not None and frames < 1:
        raise ValueError(f"--frames must be >= 1, got {frames}")
    if start < 0:
        raise ValueError(f"--start must be >= 0, got {start}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"--max-size must be >= 1, got {max_size}")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision {precision!r} is unknown; choose one of {', '.join(PRECISIONS)}")
    if renderer not in RENDERERS:
        raise ValueError(f"--renderer {renderer!r} is unknown; choose one of {', '.join(RENDERERS)}")
    if on_error not in ON_ERROR:
        raise ValueError(f"--on-error {on_error!r} is unknown; choose stop or skip")
    check_encoding(png_level, jpg_quality)
    _check_backend(backend)
    if dp_model is not None:   # the same bundled index every worker reads (dplf is installed alike everywhere)
        from ..model_store import ModelStore

        ModelStore().get(dp_model)
    return {"views": int(views), "baseline": float(baseline), "view_format": view_format if views else None,
            "frames": frames, "start": int(start), "max_size": max_size, "backend": backend,
            "precision": precision, "dp_model": dp_model, "renderer": renderer, "png_level": int(png_level),
            "jpg_quality": int(jpg_quality), "on_error": on_error}


def _check_backend(name: str) -> None:
    """An unknown backend name fails here; whether a known one works is for each worker's machine to say."""
    from ..backends.registry import BACKENDS, auto_order

    if name != "auto" and name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(['auto', *auto_order()])}")

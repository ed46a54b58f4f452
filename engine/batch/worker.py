"""One batch worker: a `Pipeline` built once, then `engine.run.run` for each input it is given.

Knows nothing of Ray: `BatchWorker` is the callable class Ray Data's `map_batches` instantiates once per actor
(engine/batch/ray_runner.py), and works the same when called directly. Every input gives one result row; an
input that fails gives its one-line reason (the same text dplf-run prints), never an exception that would stop
the other inputs. A failure that is not a known bad-input error also keeps its traceback.
"""
from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path

import numpy as np

from ..errors import one_line
from ..io.run_folder import MANIFEST
from ..run import run
from .ledger import read_json

#: the errors dplf-run reports as one line (bad input or environment); anything else is a bug and keeps its trace
USER_ERRORS = (ValueError, OSError, RuntimeError)
FIELDS = ("name", "input", "status", "reason", "frames", "wall_s", "fps", "worker", "traceback")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def describe(exc: BaseException) -> tuple[str, str]:
    """(one-line reason, traceback or "") for a failed input."""
    if isinstance(exc, USER_ERRORS):
        return one_line(exc), ""
    return f"{type(exc).__name__}: {one_line(exc)}", "".join(traceback.format_exception(exc))[-4000:]


class BatchWorker:
    """`BatchWorker(options, threads)(rows) -> rows`: run every input of a batch of rows.

    options: the run options (engine/batch/options.py); threads: CPU threads for inference (None: all).
    Input rows: `name`, `input`, `out` (the run folder), `overwrite`; output rows: FIELDS.
    """

    def __init__(self, options: dict, threads: int | None = None):
        self.options, self.error = dict(options), None
        self.pipeline = None
        try:   # built once per worker; a failure here is every input's reason, not a dead actor
            from ..pipeline import Pipeline

            self.pipeline = Pipeline(backend=options["backend"], precision=options["precision"],
                                     views=options["views"], baseline=options["baseline"], dtype=np.uint8,
                                     threads=threads, dp_model=options["dp_model"], renderer=options["renderer"])
        except Exception as exc:  # noqa: BLE001 - recorded as each input's reason
            self.error = describe(exc)
        self.threads = threads

    def __call__(self, rows: dict) -> dict:
        results = [self.run_one(str(name), str(path), Path(str(out)), bool(over))
                   for name, path, out, over in zip(rows["name"], rows["input"], rows["out"], rows["overwrite"])]
        return {key: np.array([r[key] for r in results], dtype=object) for key in FIELDS}

    def run_one(self, name: str, path: str, out: Path, overwrite: bool) -> dict:
        result = {"name": name, "input": path, "status": "failed", "reason": "", "frames": 0, "wall_s": 0.0,
                  "fps": 0.0, "worker": worker_id(), "traceback": ""}
        t0 = time.perf_counter()
        if self.error is not None:
            result["reason"], result["traceback"] = self.error
            return result
        o = self.options
        try:
            run(input=path, out=out, views=o["views"], baseline=o["baseline"], backend=o["backend"],
                precision=o["precision"], view_format=o["view_format"] or "png", frames=o["frames"], start=o["start"],
                max_size=o["max_size"], threads=self.threads, progress=False, overwrite=overwrite,
                dp_model=o["dp_model"], pipeline=self.pipeline, renderer=o["renderer"], png_level=o["png_level"],
                jpg_quality=o["jpg_quality"], on_error=o["on_error"])
            result["status"] = "complete"
        except Exception as exc:  # noqa: BLE001 - the input's recorded reason; the batch goes on
            result["reason"], result["traceback"] = describe(exc)
        wall = time.perf_counter() - t0
        manifest = read_json(out / MANIFEST) or {}
        frames = int(manifest.get("frames", 0)) if manifest.get("source") == path else 0
        result.update(frames=frames, wall_s=round(wall, 3), fps=round(frames / wall, 3) if wall > 0 else 0.0)
        return result

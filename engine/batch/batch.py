"""`dplf batch` as a function: inputs -> a plan per input (run, skip, refuse) -> Ray workers -> batch.json.

Each input is converted by `engine.run.run` into `OUT/<name>/` (the dplf-run layout), on a worker that keeps
one Pipeline for all its inputs. Complete runs with the same options are skipped on a rerun; failed,
interrupted or unfinished ones are run again. Every outcome is recorded in OUT/batch.json as it happens.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import one_line
from ..io.run_folder import MANIFEST
from .inputs import expand_inputs, name_inputs
from .ledger import Ledger, plan, read_json, utc_now

CLUSTER_EXTRA = "pip install 'dplf[cluster]'"


class MissingRay(RuntimeError):
    """Ray (the cluster extra) is not installed."""


def require_ray() -> None:
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingRay(f"dplf batch needs Ray Data ({one_line(exc)}); install it with: {CLUSTER_EXTRA}") from None


@dataclass
class BatchReport:
    out: Path
    results: list[dict] = field(default_factory=list)    # inputs that ran: worker result rows
    skipped: list[str] = field(default_factory=list)     # names already complete
    refused: list[dict] = field(default_factory=list)    # complete runs with other options (not replaced)
    wall_s: float = 0.0     # the whole batch, Ray start-up included
    startup_s: float = 0.0  # connecting to (or starting) Ray
    workers: int = 0

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.results if r["status"] != "complete"] + self.refused

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def summary(self) -> str:
        from .progress import summary_table

        return summary_table(self.results, self.skipped, self.refused, self.wall_s, self.startup_s, self.out)


def batch(inputs: list[str], out, options: dict, workers: int | None = None, address: str | None = None,
          overwrite: bool = False, progress: bool | None = None) -> BatchReport:
    """Convert every input into `out/<name>/`. Raises ValueError/OSError with one line for bad arguments
    (before anything runs) and MissingRay without Ray; failures of single inputs are in the report instead.
    `options`: engine/batch/options.py run_options(); `workers`: actors (default: one per GPU, else one per two
    CPUs); `address`: a Ray cluster (default: a local Ray started for this batch); `overwrite`: redo complete
    runs too."""
    require_ray()
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    items = name_inputs(expand_inputs(list(inputs)))
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; choose a folder (created if missing)")
    out.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(out)
    report = BatchReport(out)
    todo = []
    for p in (plan(item, out, options, ledger, overwrite) for item in items):
        if p.action == "skip":
            report.skipped.append(p.item.name)
            if (ledger.entry(p.item.name) or {}).get("status") != "complete":   # made or finished outside a batch
                frames = int((read_json(out / p.item.name / MANIFEST) or {}).get("frames", 0))
                ledger.record(p.item.name, {"input": str(p.item.path), "status": "complete", "frames": frames,
                                            "skipped": True}, options)
        elif p.action == "refuse":
            report.refused.append({"name": p.item.name, "input": str(p.item.path), "reason": p.reason})
        else:
            todo.append(p)
    started = utc_now()
    t0 = time.perf_counter()
    try:
        if todo:
            _run_on_ray(todo, out, options, workers, address, progress, ledger, report)
    finally:
        report.wall_s = time.perf_counter() - t0
        ledger.save({"started": started, "finished": utc_now(), "workers": report.workers, "address": address,
                     "options": options, "ran": [r["name"] for r in report.results if r["status"] == "complete"],
                     "skipped": report.skipped, "failed": [r["name"] for r in report.failed],
                     "refused": {r["name"]: r["reason"] for r in report.refused}})
    return report


def _run_on_ray(todo, out: Path, options: dict, workers, address, progress, ledger: Ledger,
                report: BatchReport) -> None:
    from . import ray_runner
    from .progress import BatchProgress

    rows = [{"name": p.item.name, "input": str(p.item.path), "out": str(out / p.item.name),
             "overwrite": p.overwrite} for p in todo]
    t0 = time.perf_counter()
    try:
        started_ray = ray_runner.connect(address, workers)
    except Exception as exc:  # noqa: BLE001 - Ray's own error types: one line for the user, nothing has run
        where = f"join the Ray cluster at {address}" if address else "start a local Ray"
        todo_ = "check --address and that the cluster runs the same Ray version" if address else \
            "see the Ray logs under /tmp/ray"
        raise RuntimeError(f"cannot {where}: {one_line(exc)}; {todo_}") from exc
    report.startup_s = time.perf_counter() - t0
    bar = None
    try:
        layout = ray_runner.worker_layout(workers, len(rows), options["backend"])
        report.workers = layout["workers"]
        bar = BatchProgress([r["name"] for r in rows], out, layout["workers"], progress)
        for result in ray_runner.run_inputs(rows, options, layout):
            if result is None:
                bar.tick()
                continue
            _record(result, options, ledger, report)
            bar.finished(result["name"], int(result["frames"]))
    except Exception as exc:  # noqa: BLE001 - Ray itself failed (a worker died): the unfinished inputs say so
        done = {r["name"] for r in report.results}
        for row in rows:
            if row["name"] not in done:
                _record({**row, "status": "failed", "reason": f"the batch stopped: {type(exc).__name__}: "
                         f"{one_line(exc)}", "frames": 0, "wall_s": 0.0, "fps": 0.0, "worker": ""},
                        options, ledger, report)
    finally:
        if bar is not None:
            bar.close()
        if started_ray:
            ray_runner.shutdown()


def _record(result: dict, options: dict, ledger: Ledger, report: BatchReport) -> None:
    result = {k: (v.item() if hasattr(v, "item") else v) for k, v in result.items()}   # numpy scalars -> Python
    report.results.append(result)
    ledger.record(result["name"], result, options)
    ledger.save()

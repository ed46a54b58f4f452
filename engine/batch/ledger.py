"""`OUT/batch.json`: what a batch did with each input, kept across reruns, and the resume decision.

Format "dplf-batch/1" (docs/scaling.md):
    {"format": "dplf-batch/1", "out": "/abs/OUT", "updated": "2026-12-06T21:00:00Z",
     "inputs": {NAME: {"input": "/abs/path", "status": "complete" | "failed", "reason": "one line" | null,
                       "frames": n, "wall_s": s, "fps": f, "worker": "host:pid", "options": {...},
                       "attempts": k, "updated": "..."}},
     "last_batch": {"started": ..., "finished": ..., "workers": n, "address": ..., "options": {...},
                    "ran": [...], "skipped": [...], "failed": [...], "refused": {NAME: "one line"}}}
An entry describes what is in OUT/NAME; an input refused this time (a complete run made with other options,
left as it is) is named in last_batch.refused with its reason, and its entry still describes the run it keeps.
A run folder's own manifest.json stays the authority on whether that run is complete.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import atomic_write
from ..io.run_folder import MANIFEST, MANIFEST_FORMAT
from .inputs import BatchInput

LEDGER = "batch.json"
LEDGER_FORMAT = "dplf-batch/1"
#: options whose value must be the same for a complete run to count as done (the run options of a batch)
COMPARED = ("views", "baseline", "view_format", "frames", "start", "max_size", "backend", "precision", "dp_model")


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_json(path: Path) -> dict | None:
    """A JSON object from `path`, or None when it is missing or unreadable (a half-written file is never left:
    both files are written atomically)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Ledger:
    """batch.json in memory; `save()` writes it atomically (after every input, so Ctrl-C loses nothing)."""

    def __init__(self, out: Path):
        self.path = Path(out) / LEDGER
        data = read_json(self.path)
        if data is None and self.path.exists():   # never overwrite a record we cannot read
            raise ValueError(f"{self.path} exists but is not readable JSON; move it away (the runs' own manifests "
                             f"say which inputs are complete) or choose another --out")
        if data is not None and data.get("format") != LEDGER_FORMAT:
            raise ValueError(f"{self.path} is not a {LEDGER_FORMAT} file; choose another --out")
        self.data = data or {"format": LEDGER_FORMAT, "out": str(Path(out).resolve()), "inputs": {}}

    def entry(self, name: str) -> dict | None:
        return self.data["inputs"].get(name)

    def record(self, name: str, result: dict, options: dict) -> None:
        old = self.entry(name) or {}
        self.data["inputs"][name] = {
            "input": result["input"], "status": result["status"], "reason": result.get("reason") or None,
            "frames": int(result.get("frames", 0)), "wall_s": float(result.get("wall_s", 0.0)),
            "fps": float(result.get("fps", 0.0)), "worker": result.get("worker") or None, "options": options,
            "attempts": int(old.get("attempts", 0)) + (0 if result.get("skipped") else 1), "updated": utc_now()}
        if result.get("traceback"):
            self.data["inputs"][name]["traceback"] = result["traceback"]

    def save(self, last_batch: dict | None = None) -> None:
        if last_batch is not None:
            self.data["last_batch"] = last_batch
        self.data["updated"] = utc_now()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, (json.dumps(self.data, indent=1) + "\n").encode())


@dataclass
class Plan:
    """What to do with one input: "run" (overwrite: replace a previous attempt's files), "skip", or "refuse"."""
    item: BatchInput
    action: str
    overwrite: bool = False
    reason: str | None = None


def plan(item: BatchInput, out: Path, options: dict, ledger: Ledger, overwrite: bool) -> Plan:
    """Skip a complete run with the same options; rerun a failed, interrupted or unfinished one; refuse to
    replace a complete run made with other options unless `overwrite`."""
    folder = Path(out) / item.name
    manifest = read_json(folder / MANIFEST)
    if manifest is None or manifest.get("format") != MANIFEST_FORMAT:
        return Plan(item, "run", overwrite)   # new (or a folder of other files: run() refuses it in one line)
    if overwrite or manifest.get("status") != "complete":
        return Plan(item, "run", True)
    diff = differences(manifest, (ledger.entry(item.name) or {}), item, options)
    if not diff:
        return Plan(item, "skip")
    return Plan(item, "refuse", reason=f"{folder} holds a complete run made with other options ({'; '.join(diff)});"
                                       f" pass --overwrite to redo it, or choose another --out")


def differences(manifest: dict, entry: dict, item: BatchInput, options: dict) -> list[str]:
    """How a complete run differs from what is asked now. The manifest answers for the source and the view
    grid; the options batch.json recorded for the run answer for the rest (a run made by dplf-run alone, with
    no batch.json entry, is taken on its manifest)."""
    diff = []
    source = manifest.get("source")
    if source and Path(source).resolve() != item.path:
        diff.append(f"input {source}, not {item.path}")
    n = options["views"]
    if list(manifest.get("views") or [0, 0]) != [n, n]:
        diff.append(f"views {manifest.get('views')}, not [{n}, {n}]")
    if n and manifest.get("baseline") != options["baseline"]:
        diff.append(f"baseline {manifest.get('baseline')}, not {options['baseline']}")
    if n and manifest.get("view_format") != options["view_format"]:
        diff.append(f"format {manifest.get('view_format')}, not {options['view_format']}")
    recorded = entry.get("options") if entry.get("status") == "complete" else None
    if recorded is not None:
        for key in COMPARED:
            if key not in ("views", "baseline", "view_format") and recorded.get(key) != options.get(key):
                diff.append(f"{key} {recorded.get(key)}, not {options.get(key)}")
    return diff

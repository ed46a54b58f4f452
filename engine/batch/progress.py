"""What `dplf batch` shows: two progress bars (inputs, frames) on a terminal, and the summary table at the end.

Frames are counted live from the run folders: every run rewrites its manifest.json after each frame, so the
driver reads the manifests of the inputs that may be in flight (the first few unfinished ones, in dataset
order) whenever they change. This needs nothing from the workers, and OUT is shared with them anyway.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from ..io.run_folder import MANIFEST
from .ledger import read_json


class BatchProgress:
    """Bars over inputs and frames (drawn only on a terminal unless `enabled` says otherwise)."""

    def __init__(self, names: list[str], out: Path, workers: int, enabled: bool | None = None):
        self.pending = list(names)
        self.out, self.window = Path(out), max(2, 2 * workers)
        self.done_frames = 0
        self.live: dict[str, int] = {}
        self._mtime: dict[str, float] = {}
        disable = None if enabled is None else not enabled
        self.inputs = tqdm(total=len(names), unit="input", desc="inputs", disable=disable, file=sys.stderr,
                           position=0)
        self.frames = tqdm(unit="frame", desc="frames", disable=disable, file=sys.stderr, position=1)

    def finished(self, name: str, frames: int) -> None:
        if name in self.pending:
            self.pending.remove(name)
        self.live.pop(name, None)
        self.done_frames += frames
        self.inputs.update(1)
        self._show()

    def tick(self) -> None:
        """Read the manifests of the inputs that may be running now."""
        for name in self.pending[:self.window]:
            path = self.out / name / MANIFEST
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if self._mtime.get(name) == mtime:
                continue
            self._mtime[name] = mtime
            manifest = read_json(path) or {}
            if manifest.get("status") == "running":
                self.live[name] = int(manifest.get("frames", 0))
        self._show()

    def _show(self) -> None:
        n = self.done_frames + sum(self.live.values())
        if n != self.frames.n:
            self.frames.update(n - self.frames.n)

    def close(self) -> None:
        self.inputs.close()
        self.frames.close()


def summary_table(results: list[dict], skipped: list[str], refused: list[dict], wall_s: float, startup_s: float,
                  out: Path) -> str:
    """The end-of-batch report: totals, a row per worker (inputs, frames, busy seconds, FPS), the failures."""
    ran = [r for r in results if r["status"] == "complete"]
    failed = [r for r in results if r["status"] != "complete"] + refused
    frames = sum(int(r["frames"]) for r in ran)
    total = len(results) + len(skipped) + len(refused)
    rate = frames / wall_s if wall_s > 0 else 0.0
    lines = [f"dplf batch: {total} input{'s' if total != 1 else ''} -> {out}: {len(ran)} converted, "
             f"{len(skipped)} skipped (already complete), {len(failed)} failed; {frames} frames in {wall_s:.1f} s "
             f"(Ray start-up {startup_s:.1f} s) "
             f"({rate:.2f} frames/s, {len(ran) / wall_s if wall_s > 0 else 0.0:.3f} inputs/s)"]
    per = defaultdict(lambda: [0, 0, 0.0])
    for r in results:
        if r.get("worker"):
            row = per[r["worker"]]
            row[0] += 1
            row[1] += int(r["frames"])
            row[2] += float(r["wall_s"])
    if per:
        lines.append(f"  {'worker':<28} {'inputs':>6} {'frames':>7} {'busy_s':>8} {'fps':>7}")
        for worker, (n, f, busy) in sorted(per.items()):
            lines.append(f"  {worker:<28} {n:>6} {f:>7} {busy:>8.1f} {f / busy if busy > 0 else 0.0:>7.2f}")
    if skipped:
        shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        lines.append(f"  skipped (already complete): {shown}")
    for r in failed:
        lines.append(f"  failed {r['name']} ({r['input']}): {r['reason']}")
    lines.append(f"  record: {out / 'batch.json'}")
    return "\n".join(lines)

"""`StreamStats`: per-stage latencies of one `Pipeline.stream()` in fixed ring buffers (what `pipe.stats()`
returns)."""
from __future__ import annotations

import threading
import time

import numpy as np

from .latency import latency_summary


class StreamStats:
    """Per-stage latency samples of one stream in fixed ring buffers (no growth however long it runs).

    Thread-safe: the stream adds from its thread, `snapshot()` may be called from any.
    """

    def __init__(self, window: int, *, policy: str = "queue", live: bool = False, source: str = ""):
        self.window, self.policy, self.live, self.source = int(window), policy, live, source
        self._lock = threading.Lock()
        self._rings: dict[str, np.ndarray] = {}
        self.frames = self.dropped = self.skipped = 0
        self._t0 = self._t1 = None

    def begin(self) -> None:
        self._t0, self._t1 = time.perf_counter(), None

    def end(self) -> None:
        if self._t0 is not None and self._t1 is None:
            self._t1 = time.perf_counter()

    def count_skip(self) -> None:
        with self._lock:
            self.skipped += 1

    def set_dropped(self, n: int) -> None:
        with self._lock:
            self.dropped = n

    def add(self, timings: dict[str, float]) -> None:
        with self._lock:
            slot = self.frames % self.window
            for stage, ms in timings.items():
                ring = self._rings.get(stage)
                if ring is None:   # first time this stage shows up: earlier frames did not have it
                    ring = self._rings[stage] = np.full(self.window, np.nan)
                ring[slot] = ms
            for stage, ring in self._rings.items():
                if stage not in timings:
                    ring[slot] = np.nan
            self.frames += 1

    def snapshot(self) -> dict:
        with self._lock:
            n = min(self.frames, self.window)
            latency = {stage: latency_summary(ring[:n], extra=True) for stage, ring in self._rings.items()
                       if not np.isnan(ring[:n]).all()}
            frames, dropped, skipped = self.frames, self.dropped, self.skipped
        t0 = self._t0
        wall = 0.0 if t0 is None else (self._t1 or time.perf_counter()) - t0
        return {"source": self.source, "live": self.live, "policy": self.policy,
                "running": t0 is not None and self._t1 is None, "frames": frames, "dropped": dropped,
                "skipped": skipped, "wall_s": round(wall, 3), "fps": round(frames / wall, 3) if wall > 0 else 0.0,
                "window": self.window, "latency_ms": latency}

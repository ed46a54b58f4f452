"""Synthetic training samples rendered in worker processes, so a GPU step never waits on numpy rendering.

    pool = SamplePool(render_fn, workers=15, first_seed=1000, in_flight=32)
    samples = pool.take(min_count=1)     # whatever has finished (blocks until at least min_count)
    pool.close()

Seeds are handed out in order, results come back in completion order: with workers the sample stream is
deterministic as a set, not as a sequence (the single-process path in models/training/samples.py stays
bit-reproducible).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from collections.abc import Callable


def _one_thread_per_worker() -> None:
    """Worker initialiser (runs before numpy/OpenCV/torch load there): N workers x all-core thread pools would
    oversubscribe the CPU (seen on a 16-core GPU host: 15 workers rendered ~6x slower than they should)."""
    import os
    import signal
    import sys

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    if sys.platform.startswith("linux"):   # die with the trainer: a killed parent left a worker rendering on
        import ctypes

        try:
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


class SamplePool:
    """Keeps `in_flight` render jobs queued on `workers` spawned processes. `render_fn(seed) -> dict` must be
    picklable (a module-level function or functools.partial of one)."""

    def __init__(self, render_fn: Callable[[int], dict], workers: int, first_seed: int, in_flight: int = 0):
        if workers < 1:
            raise ValueError(f"SamplePool needs at least one worker, got {workers}")
        self._fn = render_fn
        self._next_seed = first_seed
        self._in_flight = max(in_flight, 2 * workers)
        # spawn: the parent may hold CUDA state and threads that a fork would copy into the children
        self._ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                          initializer=_one_thread_per_worker)
        self._pending: set[cf.Future] = set()
        self._fill()

    def _fill(self) -> None:
        while len(self._pending) < self._in_flight:
            self._pending.add(self._ex.submit(self._fn, self._next_seed))
            self._next_seed += 1

    def take(self, min_count: int = 1, max_count: int | None = None) -> list[dict]:
        """Finished samples (at least `min_count`, waiting if needed; at most `max_count`). Errors re-raise."""
        out: list[dict] = []
        while len(out) < min_count:
            done, _ = cf.wait(self._pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                self._pending.discard(fut)
                out.append(fut.result())
        for fut in [f for f in self._pending if f.done()]:
            if max_count is not None and len(out) >= max_count:
                break
            self._pending.discard(fut)
            out.append(fut.result())
        self._fill()
        return out

    def close(self) -> None:
        for fut in self._pending:
            fut.cancel()
        self._ex.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> SamplePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Writing frames in the background for `OutputWriter` (docs/outputs.md, "Writing in the background").

A frame is a list of independent tasks (encode and write one file each: they run on a pool of writer
threads, in any order; cv2.imencode and file writes release the GIL), a list of ordered tasks (video frames:
one thread runs them in the order the frames were submitted) and a commit (count the frame in the manifest:
it runs on the caller's thread, frame after frame in submission order, once every task of that frame and
of every earlier frame has succeeded). At most `max_frames` frames are in flight: `submit` waits for the
oldest one first, so memory stays bounded whatever the pipeline's speed.

A task that fails stops the writing: frames not yet started are cancelled, the ones running are waited for,
the files of every frame not committed are removed (the frame's `discard`), and the error of the earliest
failing frame is raised on the caller's thread (from `submit`, `flush` or `close`), with `failed` set to that
frame's key. Every frame before it has been committed and stays.

With `workers=0` everything runs on the caller's thread, inside `submit` (the sequential writer).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

Task = Callable[[], object]


class WritePool:
    def __init__(self, workers: int = 2, max_frames: int = 3):
        if workers < 0:
            raise ValueError(f"writer threads must be >= 0, got {workers}")
        if max_frames < 1:
            raise ValueError(f"frames in flight must be >= 1, got {max_frames}")
        self.workers, self.max_frames = int(workers), int(max_frames)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="dplf-writer") if workers else None
        self._ordered = ThreadPoolExecutor(1, thread_name_prefix="dplf-writer-ordered") if workers else None
        self._pending: deque[tuple[Hashable, list[Future], Task, Task]] = deque()
        self._lock = threading.Lock()
        self._active, self._since, self._busy = 0, 0.0, 0.0
        self.failed: Hashable | None = None   # key of the frame whose write failed
        self.peak = 0                          # most frames in flight at once (for tests and the docs)

    # -- busy time: the wall time during which at least one write was running ----------------------------
    @property
    def busy_s(self) -> float:
        with self._lock:
            return self._busy + (time.perf_counter() - self._since if self._active else 0.0)

    def _timed(self, task: Task) -> object:
        with self._lock:
            if not self._active:
                self._since = time.perf_counter()
            self._active += 1
        try:
            return task()
        finally:
            with self._lock:
                self._active -= 1
                if not self._active:
                    self._busy += time.perf_counter() - self._since

    # -- frames ------------------------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def submit(self, key: Hashable, tasks: Sequence[Task], ordered: Sequence[Task] = (),
               commit: Task = lambda: None, discard: Task = lambda: None) -> None:
        """Queue one frame (see the module docstring). Raises the error of an earlier frame that failed."""
        if self.failed is not None:
            raise RuntimeError(f"the output writer stopped after frame {self.failed} failed")
        if self._pool is None:
            try:
                for task in (*tasks, *ordered, commit):
                    self._timed(task)
            except BaseException as exc:
                self.failed = key
                _discard(discard, exc)
                raise
            return
        self._collect(block=False)
        while len(self._pending) >= self.max_frames:   # back-pressure: wait for the oldest frame
            self._finish_oldest()
        futures = [self._pool.submit(self._timed, t) for t in tasks]
        futures += [self._ordered.submit(self._timed, t) for t in ordered]
        self._pending.append((key, futures, commit, discard))
        self.peak = max(self.peak, len(self._pending))

    def flush(self) -> None:
        """Wait for every frame in flight and commit them in order (raises the first failure)."""
        self._collect(block=True)

    def close(self) -> None:
        """flush(), then stop the threads. On any failure (also Ctrl-C while waiting) the frames not started
        are cancelled, the running writes are waited for and the frames not committed removed before the error
        propagates."""
        try:
            self.flush()
        except BaseException as exc:
            self._abort(exc)
            raise
        finally:
            for ex in (self._pool, self._ordered):
                if ex is not None:
                    ex.shutdown(wait=True)

    def _collect(self, block: bool) -> None:
        while self._pending and (block or all(f.done() for f in self._pending[0][1])):
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        key, futures, commit, _ = self._pending[0]
        wait(futures)   # Ctrl-C here leaves the frame in flight: close() still finishes and commits it
        errors = [f.exception() for f in futures if f.exception() is not None]
        try:
            if errors:
                raise errors[0]
            self._timed(commit)
            self._pending.popleft()
        except BaseException as exc:
            self.failed = key
            self._abort(exc)
            raise

    def _abort(self, exc: BaseException) -> None:
        """Cancel what has not started, wait for what runs, remove the frames in flight (none is committed)."""
        for _, futures, _, _ in self._pending:
            for f in futures:
                f.cancel()
        for _, futures, _, _ in self._pending:
            wait(futures)
        while self._pending:
            _discard(self._pending.popleft()[3], exc)


def _discard(discard: Task, exc: BaseException) -> None:
    """Remove a frame that was not committed; a failure to do so is noted on the error being raised."""
    try:
        discard()
    except OSError as err:
        exc.add_note(f"the partial files could not all be removed: {err}")

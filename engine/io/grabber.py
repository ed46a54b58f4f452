"""FrameGrabber: a reader thread that fills a small buffer from any iterable, with a drop policy.

"latest" keeps the newest (old frames are dropped), "queue" blocks the producer when the buffer is full
(nothing is dropped), "drop-new" discards incoming frames when full. ``Pipeline.stream`` runs every source
through one (docs/architecture.md, "Streaming").
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

DROP_POLICIES = ("latest", "queue", "drop-new")


@dataclass
class Grabbed:
    """One buffered item: what the source yielded, when it entered the buffer (perf_counter seconds), how
    long the source took to produce it (ms), and its sequence number among everything the source produced."""

    item: Any
    t_in: float
    read_ms: float
    seq: int


class FrameGrabber:
    """Reads ``source`` (any iterable) on a daemon thread into a buffer of at most ``maxsize`` items.

    policy: "latest" (default maxsize 1): a new item evicts the oldest when the buffer is full, so the
        consumer always gets the newest frame; evicted items count as dropped. For live sources.
        "queue" (default maxsize 4): the producer blocks while the buffer is full; nothing is dropped.
        "drop-new" (default maxsize 4): an item arriving at a full buffer is discarded (counted as dropped).
    ``get(timeout)`` -> Grabbed, or None at the end of the source; it re-raises the source's exception
    (after the items buffered before it) and raises TimeoutError when nothing arrives within ``timeout``.
    ``produced`` / ``delivered`` / ``dropped`` count items. ``note(...)`` lets the producer side pass
    messages (e.g. skipped frames) that ``take_notes()`` hands to the consumer; notes are never dropped.
    ``close()`` stops the thread (it may be blocked inside the source; it is a daemon and is abandoned
    after ``join_timeout``) and returns whether it stopped. Iterating a grabber yields the items.
    """

    def __init__(self, source: Iterable, policy: str = "latest", maxsize: int | None = None,
                 name: str = "dplf-grabber"):
        if policy not in DROP_POLICIES:
            raise ValueError(f"drop policy {policy!r} is unknown; choose one of {', '.join(DROP_POLICIES)}")
        if maxsize is None:
            maxsize = 1 if policy == "latest" else 4
        if maxsize < 1:
            raise ValueError(f"queue size must be >= 1, got {maxsize}")
        self.source, self.policy, self.maxsize = source, policy, int(maxsize)
        self.produced = self.delivered = self.dropped = 0
        self._buf: deque[Grabbed] = deque()
        self._notes: deque = deque()
        self._cond = threading.Condition()
        self._done = self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # producer side ---------------------------------------------------------------------------------
    def start(self) -> "FrameGrabber":
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        return self

    def _run(self) -> None:
        it = None
        try:
            it = iter(self.source)
            while True:
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    break
                if not self._put(item, (time.perf_counter() - t0) * 1e3):
                    break
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._error = exc
        finally:
            close = getattr(it, "close", None)   # a generator: run its finally (releases captures) here
            if close is not None and it is not self.source:
                try:
                    close()
                except Exception:  # noqa: BLE001 - already ending; the consumer sees the first error
                    pass
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _put(self, item, read_ms: float) -> bool:
        with self._cond:
            if self._closed:
                return False
            entry = Grabbed(item, time.perf_counter(), read_ms, self.produced)
            self.produced += 1
            if len(self._buf) >= self.maxsize:
                if self.policy == "latest":
                    self._buf.popleft()
                    self.dropped += 1
                elif self.policy == "drop-new":
                    self.dropped += 1
                    return True
                else:
                    while len(self._buf) >= self.maxsize and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return False
                    entry.t_in = time.perf_counter()
            self._buf.append(entry)
            self._cond.notify_all()
            return True

    def note(self, *payload) -> None:
        with self._cond:
            self._notes.append(payload)
            self._cond.notify_all()

    # consumer side ---------------------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> Grabbed | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._buf:
                if self._done:
                    if self._error is not None:
                        raise self._error
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no frame within {timeout:g} s")
                self._cond.wait(remaining)
            entry = self._buf.popleft()
            self.delivered += 1
            self._cond.notify_all()
            return entry

    def take_notes(self) -> list:
        with self._cond:
            notes = list(self._notes)
            self._notes.clear()
            return notes

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self, join_timeout: float = 2.0) -> bool:
        with self._cond:
            self._closed = True
            self._buf.clear()
            self._cond.notify_all()
        if self._thread.ident is not None:
            self._thread.join(join_timeout)
        return not self._thread.is_alive()

    def __iter__(self) -> Iterator:
        self.start()
        try:
            while (entry := self.get()) is not None:
                yield entry.item
        finally:
            self.close()

    def __enter__(self) -> "FrameGrabber":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

"""RawSequence: what every input layout opens to (frames in stored form + the .dp header describing them),
and ``orient``, which installs the rotation that makes the stored DP parallax horizontal."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator

import numpy as np

from engine.io.dpfile import DPHeader
from engine.io.formats.files import SIDECAR
from engine.io.orientation import AUTO_ROTATION, parallax_axis, parallax_verdict, parse_rotate, rotate_planes


class RawSequence:
    """A source's frames in stored form (left/right uint16|uint8 [H, W], rgb uint8 [H, W, 3] or None)
    plus the metadata a .dp header needs. ``load(i)`` reads frame i (random access), ``frames(n)`` streams
    the first n as ``(i, timestamp, left, right, rgb)``; ``header`` describes them (after any rotation)."""

    def __init__(self, layout: str, name: str, header: DPHeader, loaders: list[Callable[[], tuple]],
                 timestamps: list[float] | None = None, stems: list[str] | None = None):
        self.layout, self.name, self.header = layout, name, header
        self.loaders = loaders
        self.timestamps = timestamps
        self.stems = stems
        self.pairs: list[dict] | None = None       # image-pair layouts: [{stem, left, right, rgb}] per frame
        self.transform: Callable | None = None     # applied to every (left, right, rgb), e.g. a rotation
        self.warnings: list[str] = []
        # what the source's own metadata says about orientation (sidecar); resolved by orient()
        self.source_orientation = header.orientation
        self.sidecar_rotate = None
        self.exported = False   # a PNG export of a .dp (dp_header.json with "format": "dplf-dp")
        self._first = None

    def __len__(self) -> int:
        return len(self.loaders)

    def _raw(self, i: int) -> tuple:
        if i == 0 and self._first is not None:
            first, self._first = self._first, None
            return first
        return self.loaders[i]()

    def first_raw(self) -> tuple:
        """Frame 0 before ``transform`` (cached for the next ``load(0)``)."""
        if self._first is None:
            self._first = self.loaders[0]()
        return self._first

    def _out(self, frame: tuple) -> tuple:
        return frame if self.transform is None else self.transform(*frame)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self._out(self._raw(i))

    def timestamp(self, i: int) -> float:
        return self.timestamps[i] if self.timestamps else i / self.header.fps

    def frames(self, n: int | None = None) -> Iterator[tuple]:
        """(i, timestamp, left, right, rgb) for the first n frames (all by default), in order."""
        n = len(self) if n is None else min(n, len(self))
        for i in range(n):
            yield (i, self.timestamp(i)) + tuple(self.load(i))


class StreamSequence(RawSequence):
    """A sequential source (video): ``frames()`` streams with constant memory; ``len()`` and ``load(i)`` work
    (for engine.io.sources) but decode from the start when needed."""

    def __init__(self, layout: str, name: str, header: DPHeader, iterate: Callable, first: tuple,
                 fixed_fps: bool):
        super().__init__(layout, name, header, [])
        self._iterate = iterate          # max_frames -> iterator of (timestamp, left, right, rgb)
        self._first = first
        self._fixed_fps = fixed_fps      # timestamps are i / fps (--fps given) instead of the video's
        self._count: int | None = None
        self._cursor = None
        self._pos = 0
        self._stamps: dict[int, float] = {}

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(1 for _ in self._iterate(None))
        return self._count

    def first_raw(self) -> tuple:
        return self._first[1:]

    def _raw(self, i: int) -> tuple:
        if self._cursor is None or i < self._pos:
            self._cursor, self._pos = self._iterate(None), 0
        for ts, left, right, rgb in self._cursor:
            self._pos += 1
            if self._pos - 1 == i:
                self._stamps[i] = ts
                return left, right, rgb
        raise IndexError(f"{self.name}: frame {i} is past the end of the video")

    def timestamp(self, i: int) -> float:
        if self._fixed_fps:
            return i / self.header.fps
        return self._stamps.get(i, i / self.header.fps)

    def frames(self, n: int | None = None) -> Iterator[tuple]:
        for i, (ts, left, right, rgb) in enumerate(self._iterate(n)):
            ts = i / self.header.fps if self._fixed_fps else ts
            yield (i, ts) + tuple(self._out((left, right, rgb)))


def orient(seq: RawSequence, rotate) -> RawSequence:
    """Resolve the rotation (given, sidecar ``rotate``, or auto), install it and record it in the header."""
    if rotate is not None:
        spec, given = parse_rotate(rotate), "--rotate"
    elif seq.sidecar_rotate is not None:
        spec, given = seq.sidecar_rotate, f"{SIDECAR} rotate"
    else:
        # the PNG export of a .dp holds planes already stored the dplf way: keep them
        spec, given = (0, f"{SIDECAR} of a .dp export") if seq.exported else ("auto", "auto")
    left, right, _ = seq.first_raw()
    share, r2 = parallax_axis(left, right)
    verdict = parallax_verdict(share, r2)
    deg = (AUTO_ROTATION if verdict == "vertical" else 0) if spec == "auto" else spec
    if deg:
        seq.transform = rotate_planes(deg)
    swap = deg in (90, 270)
    stored = {"horizontal": "vertical", "vertical": "horizontal"}.get(verdict, verdict) if swap else verdict
    h = seq.header
    tags = {**h.tags, "rotate": deg, "rotate_from": given,
            "parallax_check": {"horizontal_share": round(share if not swap else 1.0 - share, 3),
                               "fit_r2": round(r2, 3), "stored": stored}}
    seq.header = replace(h, width=h.height if swap else h.width, height=h.width if swap else h.height,
                         orientation=(seq.source_orientation - deg) % 360, tags=tags)
    if stored == "vertical":
        seq.warnings.append(f"{seq.name}: DP parallax looks vertical in the stored planes (horizontal share "
                            f"{tags['parallax_check']['horizontal_share']:.2f}); dplf needs it horizontal: pass "
                            f"--rotate 90 or 270")
    return seq

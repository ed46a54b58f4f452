"""Fuzz the .dp reader (hypothesis): any byte string either reads or fails with DPFormatError/ValueError,
quickly, without allocating more than the file could hold."""
import tempfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.io.dpfile import DPReader, DPWriter


def _valid_file() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "v.dp"
        rng = np.random.default_rng(0)
        with DPWriter(p, width=12, height=8, bit_depth=8, has_rgb=True) as w:
            for _ in range(3):
                w.write(rng.integers(0, 255, (8, 12), np.uint8), rng.integers(0, 255, (8, 12), np.uint8),
                        rng.integers(0, 255, (8, 12, 3), np.uint8))
        return p.read_bytes()


VALID = _valid_file()


def _read_all(path) -> int:
    try:
        reader = DPReader(path)
        n = 0
        for frame in reader:
            assert frame.left.shape == (reader.header.height, reader.header.width)
            n += 1
        return n
    except ValueError:  # DPFormatError is a ValueError: one clear message
        return -1


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4096))
def test_random_bytes(tmp_path, data):
    p = tmp_path / "r.dp"
    p.write_bytes(data)
    _read_all(p)


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=8),
       st.integers(0, len(VALID)))
def test_mutated_valid_file(tmp_path, flips, cut):
    data = bytearray(VALID[:cut])
    for pos, val in flips:
        if pos < len(data):
            data[pos] = val
    p = tmp_path / "m.dp"
    p.write_bytes(bytes(data))
    n = _read_all(p)
    assert n <= 3
    if not flips and cut == len(VALID):
        assert n == 3


def test_decompression_bomb_is_bounded():
    from engine.io.dpfile import _decode_plane

    bomb = zlib.compress(bytes(200_000_000), 9)   # 200 MB of zeros in ~200 kB
    try:
        _decode_plane(bomb, (8, 12), np.dtype(np.uint8), 0)
    except ValueError as exc:
        assert "expected 96" in str(exc)
    else:
        raise AssertionError("an oversized plane was accepted")

"""The .dp reader under hostile input (SPEC §3, §10; docs/bad-input.md).

Hypothesis throws random bytes and mutated real files (bit flips, overwritten / inserted / deleted bytes,
truncations, and header / index / footer / frame fields rewritten *with valid checksums*, which only a
crafted file has) at DPReader. The contract: every outcome is either data or a DPFormatError (a ValueError)
with a one-line message; a frame-level error names the frame and its byte offset; nothing ever hangs
(hypothesis deadline per example) or allocates more than the file and its declared frame size justify
(tracemalloc peak per example); every frame that is returned is bit-exact. Then deterministic checks on
samples/demo.dp and on real writers: truncation at every record boundary and inside every record, a writer
killed mid-record, and every single-bit flip inside a frame record.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.io.dpfile import MAX_HEADER_BYTES, MAX_PIXELS, MAX_SIDE, DPFormatError, DPReader, DPWriter
from engine.io.dpformat import decode_plane
from tests.paths import ROOT

DEMO = ROOT / "samples" / "demo.dp"
W, H, N = 12, 8, 3
MEMORY_CAP = 16 << 20          # bytes a tiny (< 8 kB) fuzzed file may make the reader allocate at peak
# Deterministic by default (same examples on every run, no example database); DPLF_FUZZ_SCALE=20 runs 20x the
# examples with fresh randomness, for a longer hunt.
_SCALE = float(os.environ.get("DPLF_FUZZ_SCALE", "1"))
_BASE = settings(deadline=1500, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                 derandomize=_SCALE == 1, database=None)


def fuzz(n: int) -> settings:
    return settings(_BASE, max_examples=max(1, int(n * _SCALE)))


# ---------------------------------------------------------------- a small valid file and its layout

def _frames(n=N, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (H, W), np.uint8), rng.integers(0, 256, (H, W), np.uint8),
             rng.integers(0, 256, (H, W, 3), np.uint8)) for _ in range(n)]


FRAMES = _frames()


def _write(path: Path, close: bool = True) -> None:
    w = DPWriter(path, width=W, height=H, bit_depth=8, has_rgb=True, camera="fuzz", tags={"k": [1, 2]})
    for i, (left, right, rgb) in enumerate(FRAMES):
        w.write(left, right, rgb, timestamp=0.25 * i)
    if close:
        w.close()
    else:
        w._f.close()   # an interrupted writer: no index, no footer


def _bytes(close: bool) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        _write(Path(d) / "v.dp", close)
        return (Path(d) / "v.dp").read_bytes()


VALID = _bytes(close=True)
OPEN = _bytes(close=False)     # same frames, as an interrupted writer leaves them


def layout(data: bytes) -> dict:
    """Offsets parsed independently of DPReader, from docs/dp-format.md."""
    n = struct.unpack_from("<I", data, 12)[0]
    pos, records = 20 + n, []
    while data[pos:pos + 4] == b"DPFR":
        end = pos + 12 + struct.unpack_from("<I", data, pos + 4)[0]
        records.append((pos, end))
        pos = end
    return {"data_start": 20 + n, "json": (16, 16 + n), "records": records, "index": pos,
            "footer": len(data) - 24}


LAYOUT = layout(VALID)


# ---------------------------------------------------------------- the contract

def _check_error(e: DPFormatError, path: Path) -> None:
    msg = str(e)
    assert type(e) is DPFormatError, f"{type(e).__name__}: {msg}"
    assert msg and "\n" not in msg and len(msg) < 500, repr(msg)
    assert msg.startswith(str(path)), msg
    if e.frame is not None:
        assert f"frame {e.frame} at byte offset {e.offset}" in msg


def read_everything(path: Path, reference=FRAMES) -> dict:
    """Open, random-access every frame, iterate; return what came out. Fails the test on any exception other
    than DPFormatError, on a frame that differs from `reference`, on > MEMORY_CAP bytes allocated or on a
    slow read."""
    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        result = {"open_error": None, "frames": [], "errors": {}, "iter_error": None}
        try:
            reader = DPReader(path)
        except DPFormatError as e:
            _check_error(e, path)
            result["open_error"] = e
            return result
        with reader:
            ok = reader.frames_ok
            assert 0 <= ok <= len(reader)
            for i in range(len(reader)):
                try:
                    f = reader[i]
                except DPFormatError as e:
                    _check_error(e, path)
                    assert e.frame == i and e.offset == int(reader._offsets[i]), str(e)
                    result["errors"][i] = e
                    continue
                h = reader.header
                assert f.index == i and math.isfinite(f.timestamp)
                assert f.left.shape == f.right.shape == (h.height, h.width)
                assert f.left.dtype == f.right.dtype == h.dtype
                assert (f.rgb is None) == (not h.has_rgb)
                if (h.width, h.height, h.bit_depth) == (W, H, 8) and i < len(reference) and reference[i]:
                    l, r, c = reference[i]
                    # a returned frame is bit-exact: the checksum lets nothing through
                    assert np.array_equal(f.left, l) and np.array_equal(f.right, r)
                    assert f.rgb is None or np.array_equal(f.rgb, c)
                result["frames"].append(i)
            seen = []
            try:
                for f in reader:
                    seen.append(f.index)
            except DPFormatError as e:
                _check_error(e, path)
                result["iter_error"] = e
            assert seen == list(range(len(seen)))   # iteration: a gap-free prefix, then (maybe) the error
            assert ok <= len(seen) or result["iter_error"] is not None
        return result
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MEMORY_CAP + 4 * path.stat().st_size, f"reader allocated {peak} bytes"
        assert time.perf_counter() - t0 < 5.0


def _put(tmp_path, data: bytes, name="f.dp") -> Path:
    p = tmp_path / name
    p.write_bytes(bytes(data))
    return p


def test_valid_files_read_back(tmp_path):
    for data, recovered in ((VALID, False), (OPEN, True)):
        p = _put(tmp_path, data)
        res = read_everything(p)
        assert res["frames"] == [0, 1, 2] and res["iter_error"] is None
        assert DPReader(p).recovered is recovered


# ---------------------------------------------------------------- random bytes

@fuzz(150)
@given(st.binary(max_size=2048))
def test_random_bytes(tmp_path, data):
    read_everything(_put(tmp_path, data))


@fuzz(150)
@given(st.sampled_from([VALID[:8], VALID[:20], VALID[:LAYOUT["data_start"]]]), st.binary(max_size=2048))
def test_valid_prefix_then_random_bytes(tmp_path, prefix, tail):
    res = read_everything(_put(tmp_path, prefix + tail))
    assert res["frames"] == [] or prefix == VALID[:LAYOUT["data_start"]]


# ---------------------------------------------------------------- mutations of a real file

def _first_frame_touched(pos: int) -> int | None:
    """Index of the frame record containing byte `pos` (len(records) for the index/footer), None for the
    file header."""
    if pos < LAYOUT["data_start"]:
        return None
    for i, (a, b) in enumerate(LAYOUT["records"]):
        if pos < b:
            return i
    return len(LAYOUT["records"])


_op = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(VALID) - 1), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, len(VALID) - 1), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, len(VALID)), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, len(VALID) - 1), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.integers(0, len(VALID) - 1), st.just(0)),
)


@fuzz(250)
@given(st.sampled_from(["closed", "open"]), st.lists(_op, min_size=1, max_size=4))
def test_mutated_file(tmp_path, which, ops):
    """Frames entirely before the first changed byte stay readable (in order, bit-exact); later ones are
    either bit-exact or reported."""
    original = VALID if which == "closed" else OPEN
    data = bytearray(original)
    first = len(data)
    for kind, pos, arg in ops:
        pos = min(pos, len(data))
        if kind == "flip" and pos < len(data):
            data[pos] ^= 1 << arg
        elif kind == "set" and pos < len(data):
            data[pos] = arg
        elif kind == "insert":
            data[pos:pos] = arg
        elif kind == "delete":
            del data[pos:pos + arg]
        elif kind == "truncate":
            del data[pos:]
        first = min(first, pos)
    if bytes(data) == original:
        return
    res = read_everything(_put(tmp_path, data))
    k = _first_frame_touched(first)
    if k is not None:
        assert res["open_error"] is None, str(res["open_error"])
        n_intact = min(k, N)
        got = res["frames"]
        assert got[:n_intact] == list(range(n_intact)), (got, k)


@fuzz(150)
@given(st.integers(0, len(VALID)))
def test_truncated_anywhere(tmp_path, cut):
    res = read_everything(_put(tmp_path, VALID[:cut]))
    complete = sum(1 for a, b in LAYOUT["records"] if b <= cut)
    if cut < LAYOUT["data_start"]:
        assert res["open_error"] is not None
        return
    assert res["frames"] == list(range(complete))
    partial = complete < N and cut > LAYOUT["records"][complete][0]
    if partial:   # the cut frame is reported, with where it starts
        assert res["iter_error"].frame == complete
        assert res["iter_error"].offset == LAYOUT["records"][complete][0]
    elif LAYOUT["index"] < cut < LAYOUT["index"] + 3:   # "D", "DP": a frame or the index? reported as frame N
        assert res["iter_error"] is None or (res["iter_error"].frame, res["iter_error"].offset) == (N, LAYOUT["index"])
    else:
        assert res["iter_error"] is None, str(res["iter_error"])


# ---------------------------------------------------------------- crafted fields with valid checksums

def _header(meta: bytes, n: int | None = None, major: int = 1) -> bytes:
    return (b"\x89DPF\r\n\x1a\n" + struct.pack("<HHI", major, 0, len(meta) if n is None else n) + meta
            + struct.pack("<I", zlib.crc32(meta)))


def _with_header(meta: bytes) -> bytes:
    """VALID's frame records (not its index, whose offsets would be off) behind a new header."""
    return _header(meta) + VALID[LAYOUT["data_start"]:LAYOUT["index"]]


GOOD_META = json.loads(VALID[16:LAYOUT["data_start"] - 4])
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8) | st.sampled_from([0, 1, 8, 16, 255, 65535, W, H, MAX_SIDE + 1, 2**31, -1]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)


@fuzz(200)
@given(st.dictionaries(st.sampled_from(sorted(GOOD_META) + ["width", "height", "calibration"]), _json_value,
                       max_size=4),
       st.sets(st.sampled_from(sorted(GOOD_META)), max_size=2))
def test_header_fields_with_valid_crc(tmp_path, changes, removed):
    meta = {k: v for k, v in {**GOOD_META, **changes}.items() if k not in removed}
    res = read_everything(_put(tmp_path, _with_header(json.dumps(meta).encode())))
    if res["open_error"] is not None:
        assert "file header" in str(res["open_error"])


@pytest.mark.parametrize("meta, match", [
    (b"[" * 100_000, "JSON is invalid"),                        # RecursionError in json.loads
    (b'{"width": Infinity}', "must be an integer"),             # int(inf) -> OverflowError before the fix
    (json.dumps({**GOOD_META, "fps": float("nan")}).encode(), "fps"),
    (json.dumps({**GOOD_META, "white_level": 0}).encode(), "white_level"),          # division by zero later
    (json.dumps({**GOOD_META, "width": 10**9, "height": 10**9}).encode(), "limit"),  # giant planes
    (json.dumps({**GOOD_META, "width": MAX_SIDE, "height": MAX_SIDE}).encode(), str(MAX_PIXELS)),
    (json.dumps({**GOOD_META, "bit_depth": 12}).encode(), "bit_depth"),
    (json.dumps({**GOOD_META, "has_rgb": "yes"}).encode(), "has_rgb"),
    (json.dumps({**GOOD_META, "calibration": {"disparity_gain": "x"}}).encode(), "disparity_gain"),
    (b"\xff\xfe{}", "JSON is invalid"),
    (b"{}", "missing"),
], ids=["deep-json", "inf-width", "nan-fps", "white-0", "giant", "too-many-pixels", "12-bit", "has_rgb-str",
        "calibration-str", "not-utf8", "empty-object"])
def test_bad_header_values(tmp_path, meta, match):
    p = _put(tmp_path, _with_header(meta))
    with pytest.raises(DPFormatError, match=match) as e:
        DPReader(p)
    _check_error(e.value, p)


@pytest.mark.parametrize("n", [len(VALID), 1 << 20, MAX_HEADER_BYTES + 1, 0xFFFFFFFF])
def test_header_length_field_is_bounded(tmp_path, n):
    """The JSON length is checked against the file size and a cap *before* reading: it used to go straight to
    read(n), which allocates n bytes (4 GiB for 0xFFFFFFFF) before finding the file short."""
    p = _put(tmp_path, VALID[:12] + struct.pack("<I", n) + VALID[16:])
    tracemalloc.start()
    try:
        with pytest.raises(DPFormatError, match="file header"):
            DPReader(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(VALID) + (1 << 20)


def _footer(index_offset: int, count: int) -> bytes:
    head = struct.pack("<QQ", index_offset, count)
    return head + struct.pack("<I", zlib.crc32(head)) + b"DPND"


def _index(offsets, count=None) -> bytes:
    body = struct.pack("<Q", len(offsets) if count is None else count) + b"".join(
        struct.pack("<Qd", o, 0.0) for o in offsets)
    length = struct.pack("<I", len(body))
    return b"DPIX" + length + body + struct.pack("<I", zlib.crc32(body, zlib.crc32(length)))


_offset = st.one_of(st.sampled_from([a for a, _ in LAYOUT["records"]]), st.integers(0, len(VALID) + 10),
                    st.sampled_from([2**63, 2**64 - 1, 2**63 - 1]))


@fuzz(200)
@given(st.lists(_offset, max_size=5), st.one_of(st.none(), st.integers(0, 2**64 - 1)),
       st.one_of(st.none(), _offset), st.one_of(st.none(), st.integers(0, 2**64 - 1)))
def test_index_and_footer_with_valid_crcs(tmp_path, offsets, index_count, footer_offset, footer_count):
    """A crafted index (offsets anywhere, counts that disagree) is never trusted blindly: the reader falls back
    to scanning, or reports the frame; it used to seek to 2**64-1 (negative after int64 conversion)."""
    frames = VALID[:LAYOUT["index"]]
    index = _index(offsets, index_count)
    count = len(offsets) if footer_count is None else footer_count
    data = frames + index + _footer(len(frames) if footer_offset is None else footer_offset, count)
    p = _put(tmp_path, data)
    res = read_everything(p)
    assert res["open_error"] is None
    with DPReader(p) as r:
        if r.recovered:   # an index that fails a sanity check is ignored: the records are scanned
            assert res["frames"] == [0, 1, 2] and res["iter_error"] is None
        else:   # one that passes must tile the records from the first to the index; misplaced middle entries
            # give errors for those frames (read_everything checked their frame number and offset)
            assert len(r) >= 1 and res["frames"][0] == 0


_plane = st.tuples(st.integers(0, 4), st.sampled_from([1, 1, 1, 0, 2]), st.sampled_from([0, 1, 1, 2]),
                   st.one_of(st.just("real"), st.binary(max_size=64), st.just("bomb"), st.just("short"),
                             st.just("long")), st.one_of(st.none(), st.integers(0, 2**32 - 1)))


def _payload(kind, pid):
    size = H * W * (3 if pid == 2 else 1)
    if kind == "real":
        return zlib.compress(np.arange(size, dtype=np.uint8).tobytes())
    if kind == "bomb":
        return zlib.compress(bytes(50_000_000), 9)   # 50 MB of zeros in ~50 kB
    if kind == "short":
        return zlib.compress(bytes(size - 1))
    if kind == "long":
        return zlib.compress(bytes(size + 1))
    return kind


_BOMB = zlib.compress(bytes(50_000_000), 9)


@fuzz(150)
@given(st.lists(_plane, max_size=5), st.integers(0, 300), st.integers(0, 3),
       st.sampled_from([0.5, float("nan"), float("inf")]))
def test_frame_body_with_valid_crc(tmp_path, planes, count_field, index_field, ts):
    """Frame 1 rewritten with arbitrary plane tables and payloads (zlib bombs included) and a valid CRC:
    frame 1 decodes to the header's shapes or is reported as frame 1; frames 0 and 2 are untouched."""
    payloads = [_BOMB if kind == "bomb" else _payload(kind, pid) for pid, _, _, kind, _ in planes]
    descs = b"".join(struct.pack("<BBBxI", pid, codec, filt, len(p) if length is None else length)
                     for (pid, codec, filt, _, length), p in zip(planes, payloads))
    count = len(planes) if count_field > 255 else count_field
    body = struct.pack("<QdB3x", index_field, ts, count) + descs + b"".join(payloads)
    length = struct.pack("<I", len(body))
    record = b"DPFR" + length + body + struct.pack("<I", zlib.crc32(body, zlib.crc32(length)))
    a1, b1 = LAYOUT["records"][1]
    data = VALID[:a1] + record + VALID[b1:LAYOUT["index"]]     # no index: offsets after frame 1 moved
    res = read_everything(_put(tmp_path, data), reference=[FRAMES[0], None, FRAMES[2]])
    assert 0 in res["frames"] and 2 in res["frames"]
    if 1 not in res["frames"]:
        assert 1 in res["errors"]


def test_decompression_bomb_is_bounded():
    """A plane is inflated to at most its declared size + 1 byte, whatever the payload holds."""
    bomb = zlib.compress(bytes(200_000_000), 9)   # 200 MB of zeros in ~200 kB
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="expected 96"):
            decode_plane(bomb, (8, 12), np.dtype(np.uint8), 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_record_length_field_is_bounded(tmp_path):
    """A frame record whose length field is larger than any frame of the header's size can be is reported as
    such (by the scan and by the indexed read) instead of being read into memory."""
    a1, _ = LAYOUT["records"][1]
    data = bytearray(OPEN)
    body_len = 1 << 30
    data[a1 + 4:a1 + 8] = struct.pack("<I", body_len)
    res = read_everything(_put(tmp_path, data))
    assert res["frames"] == [0] and res["iter_error"].frame == 1
    assert "impossible" in str(res["iter_error"])
    data = bytearray(VALID)   # indexed: the frame read refuses it
    data[a1 + 4:a1 + 8] = struct.pack("<I", body_len)
    with DPReader(_put(tmp_path, data, "closed.dp")) as r:
        assert not r.recovered
        with pytest.raises(DPFormatError, match=rf"frame 1 at byte offset {a1}: record length {body_len} is impossible"):
            r[1]
        assert np.array_equal(r[2].left, FRAMES[2][0])


# ---------------------------------------------------------------- samples/demo.dp: truncation everywhere

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if not DEMO.is_file():
        pytest.skip("samples/demo.dp is missing")
    d = tmp_path_factory.mktemp("demo")
    shutil.copy(DEMO, d / "demo.dp")
    data = (d / "demo.dp").read_bytes()
    with DPReader(d / "demo.dp") as r:
        frames = list(r)
    return d, data, layout(data), frames


def test_demo_truncated_at_many_offsets(demo, tmp_path):
    """Cuts at and around every record boundary, inside every record, in the header, index and footer: every
    complete frame before the cut reads bit-exact, the cut frame is reported with its number and offset."""
    _, data, lay, frames = demo
    recs = lay["records"]
    cuts = {0, 7, 8, 19, lay["data_start"] - 1, lay["data_start"], lay["index"], lay["index"] + 5,
            lay["footer"], lay["footer"] + 23}
    for a, b in recs:
        cuts |= {a + 1, a + 4, a + 8, a + 12, a + 40, (a + b) // 2, b - 4, b - 1, b}
    p = tmp_path / "cut.dp"
    shutil.copy(DEMO, p)
    checked = 0
    for cut in sorted(cuts, reverse=True):   # shrink one file in place: no 3 MB rewrite per cut
        os.truncate(p, cut)
        complete = sum(1 for _, b in recs if b <= cut)
        if cut < lay["data_start"]:
            with pytest.raises(DPFormatError, match="not a .dp file|file header") as e:
                DPReader(p)
            _check_error(e.value, p)
            continue
        with DPReader(p) as r:
            assert r.recovered and len(r) == complete, cut
            if complete < len(recs) and cut > recs[complete][0]:
                dmg = r.damage
                assert (dmg.frame, dmg.offset) == (complete, recs[complete][0]), (cut, str(dmg))
                _check_error(dmg, p)
                assert f"frame {complete} at byte offset {recs[complete][0]}" in str(dmg)
            else:
                assert r.damage is None, (cut, str(r.damage))
            assert r.frames_ok == complete   # every complete frame before the cut passes its checksum
            if complete:
                last = r[complete - 1]
                assert np.array_equal(last.left, frames[complete - 1].left)
                assert np.array_equal(last.rgb, frames[complete - 1].rgb)
            checked += 1
    assert checked > 300
    # full iteration for a few cuts: every complete frame, in order, then the error naming the cut frame
    shutil.copy(DEMO, p)
    for k in (len(recs) - 1, 17, 1):   # descending: truncate() only shrinks
        a, b = recs[k]
        os.truncate(p, (a + b) // 2)
        with DPReader(p) as r:
            seen = []
            with pytest.raises(DPFormatError, match=rf"frame {k} at byte offset {a}: record is truncated"):
                for f in r:
                    seen.append(f)
            assert [f.index for f in seen] == list(range(k))
            assert all(np.array_equal(f.right, frames[f.index].right) for f in seen)


def test_demo_bit_flips_name_the_frame(demo, tmp_path):
    """Single bit flips at spread positions of every demo frame record: the checksum catches each one, the
    error names that frame and its offset, and the neighbours still read (the index is intact)."""
    _, data, lay, frames = demo
    p = tmp_path / "flip.dp"
    shutil.copy(DEMO, p)
    rng = np.random.default_rng(1)
    with open(p, "r+b") as fh:
        for k, (a, b) in enumerate(lay["records"]):
            for pos in (a + int(rng.integers(0, 12)), a + int(rng.integers(12, b - a))):  # head/length, body/CRC
                fh.seek(pos)
                fh.write(bytes([data[pos] ^ (1 << int(rng.integers(0, 8)))]))
                fh.flush()
                with DPReader(p) as r:
                    assert not r.recovered and len(r) == len(frames)
                    with pytest.raises(DPFormatError, match=rf"frame {k} at byte offset {a}:"):
                        r[k]
                    for j in (k - 1, k + 1):
                        if 0 <= j < len(frames):
                            assert np.array_equal(r[j].left, frames[j].left)
                fh.seek(pos)
                fh.write(data[pos:pos + 1])


# ---------------------------------------------------------------- every single-bit flip in a frame record

@pytest.mark.parametrize("closed", [True, False])
def test_every_bit_flip_in_a_record_is_caught(tmp_path, closed):
    """All 8 x len(record) single-bit flips of frame 1 (magic, length, body, CRC): reading frame 1 (indexed
    file) or iterating (scanned file) reports frame 1 at its offset; frame 0 always reads bit-exact."""
    data = VALID if closed else OPEN
    a, b = LAYOUT["records"][1]
    p = tmp_path / "f.dp"
    p.write_bytes(data)
    caught = 0
    with open(p, "r+b") as fh:
        for pos in range(a, b):
            for bit in range(8):
                fh.seek(pos)
                fh.write(bytes([data[pos] ^ (1 << bit)]))
                fh.flush()
                with DPReader(p) as r:
                    assert np.array_equal(r[0].left, FRAMES[0][0])
                    if closed:
                        with pytest.raises(DPFormatError) as e:
                            r[1]
                        assert np.array_equal(r[2].rgb, FRAMES[2][2])
                    else:
                        with pytest.raises(DPFormatError) as e:
                            list(r)
                    assert (e.value.frame, e.value.offset) == (1, a), (pos, bit, str(e.value))
                    caught += 1
            fh.seek(pos)
            fh.write(bytes([data[pos]]))
    assert caught == 8 * (b - a)


# ---------------------------------------------------------------- interrupted writers

_CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from engine.io.dpfile import DPWriter

    path, mode = sys.argv[1], sys.argv[2]
    w = DPWriter(path, width=64, height=48, bit_depth=16, has_rgb=True)
    if mode == "mid-record":   # die half-way through the 4th frame record's write
        raw = w._f
        calls = [0]
        class Dying:
            def __getattr__(self, name):
                return getattr(raw, name)
            def write(self, data):
                calls[0] += 1
                if calls[0] == 4:
                    raw.write(bytes(data)[: len(data) // 2])
                    os.kill(os.getpid(), signal.SIGKILL)
                return raw.write(data)
        w._f = Dying()
    for i in range(10_000):
        rng = np.random.default_rng(i)
        w.write(rng.integers(0, 65536, (48, 64), np.uint16), rng.integers(0, 65536, (48, 64), np.uint16),
                rng.integers(0, 256, (48, 64, 3), np.uint8))
        print(i, flush=True)
""")


def _expected(i):
    rng = np.random.default_rng(i)
    return (rng.integers(0, 65536, (48, 64), np.uint16), rng.integers(0, 65536, (48, 64), np.uint16),
            rng.integers(0, 256, (48, 64, 3), np.uint8))


def _check_killed_file(path: Path, at_least: int) -> None:
    with DPReader(path) as r:
        assert r.recovered and len(r) >= at_least
        for i in range(len(r)):
            f = r[i]
            left, right, rgb = _expected(f.index)
            assert np.array_equal(f.left, left) and np.array_equal(f.right, right) and np.array_equal(f.rgb, rgb)
        if r.damage is not None:    # at most the one record being written when it died
            assert r.damage.frame == len(r)


def _child(path: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(path), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_writer_killed_mid_record(tmp_path):
    p = tmp_path / "killed.dp"
    proc = _child(p, "mid-record")
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with DPReader(p) as r:
        assert len(r) == 3 and r.damage is not None and r.damage.frame == 3
        assert "record is truncated" in str(r.damage)
    _check_killed_file(p, 3)


def test_writer_killed_at_a_random_moment(tmp_path):
    p = tmp_path / "killed.dp"
    proc = _child(p, "loop")
    try:
        for line in proc.stdout:
            if int(line) >= 4:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    _check_killed_file(p, 5)


# ---------------------------------------------------------------- the writer on a full disk

class _FullDisk:
    """A raw file whose writes fail with ENOSPC after `room` more bytes."""

    def __init__(self, raw, room):
        self.raw, self.room = raw, room

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def write(self, data):
        import errno

        data = bytes(data)
        if len(data) > self.room:
            self.raw.write(data[:self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.raw.write(data)


def test_writer_full_disk_keeps_complete_frames(tmp_path):
    """ENOSPC in the middle of frame 2: a one-line OSError naming the frame, the partial record is cut off,
    close() adds no index, and the file reads back frames 0 and 1 with no damage."""
    import errno

    p = tmp_path / "full.dp"
    w = DPWriter(p, width=W, height=H, bit_depth=8, has_rgb=True)
    for left, right, rgb in FRAMES[:2]:
        w.write(left, right, rgb)
    w._f = _FullDisk(w._f, room=50)
    with pytest.raises(OSError, match=r"cannot write frame 2 to .*No space left on device.*2 complete frames") as e:
        w.write(*FRAMES[2])
    assert e.value.errno == errno.ENOSPC and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="earlier write"):
        w.write(*FRAMES[2])
    w.close()
    with DPReader(p) as r:
        assert r.recovered and len(r) == 2 and r.damage is None
        assert [f.index for f in r] == [0, 1]

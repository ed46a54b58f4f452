"""The .dp container (SPEC §3) and PFM I/O: round trips, random access, damage recovery."""
import struct

import numpy as np
import pytest

from engine.io.dpfile import DPFormatError, DPFrame, DPHeader, DPReader, DPWriter
from engine.io.pfm import PFMError, read_pfm, write_pfm
from tests.paths import ROOT

H, W = 24, 40


def make_frames(n, bit_depth, with_rgb, seed=0):
    rng = np.random.default_rng(seed)
    top = (1 << bit_depth) - 1
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    out = []
    for _ in range(n):
        # include the extremes so the delta filter's wrap-around is exercised
        left = rng.integers(0, top + 1, (H, W), dtype=np.int64).astype(dtype)
        left[0, :2] = (top, 0)
        right = np.roll(left, 3, axis=1)
        rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8) if with_rgb else None
        out.append((left, right, rgb))
    return out


def write_file(path, frames, bit_depth=16, close=True, **kw):
    w = DPWriter(path, width=W, height=H, bit_depth=bit_depth, has_rgb=frames[0][2] is not None, **kw)
    for i, (l, r, c) in enumerate(frames):
        w.write(l, r, rgb=c, timestamp=0.5 * i)
    if close:
        w.close()
    return w


@pytest.mark.parametrize("bit_depth", [8, 16])
@pytest.mark.parametrize("with_rgb", [False, True])
def test_round_trip(tmp_path, bit_depth, with_rgb):
    frames = make_frames(4, bit_depth, with_rgb)
    calib = {"disparity_gain": -1.5, "disparity_offset": 0.25, "focal_length_px": 1500.0}
    write_file(tmp_path / "a.dp", frames, bit_depth, fps=24.0, camera="pixel4", orientation=90,
               calibration=calib, tags={"scene": "x", "n": [1, 2]}, black_level=3)
    with DPReader(tmp_path / "a.dp") as r:
        h = r.header
        assert (h.width, h.height, h.fps, h.bit_depth, h.has_rgb) == (W, H, 24.0, bit_depth, with_rgb)
        assert (h.black_level, h.white_level) == (3, (1 << bit_depth) - 1)
        assert h.camera == "pixel4" and h.orientation == 90 and h.calibration == calib
        assert h.tags == {"scene": "x", "n": [1, 2]}
        assert len(r) == 4 and not r.recovered and r.damage is None and r.frames_ok == 4
        got = list(r)
        for i, (f, (l, rr, c)) in enumerate(zip(got, frames)):
            assert f.index == i and f.timestamp == 0.5 * i
            assert f.left.dtype == h.dtype and f.left.shape == (H, W)
            np.testing.assert_array_equal(f.left, l)
            np.testing.assert_array_equal(f.right, rr)
            if with_rgb:
                np.testing.assert_array_equal(f.rgb, c)
            else:
                assert f.rgb is None


def test_random_access_and_normalise(tmp_path):
    frames = make_frames(6, 16, True, seed=3)
    write_file(tmp_path / "a.dp", frames, black_level=1024, white_level=16383)
    r = DPReader(tmp_path / "a.dp")
    for i in (5, 0, 3, -1):
        np.testing.assert_array_equal(r[i].left, frames[i][0])
    with pytest.raises(IndexError, match="out of range"):
        r[6]
    n = r.normalised(r[2])
    expect = np.clip((frames[2][0].astype(np.float64) - 1024) / (16383 - 1024), 0, 1)
    assert n.left.dtype == np.float32 and n.rgb.dtype == np.float32
    np.testing.assert_allclose(n.left, expect, atol=1e-6)
    np.testing.assert_allclose(n.rgb, frames[2][2] / 255.0, atol=1e-6)
    assert n.left.min() >= 0 and n.left.max() <= 1
    assert isinstance(r[0].normalised(r.header), DPFrame)


def record_offsets(path):
    """Byte offsets of the frame records, parsed independently of DPReader (docs/dp-format.md)."""
    data = path.read_bytes()
    pos = 16 + struct.unpack_from("<I", data, 12)[0] + 4
    offs = []
    while data[pos:pos + 4] == b"DPFR":
        offs.append(pos)
        pos += 12 + struct.unpack_from("<I", data, pos + 4)[0]
    assert data[pos:pos + 4] == b"DPIX"
    return offs, pos


def test_truncation_keeps_complete_frames(tmp_path):
    frames = make_frames(5, 16, True, seed=5)
    src = tmp_path / "a.dp"
    write_file(src, frames)
    offs, index_pos = record_offsets(src)
    data = src.read_bytes()
    for cut_frame, extra in [(3, 1), (3, 7), (3, 300), (4, 13)]:
        cut = tmp_path / "cut.dp"
        cut.write_bytes(data[:offs[cut_frame] + extra])
        r = DPReader(cut)
        assert r.recovered and len(r) == cut_frame and r.frames_ok == cut_frame
        assert r.damage.frame == cut_frame and r.damage.offset == offs[cut_frame]
        seen = []
        with pytest.raises(DPFormatError, match=rf"frame {cut_frame} at byte offset {offs[cut_frame]}"):
            for f in r:
                seen.append(f.index)
        assert seen == list(range(cut_frame))
        np.testing.assert_array_equal(r[cut_frame - 1].rgb, frames[cut_frame - 1][2])
    # cut exactly between records (inside the index): a clean recovery, no damage
    clean = tmp_path / "clean.dp"
    clean.write_bytes(data[:index_pos + 5])
    r = DPReader(clean)
    assert r.recovered and len(r) == 5 and r.damage is None and len(list(r)) == 5


def test_flipped_byte_is_caught_by_checksum(tmp_path):
    frames = make_frames(5, 16, False, seed=7)
    src = tmp_path / "a.dp"
    write_file(src, frames)
    offs, _ = record_offsets(src)
    data = bytearray(src.read_bytes())
    data[offs[2] + 100] ^= 0x10  # inside frame 2's compressed planes
    bad = tmp_path / "bad.dp"
    bad.write_bytes(bytes(data))
    r = DPReader(bad)
    assert len(r) == 5 and not r.recovered  # index is intact: random access around the damage still works
    with pytest.raises(DPFormatError, match=rf"frame 2 at byte offset {offs[2]}: checksum") as e:
        r[2]
    assert e.value.frame == 2
    np.testing.assert_array_equal(r[3].left, frames[3][0])
    assert r.frames_ok == 2
    seen = []
    with pytest.raises(DPFormatError, match="frame 2"):
        for f in r:
            seen.append(f.index)
    assert seen == [0, 1]


def test_interrupted_writer_is_readable(tmp_path):
    frames = make_frames(3, 8, True, seed=9)
    w = write_file(tmp_path / "a.dp", frames, bit_depth=8, close=False)  # no close(): no index, no footer
    r = DPReader(tmp_path / "a.dp")
    assert r.recovered and r.damage is None and len(r) == 3
    for i, f in enumerate(r):
        np.testing.assert_array_equal(f.right, frames[i][1])
        assert f.timestamp == 0.5 * i
    w.close()
    assert not DPReader(tmp_path / "a.dp").recovered


def test_context_manager_closes_on_error(tmp_path):
    frames = make_frames(2, 16, False)
    with pytest.raises(RuntimeError):
        with DPWriter(tmp_path / "a.dp", width=W, height=H) as w:
            w.write(*frames[0][:2])
            raise RuntimeError("boom")
    r = DPReader(tmp_path / "a.dp")
    assert len(r) == 1 and not r.recovered


def test_writer_validation(tmp_path):
    w = DPWriter(tmp_path / "a.dp", width=W, height=H, bit_depth=16)
    good = np.zeros((H, W), np.uint16)
    with pytest.raises(ValueError, match=r"left has shape \(24, 41\)"):
        w.write(np.zeros((H, W + 1), np.uint16), good)
    with pytest.raises(ValueError, match="right has dtype uint8, the file stores uint16"):
        w.write(good, np.zeros((H, W), np.uint8))
    with pytest.raises(ValueError, match="has_rgb=False"):
        w.write(good, good, rgb=np.zeros((H, W, 3), np.uint8))
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(good, good)
    for kw, msg in [(dict(bit_depth=12), "bit_depth"), (dict(width=0), "width"),
                    (dict(black_level=300, bit_depth=8), "black_level"), (dict(fps=-1), "fps"),
                    (dict(orientation=45), "orientation"), (dict(calibration={"gain": 1}), "calibration keys"),
                    (dict(tags={"x": object()}), "JSON")]:
        args = dict(width=W, height=H) | kw
        with pytest.raises(ValueError, match=msg):
            DPWriter(tmp_path / "b.dp", **args)
    w = DPWriter(tmp_path / "c.dp", width=W, height=H, has_rgb=True)
    with pytest.raises(ValueError, match="has_rgb=True"):
        w.write(good, good)
    w.close()


def test_reader_rejects_garbage(tmp_path):
    (tmp_path / "empty.dp").write_bytes(b"")
    (tmp_path / "text.dp").write_bytes(b"hello world, not a dp file at all")
    for name in ("empty.dp", "text.dp", "missing.dp"):
        with pytest.raises(DPFormatError, match="dp file"):
            DPReader(tmp_path / name)


def test_header_dataclass_json_round_trip():
    h = DPHeader(width=4, height=3, fps=10.0, bit_depth=8, white_level=200, tags={"a": 1}, has_rgb=True)
    assert DPHeader.from_json(h.to_json()) == h
    assert h.dtype == np.uint8


# ---------------------------------------------------------------- PFM

def test_pfm_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    for arr in (rng.normal(size=(5, 7)).astype(np.float32), rng.normal(size=(4, 6, 3)).astype(np.float32)):
        write_pfm(tmp_path / "a.pfm", arr)
        np.testing.assert_array_equal(read_pfm(tmp_path / "a.pfm"), arr)
    # bottom-up storage: the first stored row is the image's last row; scale -1 means little-endian
    data = (tmp_path / "a.pfm").read_bytes()
    assert data.startswith(b"PF\n6 4\n-1\n")
    # big-endian file (positive scale) written by hand
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    (tmp_path / "be.pfm").write_bytes(b"Pf\n3 2\n1.0\n" + arr[::-1].astype(">f4").tobytes())
    np.testing.assert_array_equal(read_pfm(tmp_path / "be.pfm"), arr)
    (tmp_path / "bad.pfm").write_bytes(b"Pf\n3 2\n-1\n" + b"\0" * 10)
    with pytest.raises(PFMError, match="truncated"):
        read_pfm(tmp_path / "bad.pfm")


def test_pfm_hci_ground_truth(data_dir):
    gt = read_pfm(data_dir / "hci" / "antinous" / "gt_disp_lowres.pfm")
    assert gt.shape == (512, 512) and gt.dtype == np.float32
    assert -3.2 < gt.min() < -3.0 and 2.6 < gt.max() < 2.8
    # the top-down orientation: the HCI scene's centre view and GT agree on where the edges are
    import cv2
    img = cv2.imread(str(data_dir / "hci" / "antinous" / "input_Cam040.png"), cv2.IMREAD_GRAYSCALE)
    gx = np.abs(np.diff(gt, axis=0)) > 0.3
    ix = np.abs(np.diff(img.astype(np.float32), axis=0))
    flipped = np.abs(np.diff(gt[::-1], axis=0)) > 0.3
    assert ix[gx].mean() > 1.5 * ix[flipped].mean()


def test_documented_minimal_reader_reads_our_files(tmp_path):
    """docs/dp-format.md's standalone reader (no dplf code) decodes what DPWriter writes."""

    doc = (ROOT / "docs" / "dp-format.md").read_text()
    code = doc.split("### Minimal reader", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(code, namespace)
    for bit_depth, with_rgb in ((16, True), (8, False)):
        frames = make_frames(3, bit_depth, with_rgb, seed=bit_depth)
        write_file(tmp_path / "d.dp", frames, bit_depth)
        got = list(namespace["read_dp"](tmp_path / "d.dp"))
        assert [g[0] for g in got] == [0, 1, 2] and [g[1] for g in got] == [0.0, 0.5, 1.0]
        for (_, _, left, right, rgb), (l, r, c) in zip(got, frames):
            np.testing.assert_array_equal(left, l)
            np.testing.assert_array_equal(right, r)
            if with_rgb:
                np.testing.assert_array_equal(rgb, c)

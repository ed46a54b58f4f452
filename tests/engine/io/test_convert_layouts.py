"""`dplf convert` layouts for real DP data (issue 5): dpMV 3-view roots (view, frame offsets, rotation), Pixel 4,
DPDD-style left/right folders, two-frame DP GIFs, side-by-side videos, and the one-line errors.

Fabricated sources carry a physical DP pair: a texture seen with a known disparity D = x_left - x_right
(SPEC §2), so each test checks that the stored planes keep the parallax horizontal and its sign (left and
right not swapped), after any rotation, frame offset or lossy encoding.
"""
import json

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from engine.conventions import dp_gray
from engine.io.convert import (LAYOUTS, convert, convert_command, detect_layout, open_layout, parallax_axis,
                               parallax_verdict)
from engine.io import sbs_video
from engine.io.dpfile import DPReader

H, W, PAD = 48, 64, 8


def texture(seed: int, h: int = H, w: int = W + 2 * PAD, binary: bool = False) -> np.ndarray:
    """uint8 [h, w] blocks of 4x4 px: strong, non-periodic texture that survives JPEG/GIF/MP4 coding."""
    rng = np.random.default_rng(seed)
    levels = np.array([16, 240]) if binary else np.linspace(16, 240, 8)
    small = levels[rng.integers(0, len(levels), (h // 4 + 1, w // 4 + 1))].astype(np.uint8)
    return cv2.resize(small, (small.shape[1] * 4, small.shape[0] * 4), interpolation=cv2.INTER_NEAREST)[:h, :w]


def dp_pair(d: int, seed: int = 0, binary: bool = False):
    """(left, right) uint8 [H, W] of one texture with disparity D = x_left - x_right = d (integer)."""
    tex = texture(seed, binary=binary)
    lo, hi = d // 2, d - d // 2
    return tex[:, PAD - lo:PAD - lo + W].copy(), tex[:, PAD + hi:PAD + hi + W].copy()


def measure_shift(left: np.ndarray, right: np.ndarray, r: int = 6) -> tuple[int, int]:
    """Integer (dx, dy) minimising mean |left(x, y) - right(x - dx, y - dy)|: dx is D = x_left - x_right."""
    a, b = left.astype(np.float64), right.astype(np.float64)
    h, w = a.shape
    best = None
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            e = np.abs(a[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)]
                       - b[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]).mean()
            if best is None or e < best[0]:
                best = (e, dx, dy)
    return best[1], best[2]


def write_img(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr), path


def write_gif(path, frames):
    """frames: RGB uint8 [H, W, 3] (or gray [H, W]); OpenCV's GIF encoder (palette-quantised, dithered)."""
    bgr = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) if f.ndim == 2 else f[..., ::-1].copy() for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwritemulti(str(path), bgr), path


def read_gif(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f[..., ::-1])
    cap.release()
    return out


def one_line_error(fn, *args, match, **kwargs) -> str:
    with pytest.raises(ValueError) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg, msg
    for m in ([match] if isinstance(match, str) else match):
        assert m in msg, msg
    return msg


# ---------------------------------------------------------------- pairs, black/white levels, rotation

def test_pixel4_like_pairs_keep_sign_and_levels(tmp_path):
    src = tmp_path / "pix"
    frames = []
    for i, d in enumerate((3, -2)):
        left, right = dp_pair(d, seed=i)
        left16, right16 = (1024 + x.astype(np.uint16) * 40 for x in (left, right))  # 14-bit data above black
        write_img(src / f"{i:03d}_left.png", left16)
        write_img(src / f"{i:03d}_right.png", right16)
        frames.append((left16, right16, d))
    assert detect_layout(src) == "pixel4"
    report = convert(src, tmp_path / "p.dp")
    r = DPReader(tmp_path / "p.dp")
    h = r.header
    assert (h.black_level, h.white_level, h.bit_depth, h.orientation) == (1024, 16383, 16, 0)
    assert h.tags["rotate"] == 0 and h.tags["parallax_check"]["stored"] == "horizontal" and not report.warnings
    for i, (left16, right16, d) in enumerate(frames):
        np.testing.assert_array_equal(r[i].left, left16)       # lossless
        np.testing.assert_array_equal(r[i].right, right16)
        assert measure_shift(r[i].left, r[i].right) == (d, 0)  # horizontal, sign kept
    n = r[0].normalised(h)
    assert n.left.min() >= 0 and n.left.max() <= 1
    # levels the source does not say come from the command line, and are recorded
    convert(src, tmp_path / "q.dp", black_level=512, white_level=12000, fps=24)
    h = DPReader(tmp_path / "q.dp").header
    assert (h.black_level, h.white_level, h.fps) == (512, 12000, 24.0)


def test_rotation_auto_explicit_and_sidecar(tmp_path):
    left, right = dp_pair(4)
    # the pair as a portrait display shows it: turned 90 deg clockwise, so the parallax runs vertically
    src = tmp_path / "portrait"
    write_img(src / "a_left.png", np.rot90(left, -1).copy())
    write_img(src / "a_right.png", np.rot90(right, -1).copy())
    assert parallax_verdict(*parallax_axis(np.rot90(left, -1), np.rot90(right, -1))) == "vertical"
    report = convert(src, tmp_path / "auto.dp")               # default: auto -> turned back 90 deg CCW
    r = DPReader(tmp_path / "auto.dp")
    assert (r.header.width, r.header.height, r.header.orientation) == (W, H, 90)
    assert (r.header.tags["rotate"], r.header.tags["rotate_from"]) == (270, "auto")
    assert r.header.tags["parallax_check"]["stored"] == "horizontal" and "turned 270" in report.summary()
    np.testing.assert_array_equal(r[0].left, left)
    np.testing.assert_array_equal(r[0].right, right)
    # displaying the stored planes with the header orientation gives the source back
    np.testing.assert_array_equal(np.rot90(r[0].left, -r.header.orientation // 90), np.rot90(left, -1))
    convert(src, tmp_path / "r270.dp", rotate=270)
    np.testing.assert_array_equal(DPReader(tmp_path / "r270.dp")[0].left, left)
    # 90 also makes the parallax horizontal, with the opposite sign (a calibration gain < 0 then, SPEC §2)
    convert(src, tmp_path / "r90.dp", rotate="90")
    r90 = DPReader(tmp_path / "r90.dp")
    assert r90.header.orientation == 270 and measure_shift(r90[0].left, r90[0].right) == (-4, 0)
    # no rotation: stored as is, with a warning that the parallax is vertical
    report = convert(src, tmp_path / "r0.dp", rotate=0)
    assert report.warnings and "vertical" in report.warnings[0] and "--rotate" in report.warnings[0]
    assert DPReader(tmp_path / "r0.dp").header.tags["parallax_check"]["stored"] == "vertical"
    # 180 on a landscape pair: horizontal, sign flipped, orientation 180
    land = tmp_path / "land"
    write_img(land / "a_left.png", left)
    write_img(land / "a_right.png", right)
    convert(land, tmp_path / "r180.dp", rotate=180)
    r180 = DPReader(tmp_path / "r180.dp")
    assert r180.header.orientation == 180 and measure_shift(r180[0].left, r180[0].right) == (-4, 0)
    assert measure_shift(DPReader(convert(land, tmp_path / "l.dp").dst)[0].left, right) == (4, 0)
    # a sidecar with levels only (as dpMV dp_data/ folders carry) leaves the rotation to auto
    (src / "dp_header.json").write_text(json.dumps({"black_level": 2}))
    r = DPReader(convert(src, tmp_path / "lv.dp").dst)
    assert (r.header.tags["rotate_from"], r.header.black_level, r.header.width) == ("auto", 2, W)
    # a sidecar's "rotate" (same meaning as --rotate) and "orientation" (how the source is displayed)
    (src / "dp_header.json").write_text(json.dumps({"rotate": 270, "orientation": 0}))
    r = DPReader(convert(src, tmp_path / "side.dp").dst)
    assert r.header.tags["rotate_from"] == "dp_header.json rotate" and r.header.orientation == 90
    np.testing.assert_array_equal(r[0].right, right)
    # the PNG export of a rotated file re-imports unchanged (its sidecar keeps orientation, no new rotation)
    convert(tmp_path / "auto.dp", tmp_path / "png")
    back = DPReader(convert(tmp_path / "png", tmp_path / "back.dp").dst)
    assert back.header.orientation == 90 and back.header.tags["rotate"] == 0
    np.testing.assert_array_equal(back[0].left, left)


# ---------------------------------------------------------------- dpMV

def _dpmv_root(tmp_path, starts, ext="jpg", flat=False):
    """A dpMV capture root: phone V's frame image_NNN shows instant t = NNN - starts[V], instants 0..3;
    instant t has disparity D = t + 1 (so the frame content says which instant it is)."""
    root = tmp_path / "capture"
    for v, start in starts.items():
        dp = root / "dp_data" if flat else root / "dp_data" / v
        for n in range(start + 4):
            t = n - start
            left, right = dp_pair(max(t, 0) + 1 if t >= 0 else 5, seed=10 + max(t, -1))
            write_img(dp / f"image_{n:03d}_left.{ext}", left)
            write_img(dp / f"image_{n:03d}_right.{ext}", right)
            write_img(dp / f"image_{n:03d}.{ext}", cv2.cvtColor(left, cv2.COLOR_GRAY2BGR))
            write_img(root / "rectified" / v / f"image_{n:03d}.{ext}", left)
    return root


def test_dpmv_views_and_frame_offsets(tmp_path):
    root = _dpmv_root(tmp_path, {"A": 2, "B": 0, "C": 1})
    (root / "frame_offsets.json").write_text(json.dumps({"A": 2, "C": 3}))   # B: 0 (absent)
    assert detect_layout(root) == "dpmv"
    for view, offset, expect_from in (("A", 2, "frame_offsets.json"), (None, 0, "none (0)")):
        report = convert(root, tmp_path / f"{view}.dp", view=view, fps=10)
        r = DPReader(tmp_path / f"{view}.dp")
        h = r.header
        assert report.layout == "dpmv" and len(r) == 4 and h.has_rgb and h.bit_depth == 8
        assert (h.tags["view"], h.tags["frame_offset"], h.tags["frame_offset_from"]) == (view or "B", offset,
                                                                                      expect_from)
        assert h.tags["source_frames"] == [offset, offset + 3] and h.camera == f"dpMV phone {view or 'B'}"
        assert [r[i].timestamp for i in range(4)] == pytest.approx([0.0, 0.1, 0.2, 0.3])
        # frame i of every phone shows instant i: D = i + 1, horizontal, sign kept (through JPEG)
        assert [measure_shift(r[i].left, r[i].right) for i in range(4)] == [(i + 1, 0) for i in range(4)]
        assert r[0].rgb.shape == (H, W, 3)
    # --frame-offset overrides frame_offsets.json (which says 3 for C, wrongly)
    r = DPReader(convert(root, tmp_path / "C.dp", view="c", frame_offset=1).dst)
    assert r.header.tags["frame_offset_from"] == "--frame-offset" and len(r) == 4
    assert [measure_shift(r[i].left, r[i].right)[0] for i in range(4)] == [1, 2, 3, 4]
    r = DPReader(convert(root, tmp_path / "C3.dp", view="C").dst)      # the JSON's 3: one frame later
    assert len(r) == 2 and measure_shift(r[0].left, r[0].right)[0] == 3
    # the same sequence through the frame source (dplf run) and max_frames
    assert len(open_layout(root, view="A")) == 4
    assert convert(root, tmp_path / "m.dp", view="A", max_frames=2).frames == 2


def test_dpmv_rotated_phone_and_flat_dp_data(tmp_path):
    root = _dpmv_root(tmp_path, {"B": 1}, ext="png", flat=True)
    dp = root / "dp_data"
    for p in dp.glob("*.png"):             # phone B was mounted turned: its planes are stored turned 90 deg CW
        write_img(p, np.rot90(cv2.imread(str(p), cv2.IMREAD_UNCHANGED), -1).copy())
    (dp / "dp_header.json").write_text(json.dumps({"rotate": 270, "black_level": 8, "white_level": 250}))
    r = DPReader(convert(root, tmp_path / "b.dp", frame_offset=1).dst)
    h = r.header
    assert (h.width, h.height, h.orientation, h.tags["rotate"]) == (W, H, 90, 270)
    assert (h.black_level, h.white_level) == (8, 250)
    assert [measure_shift(r[i].left, r[i].right) for i in range(4)] == [(i + 1, 0) for i in range(4)]
    left, _ = dp_pair(1, seed=10)
    np.testing.assert_array_equal(r[0].left, left)
    np.testing.assert_array_equal(r[0].rgb[..., 0], left)
    one_line_error(convert, root, tmp_path / "a.dp", view="A", match=["no A/B/C sub-folders", "--view A"])
    one_line_error(convert, root, tmp_path / "a.dp", frame_offset=99, match=["skips every frame", "--frame-offset"])
    one_line_error(convert, root, tmp_path / "a.dp", view="D", match="use A (left), B (centre) or C (right)")
    one_line_error(convert, root, tmp_path / "a.dp", frame_offset=-1, match="integer >= 0")
    (root / "frame_offsets.json").write_text(json.dumps({"B": "two"}))
    one_line_error(convert, root, tmp_path / "a.dp", match=["frame_offsets.json", "integer >= 0"])
    one_line_error(convert, tmp_path, tmp_path / "a.dp", match=["dpMV capture root", "one root at a time"])


# ---------------------------------------------------------------- DPDD / Restormer folders

@pytest.mark.parametrize("names", [("test_l/source", "test_r/source", "test_c/source"), ("inputL", "inputR", "inputC")])
def test_dp_folders(tmp_path, names):
    src = tmp_path / "dpdd"
    for i, d in enumerate((2, -3)):
        left, right = dp_pair(d, seed=i)
        col = lambda g: np.stack([g, g // 2, 255 - g], -1).astype(np.uint16) * 257  # noqa: E731  16-bit colour
        write_img(src / names[0] / f"1P0A{i:04d}.png", col(left))
        write_img(src / names[1] / f"1P0A{i:04d}.png", col(right))
        write_img(src / names[2] / f"1P0A{i:04d}.png", col(left))
    write_img(src / "test_c" / "target" / "1P0A0000.png", np.zeros((H, W), np.uint8))   # GT: ignored
    assert detect_layout(src) == "dp-folders"
    r = DPReader(convert(src, tmp_path / "d.dp").dst)
    assert len(r) == 2 and r.header.bit_depth == 16 and r.header.has_rgb and r.header.white_level == 65535
    assert [measure_shift(r[i].left, r[i].right) for i in range(2)] == [(2, 0), (-3, 0)]
    left, _ = dp_pair(2, seed=0)
    expect = np.rint(np.stack([left, left // 2, 255 - left], -1).astype(np.float64).mean(-1) * 257)
    np.testing.assert_array_equal(r[0].left, expect.astype(np.uint16))   # colour DP planes: channel mean
    assert r[0].rgb[0, 0, 2] == left[0, 0]                               # RGB order (blue = g) from _c
    # several sets: pick one with --view
    write_img(src / "train_l" / "x.png", left)
    write_img(src / "train_r" / "x.png", left)
    one_line_error(convert, src, tmp_path / "e.dp", match=["several left/right folder sets", "--view"])
    assert len(DPReader(convert(src, tmp_path / "t.dp", view="train").dst)) == 1
    (src / "train_r" / "x.png").rename(src / "train_r" / "y.png")
    one_line_error(convert, src, tmp_path / "e.dp", view="train", match=["incomplete", "x.png"])


# ---------------------------------------------------------------- GIFs

def test_dp_gifs(tmp_path):
    left, right = dp_pair(4, binary=True)
    write_gif(tmp_path / "a.gif", [left, right])
    assert detect_layout(tmp_path / "a.gif") == "dp-gif"
    r = DPReader(convert(tmp_path / "a.gif", tmp_path / "a.dp").dst)
    h = r.header
    assert (len(r), h.bit_depth, h.black_level, h.white_level, h.has_rgb, h.tags["rotate"]) == (1, 8, 0, 255, True, 0)
    dec = read_gif(tmp_path / "a.gif")   # what the palette left of the texture
    np.testing.assert_array_equal(r[0].left, np.rint(dp_gray(dec[0].astype(np.float32))).astype(np.uint8))
    np.testing.assert_array_equal(r[0].rgb, np.rint((dec[0].astype(np.float32) + dec[1]) / 2).astype(np.uint8))
    assert measure_shift(r[0].left, r[0].right) == (4, 0)      # frame 0 = left, frame 1 = right
    # a display loop (L, R, L, R) is one pair; a folder of GIFs is a sequence; a portrait GIF is turned
    write_gif(tmp_path / "seq" / "g01.gif", [left, right, left, right])
    l2, r2 = dp_pair(-2, seed=5, binary=True)
    write_gif(tmp_path / "seq" / "g02.gif", [np.rot90(l2, -1).copy(), np.rot90(r2, -1).copy()])
    write_gif(tmp_path / "seq" / "g03.gif", [np.rot90(left, -1).copy(), np.rot90(right, -1).copy()])
    assert detect_layout(tmp_path / "seq") == "dp-gif"
    r = DPReader(convert(tmp_path / "seq" / "g0[23].gif", tmp_path / "p.dp").dst)
    assert len(r) == 2 and r.header.tags["rotate"] == 270 and (r.header.width, r.header.height) == (W, H)
    assert [measure_shift(r[i].left, r[i].right) for i in range(2)] == [(-2, 0), (4, 0)]
    one_line_error(convert, tmp_path / "seq", tmp_path / "x.dp", match=["differs from the first GIF", "separately"])
    assert not (tmp_path / "x.dp").exists()          # sizes are checked from the GIF headers before writing
    write_gif(tmp_path / "three.gif", [left, right, left[::-1].copy()])
    one_line_error(convert, tmp_path / "three.gif", tmp_path / "x.dp", match=["not a repeat", "one GIF per pair"])
    write_gif(tmp_path / "one.gif", [left])
    one_line_error(convert, tmp_path / "one.gif", tmp_path / "x.dp", match=["decoded 1 frame", "frame 1"])
    (tmp_path / "bad.gif").write_bytes(b"GIF89a" + b"\0" * 20)
    one_line_error(convert, tmp_path / "bad.gif", tmp_path / "x.dp", match="unreadable, truncated or not a DP GIF")


# ---------------------------------------------------------------- side-by-side video

def test_sbs_video_converter_contract(tmp_path, monkeypatch):
    """The converter against the documented iter_sbs_video contract, with exact frames (no codec)."""
    rng = np.random.default_rng(7)
    frames = [(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
              for _ in range(3)]
    calls = []

    def fake_iter(path, max_frames=None):
        calls.append(max_frames)
        for i, (lft, rgt) in enumerate(frames[:max_frames]):
            yield i, 0.5 + i / 25.0, lft, rgt

    monkeypatch.setattr(sbs_video, "iter_sbs_video", fake_iter)   # the reader the sbs-video format calls
    (tmp_path / "v.mp4").write_bytes(b"not decoded by the fake")
    assert detect_layout(tmp_path / "v.mp4") == "sbs-video"
    report = convert(tmp_path / "v.mp4", tmp_path / "v.dp", rotate=0)
    r = DPReader(tmp_path / "v.dp")
    h = r.header
    assert report.frames == 3 and (h.width, h.height, h.bit_depth, h.has_rgb) == (W, H, 8, True)
    assert h.fps == pytest.approx(25.0) and h.tags["fps_from"] == "timestamps"
    assert [r[i].timestamp for i in range(3)] == pytest.approx([0.5, 0.54, 0.58])
    for i, (lft, rgt) in enumerate(frames):
        np.testing.assert_array_equal(r[i].left, np.rint(dp_gray(lft.astype(np.float32))).astype(np.uint8))
        np.testing.assert_array_equal(r[i].right, np.rint(dp_gray(rgt.astype(np.float32))).astype(np.uint8))
        np.testing.assert_array_equal(r[i].rgb, np.rint((lft.astype(np.float32) + rgt) / 2).astype(np.uint8))
    assert convert(tmp_path / "v.mp4", tmp_path / "w.dp", max_frames=2, fps=10).frames == 2
    w = DPReader(tmp_path / "w.dp")
    assert w.header.fps == 10 and w[1].timestamp == pytest.approx(0.1) and 2 in calls
    seq = open_layout(tmp_path / "v.mp4")       # random access for engine.io.sources
    assert len(seq) == 3
    np.testing.assert_array_equal(seq.load(2)[2], r[2].rgb)
    np.testing.assert_array_equal(seq.load(1)[0], r[1].left)
    frames[2] = (frames[2][0][:, :-2], frames[2][1][:, :-2])
    one_line_error(convert, tmp_path / "v.mp4", tmp_path / "x.dp", match=["frame 2", "changes size"])


def test_sbs_video_file(tmp_path):
    path = tmp_path / "sbs.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (2 * W, H))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG AVI")
    shifts = (2, -3, 4)
    for i, d in enumerate(shifts):
        left, right = dp_pair(d, seed=i)
        writer.write(cv2.cvtColor(np.hstack([left, right]), cv2.COLOR_GRAY2BGR))
    writer.release()
    assert detect_layout(path) == "sbs-video"
    r = DPReader(convert(path, tmp_path / "v.dp").dst)
    assert len(r) == 3 and (r.header.width, r.header.height) == (W, H)
    assert r.header.fps == pytest.approx(12.0, rel=0.01)
    assert [measure_shift(r[i].left, r[i].right) for i in range(3)] == [(d, 0) for d in shifts]


# ---------------------------------------------------------------- errors

def test_errors_are_one_line(tmp_path):
    left, right = dp_pair(2)
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(convert, empty, tmp_path / "x.dp", match=["known layouts"] + list(LAYOUTS))
    one_line_error(convert, empty, tmp_path / "x.dp", layout="dp-video", match="unknown layout 'dp-video'")
    one_line_error(convert, tmp_path / "nothing", tmp_path / "x.dp", match="no such file")
    (tmp_path / "notes.txt").write_text("hi")
    one_line_error(convert, tmp_path / "notes.txt", tmp_path / "x.dp", match=["not a .dp file", "glob"])
    mixed = tmp_path / "mixed"
    for name in ("a_left.png", "a_right.png", "b_L.png", "b_R.png"):
        write_img(mixed / name, left)
    one_line_error(convert, mixed, tmp_path / "x.dp", match=["mixes", "one naming style"])
    dup = tmp_path / "dup"
    for name in ("a_left.png", "a_left.jpg", "a_right.png"):
        write_img(dup / name, left)
    one_line_error(convert, dup, tmp_path / "x.dp", match=["two left images", "keep one"])
    miss = tmp_path / "miss"
    write_img(miss / "a_left.png", left)
    write_img(miss / "a_right.png", right)
    write_img(miss / "b_right.png", right)
    one_line_error(convert, miss, tmp_path / "x.dp", match=["b_right.png", "incomplete", "no left image"])
    sizes = tmp_path / "sizes"
    write_img(sizes / "a_left.png", left)
    write_img(sizes / "a_right.png", right)
    write_img(sizes / "b_left.png", left[:, :-2].copy())
    write_img(sizes / "b_right.png", right[:, :-2].copy())
    one_line_error(convert, sizes, tmp_path / "s.dp", match=["b_left.png", "differs from the first frame"])
    assert not (tmp_path / "s.dp").exists()         # PNG headers are checked before anything is written
    lr = tmp_path / "lr"
    write_img(lr / "a_left.jpg", left)
    write_img(lr / "a_right.jpg", right[:-2].copy())
    one_line_error(convert, lr, tmp_path / "x.dp", match=["does not match its left image", "same size"])
    bad = tmp_path / "bad"
    for i in range(3):
        write_img(bad / f"f{i}_left.png", left)
        write_img(bad / f"f{i}_right.png", right)
    (bad / "f2_right.png").write_bytes((bad / "f2_right.png").read_bytes()[:100])   # truncated
    msg = one_line_error(convert, bad, tmp_path / "b.dp", match=["f2_right.png", "cannot read this image",
                                                                 "2 frame(s) before it"])
    assert "replace the file" in msg
    assert len(DPReader(tmp_path / "b.dp")) == 2      # the frames before the bad one are kept, file closed
    one_line_error(convert, sizes, tmp_path / "x.dp", view="B", match="--view applies to dpmv")
    one_line_error(convert, sizes, tmp_path / "x.dp", frame_offset=2, match="--frame-offset applies to dpMV")
    one_line_error(convert, sizes, tmp_path / "x.dp", rotate=45, match="0, 90, 180, 270")
    eight = tmp_path / "eight"
    write_img(eight / "001_left.png", left)
    write_img(eight / "001_right.png", right)
    one_line_error(convert, eight, tmp_path / "x.dp", layout="pixel4", match=["expects 16-bit", "--layout dp-pairs"])
    # the command line: exit code 2 and the same single line
    app = typer.Typer()
    app.command()(convert_command)
    res = CliRunner().invoke(app, [str(mixed), str(tmp_path / "x.dp")])
    assert res.exit_code == 2 and res.stderr.startswith("dplf convert: error:") and res.stderr.count("\n") == 1
    res = CliRunner().invoke(app, [str(miss / "a_*.png"), str(tmp_path / "g.dp"), "--rotate", "90"])
    assert res.exit_code == 0, res.output
    assert DPReader(tmp_path / "g.dp").header.orientation == 270


# ---------------------------------------------------------------- real data (../shared/data)

@pytest.mark.data
@pytest.mark.parametrize("scene", ["001", "005"])   # never 015: holdout
def test_pixel4_real(tmp_path, data_dir, scene):
    src = tmp_path / "pix"
    src.mkdir()
    for side in ("left", "right"):
        f = data_dir / "pixel4_dp" / f"{scene}_{side}.png"
        if not f.exists():
            pytest.skip(f"{f} not found")
        (src / f.name).symlink_to(f)
    r = DPReader(convert(src, tmp_path / "p.dp").dst)
    h = r.header
    assert (h.width, h.height, h.bit_depth, h.black_level, h.white_level) == (2016, 1512, 16, 1024, 16383)
    assert (h.orientation, h.tags["rotate"], h.tags["parallax_check"]["stored"]) == (0, 0, "horizontal")
    raw = cv2.imread(str(src / f"{scene}_right.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(r[0].right, raw)


@pytest.mark.data
def test_dp_gifs_real(tmp_path, data_dir):
    folder = data_dir / "canon_dp_gif"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    # canon_00 is a display loop of six frames (L, R, L, R, L, R): one pair
    r = DPReader(convert(str(folder / "canon_0*.gif"), tmp_path / "canon.dp").dst)
    h = r.header
    assert len(r) == 4 and (h.width, h.height, h.orientation, h.tags["rotate"]) == (840, 560, 0, 0)
    assert h.tags["parallax_check"]["stored"] == "horizontal" and h.has_rgb
    dec = read_gif(folder / "canon_01.gif")
    np.testing.assert_array_equal(r[1].right, np.rint(dp_gray(dec[1].astype(np.float32))).astype(np.uint8))
    # the Pixel GIFs show the parallax vertically (portrait display): stored turned back, orientation 90
    r = DPReader(convert(folder / "pixel_00.gif", tmp_path / "pixel.dp").dst)
    h = r.header
    assert (h.tags["rotate"], h.orientation, h.tags["parallax_check"]["stored"]) == (270, 90, "horizontal")
    dec = read_gif(folder / "pixel_00.gif")
    expect = np.rint(dp_gray(dec[0].astype(np.float32))).astype(np.uint8)
    np.testing.assert_array_equal(np.rot90(r[0].left, -h.orientation // 90), expect)
    one_line_error(convert, folder, tmp_path / "all.dp", match="differs from the first GIF")

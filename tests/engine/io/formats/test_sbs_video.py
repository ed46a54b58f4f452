"""Layout sbs-video: side-by-side videos through iter_sbs_video."""
import cv2
import numpy as np
import pytest

from engine.conventions import dp_gray
from engine.io import sbs_video
from engine.io.convert import convert, detect_layout, open_layout
from engine.io.dpfile import DPReader
from engine.io.formats import files as sbs_video_format
from tests.engine.io.dp_samples import H, W, dp_pair, measure_shift, one_line_error


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


@pytest.mark.parametrize("ext", ["ts", "flv"])
def test_convert_and_run_read_the_same_video_extensions(tmp_path, ext):
    """One VIDEO_EXTS for `dplf convert` and `dplf run`: a .ts / .flv side-by-side video converts (it used to
    be refused by convert while run accepted it). The file is an MJPG AVI under that name: FFmpeg probes the
    content, so the test does not depend on which encoders this OpenCV has."""
    from engine.io.sources import open_source

    avi = tmp_path / "sbs.avi"
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (2 * W, H))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG AVI")
    for i, d in enumerate((2, -3)):
        left, right = dp_pair(d, seed=i)
        writer.write(cv2.cvtColor(np.hstack([left, right]), cv2.COLOR_GRAY2BGR))
    writer.release()
    path = tmp_path / f"clip.{ext}"
    path.write_bytes(avi.read_bytes())
    assert sbs_video_format.is_video_path(path) and detect_layout(path) == "sbs-video"
    r = DPReader(convert(path, tmp_path / "v.dp", rotate=0).dst)
    assert len(r) == 2 and (r.header.width, r.header.height) == (W, H)
    assert [measure_shift(r[i].left, r[i].right) for i in range(2)] == [(2, 0), (-3, 0)]
    src = open_source(path)
    assert src.layout == "sbs-video" and len(src) == 2

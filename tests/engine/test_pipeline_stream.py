"""Pipeline.stream over videos, cameras and iterables: drop policies, callbacks, statistics, failures (issue 5)."""
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import Pipeline
from engine.io.sources import Frame, open_source
from engine.io.video import (CameraSource, FrameGrabber, VideoSource, VideoSourceError, iter_sbs_video,
                             parse_camera)

from tests.paths import ROOT
DEMO = ROOT / "samples" / "demo.dp"
H, W = 48, 64   # one DP view; the SBS frame is H x 2W


@pytest.fixture(scope="module")
def pipe():
    return Pipeline(backend="ort-cpu", views=0)


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth multi-scale colour texture, float32 [h, w, 3] in [0, 1]."""
    rng = np.random.default_rng(seed)
    big = cv2.resize(rng.random((h // 4, w // 4, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.0)
    return np.clip(0.6 * big + 0.6 * (fine - 0.5) + 0.2, 0, 1)


def _write_sbs(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """RGB uint8 [H, 2W, 3] frames -> an MJPG .avi (checked to be readable back: see test_sbs_video_reads_back)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), "OpenCV here cannot write MJPG .avi"
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _shifted_pair(shift: int, seed: int = 0) -> np.ndarray:
    """An SBS frame whose right half is the left shifted so that right(x) = left(x + shift): D = +shift."""
    img = _texture(H, W + 16, seed)
    left, right = img[:, 8:8 + W], img[:, 8 + shift:8 + shift + W]
    return np.round(np.concatenate([left, right], axis=1) * 255).astype(np.uint8)


def test_sbs_video_reads_back(tmp_path):
    red, blue = np.zeros((H, W, 3), np.uint8), np.zeros((H, W, 3), np.uint8)
    red[..., 0], blue[..., 2] = 200, 200
    path = _write_sbs(tmp_path / "rb.avi", [np.concatenate([red, blue], 1)] * 4, fps=8.0)
    got = list(iter_sbs_video(path))
    assert [g[0] for g in got] == [0, 1, 2, 3]
    assert [g[1] for g in got] == pytest.approx([0, 0.125, 0.25, 0.375])
    _, _, left, right = got[0]
    assert left.shape == right.shape == (H, W, 3) and left.dtype == np.uint8
    assert left[..., 0].mean() > 150 > left[..., 2].mean() and right[..., 2].mean() > 150 > right[..., 0].mean()
    assert len(list(iter_sbs_video(path, max_frames=2))) == 2
    with pytest.raises(ValueError, match="does not exist"):
        next(iter_sbs_video(tmp_path / "missing.avi"))
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 10)
    with pytest.raises(ValueError, match="junk.mp4") as err:
        next(iter_sbs_video(tmp_path / "junk.mp4"))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("shift", [-3, 3])
def test_sbs_video_streams_with_disparity_of_the_right_sign(tmp_path, pipe, shift):
    path = _write_sbs(tmp_path / "shift.avi", [_shifted_pair(shift, seed=i) for i in range(5)])
    src = open_source(path)
    assert isinstance(src, VideoSource) and len(src) == 5 and (src.height, src.width) == (H, W)
    outs = [o.copy() for o in pipe.stream(path)]
    assert [o.index for o in outs] == [0, 1, 2, 3, 4]
    for o in outs:
        assert o.disparity.shape == (H, W)
        d = np.median(o.disparity[8:-8, 8:-8])
        assert np.sign(d) == np.sign(shift) and abs(d - shift) < 1.0, (shift, d)
    assert pipe.stats()["frames"] == 5 and not pipe.stats()["running"]
    # start/frames/max_size reach the video source
    small = list(pipe.stream(path, start=1, frames=2, max_size=32, copy=True))
    assert [o.index for o in small] == [1, 2] and small[0].disparity.shape == (24, 32)


def _fast_producer(n: int, done: threading.Event):
    for i in range(n):
        yield i
    done.set()


def test_grabber_latest_drops_and_queue_keeps_everything():
    done = threading.Event()
    with FrameGrabber(_fast_producer(200, done), "latest") as g:
        assert done.wait(5)            # the producer ran ahead of a consumer that took nothing
        got = []
        while (e := g.get(timeout=5)) is not None:
            got.append(e.item)
    assert got == [199] and g.dropped == 199 and g.produced == 200

    done = threading.Event()
    g = FrameGrabber(_fast_producer(200, done), "queue", maxsize=3)
    got = []
    for item in g:                     # a slow consumer: the producer waits instead of dropping
        if len(got) < 5:
            time.sleep(0.01)
        got.append(item)
    assert got == list(range(200)) and g.dropped == 0 and done.is_set()

    done = threading.Event()
    with FrameGrabber(_fast_producer(50, done), "drop-new", maxsize=2) as g:
        assert done.wait(5)
        got = [e.item for e in iter(lambda: g.get(timeout=5), None)]
    assert got == [0, 1] and g.dropped == 48


def test_grabber_reraises_source_errors_after_buffered_items():
    def broken():
        yield 1
        raise ValueError("frame 1 is broken")

    g = FrameGrabber(broken(), "queue").start()
    assert g.get(timeout=5).item == 1
    with pytest.raises(ValueError, match="frame 1 is broken"):
        g.get(timeout=5)
    g.close()
    with pytest.raises(ValueError, match="drop policy"):
        FrameGrabber([], "newest")


class _FakeCamera:
    """A live source that produces n small frames as fast as it can and then says it is done."""

    live = True
    name = "fake-camera"

    def __init__(self, n: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.frames = [Frame(i, i / 30, rng.random((32, 40), dtype=np.float32),
                             rng.random((32, 40), dtype=np.float32)) for i in range(n)]
        self.done = threading.Event()

    def __iter__(self):
        yield from self.frames
        self.done.set()


def test_live_stream_drops_to_the_latest_frame_and_callbacks_fire(pipe):
    cam = _FakeCamera(20)
    seen, drops, skips = [], [], []
    got = []
    for out in pipe.stream(cam, on_frame=lambda o: seen.append(o.index), on_drop=drops.append,
                           on_skip=lambda i, e: skips.append(i)):
        if not got:
            assert cam.done.wait(5)    # hold the first frame until the camera has produced everything
        got.append(out.index)
    st = pipe.stats()
    assert st["policy"] == "latest" and st["live"]
    assert got == seen and got[-1] == 19 and len(got) <= 2
    assert st["dropped"] == sum(drops) == 20 - len(got) and st["frames"] == len(got) and not skips

    cam = _FakeCamera(20)
    got = [o.index for o in pipe.stream(cam, drop="queue", on_drop=drops.append)]
    assert got == list(range(20)) and pipe.stats()["dropped"] == 0 and pipe.stats()["policy"] == "queue"


def test_on_skip_fires_for_bad_frames_and_stop_raises(pipe):
    good = np.full((32, 40), 0.5, np.float32)
    bad = np.full((32, 40), np.nan, np.float32)
    items = [(good, good), (bad, good), (good, good)]
    skipped = []
    outs = [o.index for o in pipe.stream(items, on_error="skip", on_skip=lambda i, e: skipped.append((i, str(e))))]
    assert outs == [0, 2] and skipped[0][0] == 1 and "NaN" in skipped[0][1]
    assert pipe.stats()["skipped"] == 1
    with pytest.raises(ValueError, match="NaN"):
        list(pipe.stream(items))


def test_stats_percentiles_match_the_per_frame_timings(pipe):
    totals, renders = [], []
    for out in pipe.stream(DEMO, frames=8, max_size=48):
        totals.append(out.timings["total"])
        renders.append(pipe.stats()["frames"])          # available during the stream
        assert pipe.stats()["running"]
    st = pipe.stats()
    assert renders == list(range(1, 9)) and st["frames"] == 8 and not st["running"] and st["fps"] > 0
    lat = st["latency_ms"]
    assert lat["total"]["n"] == 8
    for q in (50, 95, 99):
        assert lat["total"][f"p{q}"] == pytest.approx(np.percentile(totals, q), abs=1e-3)
    assert lat["total"]["mean"] == pytest.approx(np.mean(totals), abs=1e-3)
    assert lat["total"]["max"] == pytest.approx(max(totals), abs=1e-3)
    assert set(lat) >= {"preprocess", "disparity", "total", "read", "wait", "queue", "latency"}
    assert lat["latency"]["p50"] >= lat["total"]["p50"]      # latency = queue + pipeline (+ callbacks)
    # a window shorter than the stream: percentiles over the last frames only
    totals = [o.timings["total"] for o in pipe.stream(DEMO, frames=6, max_size=48, stats_window=4)]
    lat = pipe.stats()["latency_ms"]["total"]
    assert lat["n"] == 4 and lat["p50"] == pytest.approx(np.percentile(totals[-4:], 50), abs=1e-3)


def test_dp_stream_still_works_and_damaged_frames_reach_on_skip(pipe, tmp_path):
    outs = [o.index for o in pipe.stream(DEMO, frames=4, max_size=48)]
    assert outs == [0, 1, 2, 3] and pipe.stats()["policy"] == "queue" and pipe.stats()["dropped"] == 0
    data = DEMO.read_bytes()
    cut = tmp_path / "cut.dp"
    cut.write_bytes(data[:len(data) - 2000])
    n = len(open_source(cut))
    skipped = []
    outs = list(pipe.stream(cut, start=n - 2, max_size=48, on_error="skip",
                            on_skip=lambda i, e: skipped.append(i)))
    assert len(outs) == 2 and skipped == [n] and pipe.stats()["skipped"] == 1


def test_camera_source_over_files_sbs_and_dp_pair(tmp_path, pipe):
    path = _write_sbs(tmp_path / "cam.avi", [_shifted_pair(2, seed=i) for i in range(3)])
    with CameraSource(path) as cam:         # a file: not live, ends at its end
        assert not cam.live and cam.fps == 10
        frames = list(cam)
    assert len(frames) == 3 and frames[0].left.shape == (H, W) and frames[0].rgb.shape == (H, W, 3)
    halves = [_write_sbs(tmp_path / f"{s}.avi", [_shifted_pair(2)[:, sl]] * 3)
              for s, sl in (("l", slice(0, W)), ("r", slice(W, 2 * W)))]
    with CameraSource(halves, layout="dp-pair", live=True, frames=3) as cam:
        outs = [o.copy() for o in pipe.stream(cam, drop="queue")]
    assert len(outs) == 3 and np.median(outs[0].disparity[8:-8, 8:-8]) > 1.0
    with CameraSource(path, live=True) as cam:      # a live source that stops delivering is an error
        with pytest.raises(VideoSourceError, match="stopped delivering frames after 3"):
            list(pipe.stream(cam, drop="queue"))
    with pytest.raises(ValueError, match="dp-pair"):
        CameraSource(path, layout="dp-pair")


@pytest.mark.parametrize("spec, where", [(99, "/dev/video99"), ("camera:99", "/dev/video99")])
def test_missing_camera_fails_fast_with_one_clear_line(pipe, spec, where):
    assert parse_camera(spec) == 99
    t = time.perf_counter()
    with pytest.raises(VideoSourceError) as err:
        pipe.stream(spec)
    msg = str(err.value)
    assert time.perf_counter() - t < 5
    assert "camera 99" in msg and where in msg and "check" in msg and "\n" not in msg


def test_unreachable_or_silent_stream_fails_within_its_timeout():
    with pytest.raises(VideoSourceError, match=r"stream rtsp://\*\*\*@127\.0\.0\.1:1/x") as err:
        CameraSource("rtsp://user:secret@127.0.0.1:1/x", timeout_s=1)   # refused; credentials hidden
    assert "secret" not in str(err.value) and "\n" not in str(err.value)
    with socket.socket() as srv:        # accepts the connection, never answers
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        t = time.perf_counter()
        with pytest.raises(VideoSourceError, match="no answer within 1 s"):
            open_source(f"rtsp://127.0.0.1:{srv.getsockname()[1]}/live", timeout_s=1)
        assert time.perf_counter() - t < 6


def test_breaking_out_stops_the_reader_and_bad_options_are_refused(pipe):
    cam = _FakeCamera(1000)
    for _ in pipe.stream(cam, drop="queue"):
        break
    time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("dplf-reader") and t.is_alive()]
    with pytest.raises(ValueError, match="drop must be"):
        pipe.stream(cam, drop="oldest")
    with pytest.raises(TypeError, match="max_size"):
        pipe.stream(cam, max_size=10)

"""OutputWriter with writer threads (engine/io/write_pool.py): the same files as the sequential writer, bounded
frames in flight, writes finished on close, a failed write stops cleanly; png levels and jpg."""
import errno
import json
import os
import threading
import time

import cv2
import numpy as np
import pytest

from engine.io.outputs import OutputWriter, encode_image
from engine.io.run_folder import RunFolder
from engine.io.write_pool import WritePool

V, U, H, W = 2, 3, 24, 40


def views_for(frame: int) -> np.ndarray:
    """uint8 [V, U, H, W, 3]: smooth texture plus noise, different in every frame and view."""
    rng = np.random.default_rng(frame)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    base = 120 + 80 * np.sin(x / 5 + frame)[..., None] * np.cos(y / 7)[..., None]
    out = base[None, None] + rng.normal(0, 3, (V, U, H, W, 3))
    return np.clip(out, 0, 255).astype(np.uint8)


def manifest_for() -> dict:
    return {"views": [V, U], "height": H, "width": W, "positions": [[0.0, 0.0]] * (V * U)}


def write_frames(out, frames=range(5), reuse=True, **kw) -> OutputWriter:
    """Writes like the pipeline delivers: one reused buffer, overwritten as soon as write() returns."""
    wr = OutputWriter(out, kw.pop("fmt", "png"), manifest_for(), preview=True, **kw)
    views, disp = np.empty((V, U, H, W, 3), np.uint8), np.empty((H, W), np.float32)
    for f in frames:
        views[...] = views_for(f)
        disp[...] = f * 0.25
        wr.write(f, disp if reuse else disp.copy(), views if reuse else views.copy())
    views[...] = 0
    disp[...] = np.nan
    wr.close()
    return wr


def files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


@pytest.mark.parametrize("fmt", ["png", "jpg", "npy"])
def test_threads_write_the_same_bytes_as_the_sequential_writer(tmp_path, fmt):
    write_frames(tmp_path / "seq", fmt=fmt, workers=0)
    write_frames(tmp_path / "pool", fmt=fmt, workers=3, max_frames=2)
    seq, pool = files(tmp_path / "seq"), files(tmp_path / "pool")
    assert sorted(seq) == sorted(pool) and len(seq) >= 15
    assert all(seq[name] == pool[name] for name in seq), [name for name in seq if seq[name] != pool[name]]
    man = json.loads((tmp_path / "pool" / "manifest.json").read_text())
    assert man["frames"] == 5 and man["frame_indices"] == [0, 1, 2, 3, 4] and man["status"] == "complete"
    if fmt != "jpg":   # lossless: exactly the views given, although the caller's buffer was overwritten
        assert np.array_equal(RunFolder(tmp_path / "pool").views(3), views_for(3))


@pytest.mark.parametrize("fmt", ["mp4", "mosaic"])
def test_videos_get_their_frames_in_order(tmp_path, fmt):
    write_frames(tmp_path / "seq", fmt=fmt, workers=0)
    write_frames(tmp_path / "pool", fmt=fmt, workers=3, max_frames=2)
    for f in range(5):
        assert np.array_equal(RunFolder(tmp_path / "seq").views(f), RunFolder(tmp_path / "pool").views(f)), f


def test_png_levels_decode_to_the_same_pixels(tmp_path):
    image = views_for(1)[0, 0]
    sizes = {}
    for level in (0, 1, 3, 6, 9):
        data = encode_image(tmp_path / "x.png", image, png_level=level)
        assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), image), level
        sizes[level] = len(data)
    assert sizes[0] > max(sizes[1], sizes[3], sizes[6])


def test_jpg_is_decodable_and_close_to_png(tmp_path):
    write_frames(tmp_path / "png", frames=[0, 1], fmt="png", workers=2)
    wr = write_frames(tmp_path / "jpg", frames=[0, 1], fmt="jpg", workers=2)
    assert wr.manifest["view_format"] == "jpg" and wr.manifest["jpg_quality"] == 90
    assert sorted(p.name for p in (tmp_path / "jpg" / "views" / "000001").iterdir())[0] == "v00_u00.jpg"
    png, jpg = RunFolder(tmp_path / "png").views(1), RunFolder(tmp_path / "jpg").views(1)
    mse = np.mean((png.astype(np.float64) - jpg) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 35
    low = write_frames(tmp_path / "q30", frames=[1], fmt="jpg", jpg_quality=30)
    assert low.manifest["jpg_quality"] == 30
    assert (tmp_path / "q30" / "views" / "000001" / "v00_u00.jpg").stat().st_size < \
        (tmp_path / "jpg" / "views" / "000001" / "v00_u00.jpg").stat().st_size


@pytest.mark.parametrize("kw, needle", [({"png_level": 10}, "--png-level"), ({"jpg_quality": 0}, "--jpg-quality"),
                                        ({"workers": -1}, "writer threads")])
def test_bad_settings_are_one_line_and_write_nothing(tmp_path, kw, needle):
    with pytest.raises(ValueError, match=needle) as e:
        OutputWriter(tmp_path / "out", "png", manifest_for(), **kw)
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


class SlowEncoder:
    """encode(path, image) that takes `delay` s per image and records how many frames are being encoded at once."""

    def __init__(self, delay=0.01, fail_on=None):
        self.delay, self.fail_on = delay, fail_on
        self.lock, self.active, self.most = threading.Lock(), {}, 0

    def __call__(self, path, image):
        frame = path.parent.name if path.parent.name.isdigit() else path.stem
        with self.lock:
            self.active[frame] = self.active.get(frame, 0) + 1
            self.most = max(self.most, len(self.active))
        try:
            time.sleep(self.delay)
            if self.fail_on is not None and frame == f"{self.fail_on:06d}":
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return encode_image(path, image)
        finally:
            with self.lock:
                self.active[frame] -= 1
                if not self.active[frame]:
                    del self.active[frame]


def test_back_pressure_bounds_the_frames_in_flight(tmp_path):
    slow = SlowEncoder(delay=0.005)
    wr = OutputWriter(tmp_path, "png", manifest_for(), workers=3, max_frames=2, encode=slow)
    views = views_for(0)
    for f in range(8):
        wr.write(f, np.zeros((H, W), np.float32), views)
        assert f + 1 - wr.manifest["frames"] <= 2          # written - counted = in flight
        assert wr.pool.in_flight <= 2
    assert wr.pool.peak == 2 and slow.most <= 2             # the queue filled up, and never went past the bound
    wr.close()
    assert wr.manifest["frames"] == 8 and wr.write_seconds > 0
    assert len(list((tmp_path / "views").rglob("*.png"))) == 8 * V * U


def test_close_waits_for_the_writes_in_flight(tmp_path):
    """What dplf-run does on Ctrl-C: close(status="interrupted") still finishes and counts every queued frame."""
    wr = OutputWriter(tmp_path, "png", manifest_for(), workers=2, max_frames=4, encode=SlowEncoder(delay=0.01))
    for f in range(4):
        wr.write(f, np.zeros((H, W), np.float32), views_for(f))
    assert wr.manifest["frames"] < 4
    wr.close(status="interrupted")
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["status"] == "interrupted" and man["frames"] == 4
    assert np.array_equal(RunFolder(tmp_path).views(3), views_for(3))
    assert not list(tmp_path.rglob(".*.tmp*"))


@pytest.mark.parametrize("workers", [0, 3])
def test_a_failed_write_stops_and_keeps_the_earlier_frames(tmp_path, workers):
    wr = OutputWriter(tmp_path, "png", manifest_for(), workers=workers, max_frames=3,
                      encode=SlowEncoder(delay=0.002, fail_on=2))
    with pytest.raises(OSError, match="Input/output error"):
        for f in range(10):
            wr.write(f, np.zeros((H, W), np.float32), views_for(f))
    assert wr.failed_frame == 2 and wr.manifest["frames"] == 2
    with pytest.raises(RuntimeError, match="stopped after frame 2"):
        wr.write(10, np.zeros((H, W), np.float32), views_for(10))
    wr.close(status="failed")
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["status"] == "failed" and man["frame_indices"] == [0, 1]
    # exactly the frames counted are on disk: the failed frame and those queued after it are removed
    assert sorted(p.name for p in (tmp_path / "views").iterdir()) == ["000000", "000001"]
    assert sorted(p.name for p in (tmp_path / "disparity").iterdir()) == ["000000.pfm", "000001.pfm"]
    assert np.array_equal(RunFolder(tmp_path).views(1), views_for(1))


def test_pool_commits_in_order_and_counts_busy_time():
    pool, done = WritePool(workers=3, max_frames=3), []
    for k in range(6):
        pool.submit(k, [lambda k=k: time.sleep(0.002 * (6 - k))], commit=lambda k=k: done.append(k))
    pool.close()
    assert done == list(range(6)) and pool.busy_s > 0

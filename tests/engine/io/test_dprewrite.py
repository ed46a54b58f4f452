"""Rewriting a .dp header (engine/io/dprewrite.py): every frame kept bit for bit, atomic, refusals leave the
file as it was."""
import os

import numpy as np
import pytest

from engine.io import dpwriter
from engine.io.dpfile import DPReader, DPWriter
from engine.io.dprewrite import rewrite_header

H, W = 24, 40


def write_dp(path, n=3, bit_depth=16, rgb=True, close=True):
    rng = np.random.default_rng(5)
    top = (1 << bit_depth) - 1
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    w = DPWriter(path, width=W, height=H, fps=24.0, bit_depth=bit_depth, black_level=2, camera="cam",
                 orientation=90, calibration={"focal_length_px": 900.0, "pixel_pitch_um": 1.4},
                 tags={"source": "x"}, has_rgb=rgb)
    for i in range(n):
        left = rng.integers(0, top + 1, (H, W)).astype(dtype)
        right = np.roll(left, 2, axis=1)
        w.write(left, right, rng.integers(0, 256, (H, W, 3)).astype(np.uint8) if rgb else None,
                timestamp=0.037 * i + 1.0)
    if close:
        w.close()
    return path


def frames(path):
    with DPReader(path) as r:
        return r.header, [(f.left, f.right, f.rgb, f.timestamp) for f in r], r.recovered


@pytest.mark.parametrize("bit_depth, rgb", [(16, False), (8, True)])
def test_rewrite_changes_the_header_and_keeps_every_frame(tmp_path, bit_depth, rgb):
    path = write_dp(tmp_path / "a.dp", bit_depth=bit_depth, rgb=rgb)
    os.chmod(path, 0o640)
    h0, f0, _ = frames(path)
    cal = {**h0.calibration, "disparity_gain": -0.5, "disparity_offset": 0.25, "baseline_mm": 1.1}
    assert rewrite_header(path, calibration=cal) == 3
    h1, f1, recovered = frames(path)
    assert h1.calibration == cal and h1.tags == {"source": "x"} and not recovered
    for k in ("width", "height", "fps", "bit_depth", "black_level", "white_level", "orientation", "camera", "has_rgb"):
        assert getattr(h1, k) == getattr(h0, k), k
    for a, b in zip(f0, f1):
        assert a[3] == b[3] and all(np.array_equal(x, y) for x, y in zip(a[:3], b[:3]) if x is not None)
    assert rewrite_header(path, tags={"note": 1}) == 3 and frames(path)[0].tags == {"note": 1}
    assert frames(path)[0].calibration == cal
    assert os.stat(path).st_mode & 0o777 == 0o640 and os.listdir(tmp_path) == ["a.dp"]


def test_a_file_whose_writer_was_interrupted_gets_its_index_back(tmp_path):
    path = write_dp(tmp_path / "a.dp", close=False)
    assert frames(path)[2]   # recovered by scanning: no index
    _, before, _ = frames(path)
    assert rewrite_header(path, calibration={"focal_length_px": 1.0}) == 3
    _, after, recovered = frames(path)
    assert not recovered and all(np.array_equal(a[0], b[0]) for a, b in zip(before, after))


def test_refusals_and_failures_leave_the_file_as_it_was(tmp_path, monkeypatch):
    path = write_dp(tmp_path / "a.dp")
    original = path.read_bytes()
    with pytest.raises(ValueError, match="unknown calibration keys"):
        rewrite_header(path, calibration={"gain": 1.0})
    with pytest.raises(ValueError, match="must be a finite number"):
        rewrite_header(path, calibration={"disparity_gain": float("nan")})
    real_write = dpwriter.DPWriter.write

    def full_disk(self, *args, **kwargs):
        if len(self) == 2:
            raise OSError(28, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(dpwriter.DPWriter, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        rewrite_header(path, calibration={"disparity_gain": 2.0})
    monkeypatch.undo()
    assert path.read_bytes() == original and os.listdir(tmp_path) == ["a.dp"]
    # a damaged frame: refused before anything is written
    damaged = tmp_path / "b.dp"
    damaged.write_bytes(original[:len(original) // 2])
    cut = damaged.read_bytes()
    with pytest.raises(ValueError, match="damaged frame") as exc:
        rewrite_header(damaged, calibration={"disparity_gain": 2.0})
    assert "\n" not in str(exc.value) and damaged.read_bytes() == cut
    assert sorted(os.listdir(tmp_path)) == ["a.dp", "b.dp"]

"""open_source: .dp files, pair folders and their errors through the input-format registry."""

import cv2
import numpy as np
import pytest

from engine.io.dpfile import DPWriter
from engine.io.sources import open_source
from tests.engine.io.dp_samples import write_img


def test_open_source_dp(tmp_path):
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 4096, (30, 50), dtype=np.uint16) for _ in range(5)]
    with DPWriter(tmp_path / "v.dp", width=50, height=30, fps=20, black_level=96, white_level=4095,
                  calibration={"disparity_gain": -2.0}, tags={"k": 1}) as w:
        for f in frames:
            w.write(f, f[:, ::-1].copy())
    src = open_source(tmp_path / "v.dp", start=1, frames=3)
    assert len(src) == 3 and src.fps == 20 and src.calibration == {"disparity_gain": -2.0}
    assert src.tags == {"k": 1} and src.name == "v" and src.layout == "dp"
    got = list(src)
    assert [f.index for f in got] == [1, 2, 3] and got[0].timestamp == pytest.approx(1 / 20)
    assert got[0].rgb is None and got[0].left.dtype == np.float32
    np.testing.assert_allclose(got[0].left, np.clip((frames[1] - 96.0) / (4095 - 96), 0, 1), atol=1e-6)
    small = open_source(tmp_path / "v.dp", max_size=25)
    assert (small.height, small.width) == (15, 25) and small[0].left.shape == (15, 25)
    expect = cv2.resize(got[0].left, (25, 15), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(small[1].left, expect, atol=1e-6)
    # a damaged last frame: earlier frames come out, then the error (or a warning with skip_bad)
    data = (tmp_path / "v.dp").read_bytes()
    (tmp_path / "cut.dp").write_bytes(data[:len(data) - 600])
    seen = []
    with pytest.raises(ValueError, match="frame 4"):
        for f in open_source(tmp_path / "cut.dp"):
            seen.append(f.index)
    assert seen == [0, 1, 2, 3]
    with pytest.warns(UserWarning, match="frame 4"):
        assert len(list(open_source(tmp_path / "cut.dp", skip_bad=True))) == 4


def test_open_source_pairs_and_errors(tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for i in range(3):
        write_img(pairs / f"{i:03d}_left.png", np.full((6, 8), 1024 + 100 * i, np.uint16))
        write_img(pairs / f"{i:03d}_right.png", np.full((6, 8), 1024, np.uint16))
    src = open_source(pairs, start=2)
    assert src.layout == "pixel4" and len(src) == 1
    f = src[0]
    assert f.index == 2 and f.left[0, 0] == pytest.approx(200 / (16383 - 1024)) and f.right.max() == 0
    assert len(open_source(str(pairs / "*_left.png"))) == 3  # a glob selects whole pairs
    with pytest.raises(ValueError, match="does not exist"):
        open_source(tmp_path / "missing.dp")
    (tmp_path / "garbage.dp").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="not a .dp file"):
        open_source(tmp_path / "garbage.dp")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="known layouts"):
        open_source(tmp_path / "empty")
    with pytest.raises(ValueError, match="past the end"):
        open_source(pairs, start=3)

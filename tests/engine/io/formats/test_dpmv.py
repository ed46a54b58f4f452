"""Layout dpmv: phones (view), frame offsets, rotation, flat dp_data/."""
import json

import cv2
import numpy as np
import pytest

from engine.io.convert import convert, detect_layout, open_layout
from engine.io.dpfile import DPReader
from tests.engine.io.dp_samples import H, W, dp_pair, measure_shift, one_line_error, write_img


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

"""The input-format registry: names, detection order as data, unknown layouts, option refusals."""
import numpy as np
import pytest

from engine.io import formats
from engine.io.convert import LAYOUTS
from engine.io.dpfile import DPWriter
from engine.io.formats import registry
from engine.io.formats.files import VIDEO_EXTS, is_video_path
from tests.engine.io.dp_samples import write_img

EXPECTED = ("hci", "lytro", "pixel4", "dp-pairs", "dp-folders", "dpmv", "dp-gif", "sbs-video", "dp")


def test_names_and_detection_orders_cover_the_registry():
    assert formats.names() == LAYOUTS == EXPECTED
    assert set(registry.FILE_DETECTION) | set(registry.FOLDER_DETECTION) == set(EXPECTED)
    for name in EXPECTED:
        fmt = formats.get(name)
        assert fmt.name == name and callable(fmt.detect)
    assert formats.get("dp").open is None and formats.get("dp").frame_source is not None
    with pytest.raises(ValueError, match=r"^x: unknown layout 'nope'; known layouts: hci, lytro, pixel4"):
        formats.get("nope", "x")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(formats.get("hci"))


def test_one_video_extension_list():
    assert {"ts", "flv", "mp4", "avi", "mov", "mkv", "m4v", "webm", "mpg", "mpeg", "wmv"} == set(VIDEO_EXTS)
    assert is_video_path("a/b.TS") and is_video_path("x.flv") and not is_video_path("x.gif")


def test_detect_files_by_content_then_extension(tmp_path):
    with DPWriter(tmp_path / "clip.mp4", width=4, height=2, bit_depth=8) as w:   # a .dp whatever its name
        w.write(np.zeros((2, 4), np.uint8), np.zeros((2, 4), np.uint8))
    assert formats.detect(tmp_path / "clip.mp4") == "dp"
    (tmp_path / "v.ts").write_bytes(b"\0" * 16)
    assert formats.detect(tmp_path / "v.ts") == "sbs-video"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"is a file but not a \.dp file, a DP GIF or a side-by-side video "
                                         r"\(\.mp4/\.avi/\.mov\.\.\.\)"):
        formats.detect(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="no such file, folder or matching files"):
        formats.detect(tmp_path / "missing")


def test_folder_detection_order_and_explanations(tmp_path):
    pairs = tmp_path / "pairs"
    write_img(pairs / "a_left.png", np.zeros((4, 4), np.uint8))
    write_img(pairs / "a_right.png", np.zeros((4, 4), np.uint8))
    assert formats.detect(pairs) == "dp-pairs"
    roots = tmp_path / "roots"
    for r in ("r1", "r2"):
        (roots / r / "dp_data").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"holds 2 dpMV capture root\(s\) \(r1, r2\); convert one root at a time"):
        formats.detect(roots)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="found no light-field views, DP pairs"):
        formats.detect(tmp_path / "empty")


@pytest.mark.parametrize("layout, option, message", [
    ("dp-pairs", {"view": "B"},
     "--view applies to dpmv (phone A/B/C) and dp-folders (folder set) sources, not dp-pairs"),
    ("pixel4", {"frame_offset": 1}, "--frame-offset applies to dpMV capture roots (layout dpmv), not pixel4"),
    ("dp-gif", {"aperture": 3}, "--aperture applies only to light-field sources (hci, lytro), not dp-gif"),
    ("hci", {"black_level": 3}, "--black-level/--white-level do not apply to a light field"),
    ("lytro", {"rotate": 90}, "--rotate does not apply to a light field"),
    ("dp", {}, "open .dp files with engine.io.dpfile.DPReader"),
])
def test_options_a_format_does_not_take_are_refused_before_reading(tmp_path, layout, option, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        formats.open_layout(tmp_path / "nothing-here", layout, **option)

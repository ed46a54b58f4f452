"""Layout lytro: a Lytro light field -> one frame, DP synthesised."""

import pytest

from engine.io.convert import convert
from engine.io.dpfile import DPReader


def test_convert_lytro_phone_like(tmp_path, data_dir):
    report = convert(data_dir / "lytro" / "lytro1_IMG_0001", tmp_path / "l.dp", aperture=4)
    h = DPReader(tmp_path / "l.dp").header
    assert report.layout == "lytro" and (h.width, h.height) == (256, 256)
    assert h.tags["grid"] == 10 and h.tags["cbar"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cannot be centred"):
        convert(data_dir / "lytro" / "lytro1_IMG_0001", tmp_path / "m.dp", aperture=3)

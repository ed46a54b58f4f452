"""engine.io.capture: live-source specs, and opening captures with one line of error (OpenCV's own log quiet)."""
import os
import subprocess
import sys

import cv2
import pytest

from engine.io.capture import VideoSourceError, open_capture, parse_camera, quiet_opencv, redact
from tests.paths import ROOT

MISSING = 97   # /dev/video97: no such camera on a test machine


def test_parse_camera_and_redact():
    assert parse_camera(3) == 3 and parse_camera("camera:2") == 2 and parse_camera("/dev/video1") == "/dev/video1"
    assert parse_camera(True) is None and parse_camera("clip.mp4") is None
    assert parse_camera("rtsp://u:p@host/s") == "rtsp://u:p@host/s"
    assert redact("rtsp://u:p@host/s") == "rtsp://***@host/s"


def test_quiet_opencv_restores_the_log_level():
    before = cv2.utils.logging.getLogLevel()
    with quiet_opencv():
        assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_SILENT
    assert cv2.utils.logging.getLogLevel() == before
    with pytest.raises(RuntimeError), quiet_opencv():
        raise RuntimeError("restored on errors too")
    assert cv2.utils.logging.getLogLevel() == before


@pytest.mark.skipif(os.path.exists(f"/dev/video{MISSING}"), reason=f"/dev/video{MISSING} exists here")
def test_missing_camera_is_one_line_without_opencv_warnings(tmp_path):
    with pytest.raises(VideoSourceError, match=f"camera {MISSING} could not be opened: no such device"):
        open_capture(MISSING, timeout_s=1)
    # the user's view: `dplf-run --input camera:N` prints our line only, not OpenCV's "[ WARN ...]" lines
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OPENCV_LOG_LEVEL", None)
    proc = subprocess.run([sys.executable, "-c", "from engine.cli import run_main; run_main()",
                           "--input", f"camera:{MISSING}", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("dplf-run: error: camera 97 could not be opened"), proc.stderr
    assert "WARN" not in proc.stderr and "WARN" not in proc.stdout

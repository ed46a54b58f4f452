"""dplf view without a browser: the atlas layout, the disparity encoding, the page's contents (self-contained,
exact data back out), atomic rewrites, and the command line (dplf view, dplf-run --viewer): one-line errors."""
import base64
import json
import os
import re
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

from engine.io.run_folder import RunFolder
from engine.run import run
from engine.viewer import VIEWER_FILE, write_viewer
from engine.viewer.pack import dequantise_disparity, disparity_range, quantise_disparity, tile_views
from engine.viewer.page import JS_FILES, asset
from tests.clips import write_clip

FRAMES, H, W, VIEWS = 2, 32, 48, 3


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.dp", 7, FRAMES, H, W)


@pytest.fixture(scope="module")
def lf_run(clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    run(clip, out, views=VIEWS, progress=False)
    return out


def _cli(*args, prog="dplf"):
    code = ("import sys; sys.argv[0] = 'dplf-run'; from engine.cli import run_main; run_main()" if prog == "dplf-run"
            else "from engine.cli import main; main()")
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "CI": "1", "COLUMNS": "200"})


def _one_error_line(res, prog, *needles):
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "SPEC" not in lines[0] and "§" not in lines[0]


def _page_data(page: str):
    meta = json.loads(re.search(r'<script type="application/json" id="dplf-meta">(.*?)</script>', page, re.S)[1])
    atlases = re.findall(r'<script type="text/plain" id="dplf-atlas-(\d+)">([^<]*)</script>', page)
    disps = re.findall(r'<script type="text/plain" id="dplf-disp-(\d+)">([^<]*)</script>', page)
    return meta, [base64.b64decode(a) for _, a in atlases], [base64.b64decode(d) for _, d in disps]


def test_the_atlas_tiles_views_row_major():
    views = np.random.default_rng(0).integers(0, 256, (2, 3, 4, 5, 3), dtype=np.uint8)
    atlas = tile_views(views)
    assert atlas.shape == (8, 15, 3)
    for r in range(2):
        for c in range(3):
            assert np.array_equal(atlas[r * 4:(r + 1) * 4, c * 5:(c + 1) * 5], views[r, c])


def test_disparity_codes_round_trip_within_half_a_step():
    d = np.random.default_rng(1).normal(0, 4, (20, 30)).astype(np.float32)
    lo, hi = disparity_range([d])
    back = dequantise_disparity(quantise_disparity(d, lo, hi), lo, hi)
    assert np.abs(back - d).max() <= (hi - lo) / 65535 * 0.5 + 1e-5
    flat = np.full((4, 4), 2.0, np.float32)
    assert disparity_range([flat]) == (1.5, 2.5)
    bad = np.array([[np.nan, np.inf, -np.inf, 1.0]], np.float32)
    assert quantise_disparity(bad, 0.0, 2.0).tolist() == [[0, 65535, 0, 32768]]


def test_the_page_is_self_contained_and_holds_the_run_exactly(lf_run):
    path, summary = write_viewer(lf_run, image_format="png")
    assert path == lf_run / VIEWER_FILE and str(path) in summary and f"{FRAMES} frames" in summary
    page = path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert "<link" not in page and not re.search(r"<script[^>]*\bsrc=", page)
    assert "@import" not in page and "url(" not in page
    rf = RunFolder(lf_run)
    meta, atlases, disps = _page_data(page)
    assert meta["grid"] == [VIEWS, VIEWS] and meta["frames"] == rf.frames
    assert (meta["height"], meta["width"]) == (H, W) and meta["image_type"] == "image/png"
    assert np.allclose(np.reshape(meta["positions"], (VIEWS, VIEWS, 2)), rf.positions)
    assert len(atlases) == len(disps) == FRAMES
    lo, hi = meta["disparity"]["lo"], meta["disparity"]["hi"]
    for k, f in enumerate(rf.frames):
        atlas = cv2.imdecode(np.frombuffer(atlases[k], np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(atlas, tile_views(rf.views(f)))
        q = np.frombuffer(zlib.decompress(disps[k]), "<u2").reshape(H, W)
        assert np.abs(dequantise_disparity(q, lo, hi) - rf.disparity(f)).max() <= (hi - lo) / 65535


def test_jpeg_pages_are_close_and_frames_picks_the_first_n(lf_run):
    _, summary = write_viewer(lf_run, frames=1, quality=95)
    meta, atlases, _ = _page_data((lf_run / VIEWER_FILE).read_text())
    rf = RunFolder(lf_run)
    assert meta["frames"] == rf.frames[:1] and len(atlases) == 1 and "1 frame," in summary
    atlas = cv2.imdecode(np.frombuffer(atlases[0], np.uint8), cv2.IMREAD_COLOR)[..., ::-1].astype(float)
    mse = np.mean((atlas - tile_views(rf.views(rf.frames[0]))) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 35


def test_a_page_over_the_cap_is_refused_and_the_old_page_stays(lf_run):
    write_viewer(lf_run)
    before = (lf_run / VIEWER_FILE).read_bytes()
    with pytest.raises(ValueError, match=r"over --max-mb 0.001 MB after 1 of 2 frames"):
        write_viewer(lf_run, max_mb=0.001)
    assert (lf_run / VIEWER_FILE).read_bytes() == before
    assert not [p.name for p in lf_run.iterdir() if p.name.startswith(".")]


def test_every_asset_ships_and_stays_short():
    for name in (*JS_FILES, "viewer.html", "viewer.css"):
        text = asset(name)
        assert text.strip() and len(text.splitlines()) <= 500, name


def test_dplf_run_viewer_writes_the_page(clip, tmp_path):
    out = tmp_path / "run"
    res = _cli("--input", clip, "--out", out, "--views", 2, "--frames", 1, "--viewer", prog="dplf-run")
    assert res.returncode == 0, res.stderr
    assert (out / VIEWER_FILE).is_file() and "dplf view:" in res.stdout
    assert _page_data((out / VIEWER_FILE).read_text())[0]["grid"] == [2, 2]


def test_dplf_run_viewer_with_no_views_is_refused_before_running(clip, tmp_path):
    out = tmp_path / "run"
    res = _cli("--input", clip, "--out", out, "--no-views", "--viewer", prog="dplf-run")
    _one_error_line(res, "dplf-run", "--no-views", "--viewer")
    assert not out.exists()


def test_dplf_view_of_an_input_runs_first(clip, tmp_path):
    out = tmp_path / "run"
    res = _cli("view", clip, "--out", out, "--views", 3, "--frames", 1)
    assert res.returncode == 0, res.stderr
    assert "dplf-run: 1 frames" in res.stdout and (out / VIEWER_FILE).is_file()
    _one_error_line(_cli("view", clip, "--out", out), "dplf view", "--overwrite")
    assert _cli("view", clip, "--out", out, "--overwrite", "--views", 2, "--frames", 1).returncode == 0


@pytest.mark.parametrize("case", ["missing", "not-a-run", "no-views", "out-with-run", "cap", "format"])
def test_dplf_view_bad_input_is_one_line(case, clip, lf_run, tmp_path):
    if case == "no-views":
        run(clip, tmp_path / "dv", views=0, progress=False)
    args, needles = {
        "missing": ([tmp_path / "nope"], ["does not exist", "output folder"]),
        "not-a-run": ([tmp_path], ["not a dplf-run output folder", "manifest.json"]),
        "no-views": ([tmp_path / "dv"], ["no views", "--no-views"]),
        "out-with-run": ([lf_run, "--out", tmp_path / "x"], ["--out", "drop --out"]),
        "cap": ([lf_run, "--max-mb", "0.001"], ["--max-mb", "after 1 of 2 frames"]),
        "format": ([lf_run, "--image-format", "webp"], ["jpg or png"]),
    }[case]
    _one_error_line(_cli("view", *args), "dplf view", *needles)


def test_overwrite_removes_the_earlier_runs_page(clip, tmp_path):
    out = tmp_path / "run"
    run(clip, out, views=2, frames=1, progress=False)
    write_viewer(out)
    run(clip, out, views=2, frames=1, progress=False, overwrite=True)
    assert not (out / VIEWER_FILE).exists()


def test_the_page_opens_itself_only_for_a_person_at_a_desktop(monkeypatch):
    import io

    from engine.viewer import command

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(command.sys, "platform", "linux")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(command.sys, "stdout", Tty())
    assert command.can_open_browser()
    monkeypatch.setenv("CI", "1")
    assert not command.can_open_browser()                    # CI
    monkeypatch.delenv("CI")
    monkeypatch.delenv("DISPLAY")
    assert not command.can_open_browser()                    # an SSH shell without a display
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(command.sys, "stdout", io.StringIO())
    assert not command.can_open_browser()                    # a pipe or a script


def test_dplf_view_opens_the_browser_when_asked(lf_run, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from engine.cli import app
    from engine.viewer import command

    opened = []
    monkeypatch.setattr(command.webbrowser, "open", lambda uri: opened.append(uri) or True)
    res = CliRunner().invoke(app, ["view", str(lf_run), "--open"])
    assert res.exit_code == 0, res.output
    assert opened == [(lf_run / "viewer.html").resolve().as_uri()]
    opened.clear()
    res = CliRunner().invoke(app, ["view", str(lf_run), "--no-open"])
    assert res.exit_code == 0 and opened == []

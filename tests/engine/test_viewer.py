"""dplf view in a real headless Chromium: the page written for a real run of samples/demo.dp (2 frames, 7x7 views)
opens from file:// with no network and no errors; a mouse drag moves the viewpoint the way the parallax says;
a click refocuses (sharper there, and equal to engine.refocus's shift-and-add); the frame scrubber and play
button change the frame; the disparity overlay shows. Screenshots go to pytest's tmp dir (and to
$DPLF_ARTEFACTS when set). Skipped, with the reason, without Playwright or a chromium on this machine."""
import os
import shutil

import cv2
import numpy as np
import pytest

from engine.io.run_folder import RunFolder
from engine.refocus import refocus
from engine.run import run
from engine.viewer import write_viewer
from tests.engine.browser import canvas_rgb, chromium_path, client_point, launch, psnr, sharpness
from tests.paths import DEMO

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
if chromium_path() is None:
    pytest.skip("no chromium found (apt-get install chromium, or set DPLF_CHROMIUM)", allow_module_level=True)

VIEWS = 7
JPEG_DB = 36.0   # the page's JPEG atlas (quality 90) against the lossless views: 39.5-41.6 dB over the demo's frames


@pytest.fixture(scope="module")
def lf_run(tmp_path_factory):
    if not DEMO.is_file():
        pytest.skip(f"{DEMO} is missing")
    out = tmp_path_factory.mktemp("viewer") / "run"
    run(DEMO, out, views=VIEWS, frames=2, progress=False)
    page, _ = write_viewer(out)
    return RunFolder(out), page


@pytest.fixture(scope="module")
def playwright():
    with sync_api.sync_playwright() as p:   # one per module: Playwright's sync API does not nest
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    b = launch(playwright)
    yield b
    b.close()


@pytest.fixture
def page(browser, lf_run, tmp_path, request):
    """The viewer loaded from file://; every request that is not the page itself (or data:/blob:) is refused
    and listed, every console error or warning and page error is collected and must stay empty."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = ctx.new_page()
    problems, requests = [], []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
          else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    url = lf_run[1].resolve().as_uri()

    def route(r):
        if r.request.url != url:
            requests.append(r.request.url)
            return r.abort()
        return r.continue_()

    pg.route("**/*", route)
    pg.goto(url)
    assert pg.evaluate("window.dplfViewer.ready") is True
    yield pg
    shot = tmp_path / f"{request.node.name}.png"
    pg.screenshot(path=str(shot))
    if os.environ.get("DPLF_ARTEFACTS"):
        dest = os.path.join(os.environ["DPLF_ARTEFACTS"], "viewer")
        os.makedirs(dest, exist_ok=True)
        shutil.copy(shot, dest)
    ctx.close()
    assert not problems, problems
    assert not requests, f"the page asked for {requests}"


def _drag(pg, start, end, steps=12):
    pg.mouse.move(*start)
    pg.mouse.down()
    pg.mouse.move(*end, steps=steps)
    pg.mouse.up()


def test_the_page_opens_from_disk_and_shows_the_centre_view(lf_run, page):
    rf, _ = lf_run
    views = rf.views(rf.frames[0])
    state = page.evaluate("window.dplfViewer.state")
    assert (state["u"], state["v"], state["aperture"], state["frame"]) == (0, 0, 0, 0)
    shown = canvas_rgb(page)
    assert shown.shape == views.shape[2:]
    assert psnr(shown, views[VIEWS // 2, VIEWS // 2]) > JPEG_DB


def test_views_at_grid_positions_match_the_run(lf_run, page):
    rf, _ = lf_run
    views, pos = rf.views(rf.frames[0]), rf.positions
    centre = views[VIEWS // 2, VIEWS // 2]
    for r, c in [(VIEWS // 2, VIEWS - 1), (0, 0), (VIEWS - 1, 2)]:
        page.evaluate("([u, v]) => window.dplfViewer.setView(u, v)", [float(pos[r, c, 0]), float(pos[r, c, 1])])
        shown = canvas_rgb(page)
        scores = np.array([[psnr(shown, views[i, j]) for j in range(VIEWS)] for i in range(VIEWS)])
        assert np.unravel_index(np.argmax(scores), scores.shape) == (r, c), scores.round(1)
        own, other = scores[r, c], psnr(shown, centre)
        assert own > JPEG_DB and own > other + 4, (r, c, own, other)


def test_a_mouse_drag_moves_the_viewpoint_with_the_pointer(lf_run, page):
    rf, _ = lf_run
    views = rf.views(rf.frames[0])
    box = page.locator("#lf").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    _drag(page, (cx, cy), (cx + 0.25 * box["width"], cy))      # a quarter of the width: half the grid's span
    state = page.evaluate("window.dplfViewer.state")
    assert state["u"] == pytest.approx(0.5, abs=0.02) and state["v"] == pytest.approx(0, abs=1e-6)
    assert state["slope"] == 0                                   # a drag is not a click
    half = canvas_rgb(page)
    right = views[VIEWS // 2, VIEWS * 3 // 4]                    # u = 0.5 is a grid column of the 7x7 grid
    assert psnr(half, right) > JPEG_DB
    _drag(page, (cx, cy), (cx + box["width"], cy + box["height"]))   # past the corner: clamped to it
    state = page.evaluate("window.dplfViewer.state")
    assert (state["u"], state["v"]) == (pytest.approx(1.0), pytest.approx(1.0))
    corner = canvas_rgb(page)
    assert psnr(corner, views[-1, -1]) > JPEG_DB > psnr(corner, views[VIEWS // 2, VIEWS // 2]) + 3
    _drag(page, (cx, cy), (cx - 0.1 * box["width"], cy - 0.1 * box["height"]))   # up-left from the corner
    state = page.evaluate("window.dplfViewer.state")
    assert 0.5 < state["u"] < 1.0 and 0.5 < state["v"] < 1.0


def test_between_views_the_blend_is_the_bilinear_mix_of_the_four_neighbours(lf_run, page):
    rf, _ = lf_run
    views = rf.views(rf.frames[0]).astype(np.float64)
    step = 2.0 / (VIEWS - 1)
    page.evaluate("([u, v]) => window.dplfViewer.setView(u, v)", [0.25 * step, 0.5 * step])
    r, c = VIEWS // 2, VIEWS // 2
    mix = (0.75 * 0.5 * views[r, c] + 0.25 * 0.5 * views[r, c + 1] + 0.75 * 0.5 * views[r + 1, c]
           + 0.25 * 0.5 * views[r + 1, c + 1])
    assert psnr(canvas_rgb(page), np.rint(mix)) > JPEG_DB


def test_touch_drags_and_taps(browser, lf_run):
    """Touch input (Chromium's own touch events through the DevTools protocol; a tap through Playwright)."""
    rf, url = lf_run
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, has_touch=True)
    try:
        pg = ctx.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url.resolve().as_uri())
        assert pg.evaluate("window.dplfViewer.ready") is True
        box = pg.locator("#lf").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        cdp = ctx.new_cdp_session(pg)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": cx, "y": cy}]})
        for k in range(1, 11):
            point = {"x": cx, "y": cy + k * 0.025 * box["height"]}   # down a quarter of the height: v + 0.5
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        state = pg.evaluate("window.dplfViewer.state")
        assert state["v"] == pytest.approx(0.5, abs=0.02) and state["u"] == pytest.approx(0, abs=1e-6)
        x, y, d = _focus_target(rf)
        pg.touchscreen.tap(*client_point(pg, x, y))
        pg.wait_for_function("window.dplfViewer.state.slope !== 0")
        assert pg.evaluate("window.dplfViewer.state")["slope"] == pytest.approx(d, abs=0.3)
        assert not errors, errors
    finally:
        ctx.close()


def test_arrow_keys_move_the_viewpoint(page):
    page.locator("#lf").focus()
    page.keyboard.press("ArrowRight")
    step = page.evaluate("window.dplfViewer.grid.step")
    assert page.evaluate("window.dplfViewer.state")["u"] == pytest.approx(step[0] / 4)
    page.keyboard.press("Shift+ArrowDown")
    assert page.evaluate("window.dplfViewer.state")["v"] == pytest.approx(step[1])
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("window.dplfViewer.state")["u"] == pytest.approx(0, abs=1e-6)


def _focus_target(rf) -> tuple[int, int, float]:
    """A textured pixel whose 31x31 window lies at one disparity far from the captured focal plane."""
    f = rf.frames[0]
    d = rf.disparity(f)
    grey = rf.views(f)[VIEWS // 2, VIEWS // 2].astype(np.float32).mean(axis=2)
    energy = cv2.boxFilter(cv2.Laplacian(grey, cv2.CV_32F) ** 2, -1, (31, 31))
    mean = cv2.boxFilter(d, -1, (31, 31))
    spread = np.sqrt(np.maximum(cv2.boxFilter(d * d, -1, (31, 31)) - mean ** 2, 0))
    score = np.where((spread < 0.3) & (np.abs(mean) > 2.5), energy, -1)
    score[:20], score[-20:], score[:, :20], score[:, -20:] = -1, -1, -1, -1
    y, x = np.unravel_index(np.argmax(score), score.shape)
    assert score[y, x] > 0, "no textured region away from the focal plane in the demo's first frame"
    return int(x), int(y), float(d[y, x])


def test_a_click_refocuses_there(lf_run, page):
    rf, _ = lf_run
    x, y, d = _focus_target(rf)
    full = page.evaluate("window.dplfViewer.grid.maxRadius")
    page.evaluate("r => window.dplfViewer.setAperture(r)", full)
    page.evaluate("d => window.dplfViewer.setFocus(d)", d + 8.0)
    blurred = sharpness(canvas_rgb(page), x, y, 15)
    page.mouse.click(*client_point(page, x, y))
    state = page.evaluate("window.dplfViewer.state")
    assert state["slope"] == pytest.approx(d, abs=0.3) and state["aperture"] == pytest.approx(full)
    shown = canvas_rgb(page)
    sharp = sharpness(shown, x, y, 15)
    assert sharp > 3 * blurred, (sharp, blurred)
    views = rf.views(rf.frames[0])
    expected = refocus(views, rf.positions, slope=state["slope"], aperture_radius=None)
    assert psnr(shown, expected, border=8) > JPEG_DB


def test_a_click_with_a_pinhole_opens_the_aperture_so_the_refocus_shows(lf_run, page):
    rf, _ = lf_run
    x, y, d = _focus_target(rf)
    page.mouse.click(*client_point(page, x, y))
    state = page.evaluate("window.dplfViewer.state")
    assert state["aperture"] > 0 and state["slope"] == pytest.approx(d, abs=0.3)
    assert "focus D = " in page.inner_text("#readout")


def test_the_aperture_slider_goes_from_pinhole_to_every_view(page):
    slider = page.locator("#aperture")
    slider.focus()
    page.keyboard.press("End")
    full = page.evaluate("window.dplfViewer.grid.maxRadius")
    assert page.evaluate("window.dplfViewer.state")["aperture"] == pytest.approx(full)
    assert f"({VIEWS * VIEWS} views)" in page.inner_text("#aperture-label")
    page.keyboard.press("Home")
    assert page.evaluate("window.dplfViewer.state")["aperture"] == 0
    assert page.inner_text("#aperture-label") == "pinhole"


def test_the_frame_scrubber_and_play_change_the_frame(lf_run, page):
    rf, _ = lf_run
    centre = [rf.views(f)[VIEWS // 2, VIEWS // 2] for f in rf.frames]
    first = canvas_rgb(page)
    page.locator("#frame").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("window.dplfViewer.state.frame === 1 && !window.dplfViewer.state.loading")
    second = canvas_rgb(page)
    assert psnr(second, centre[1]) > JPEG_DB
    assert psnr(second, centre[1]) > psnr(first, centre[1]) + 3
    assert f"frame {rf.frames[1]} (2/2)" in page.inner_text("#frame-label")
    page.click("#play")
    page.wait_for_function("window.dplfViewer.state.frame === 0", timeout=5000)
    page.click("#play")
    assert page.evaluate("window.dplfViewer.state.playing") is False
    assert page.inner_text("#play") == "Play"


def test_the_disparity_overlay_colours_near_and_far(lf_run, page):
    rf, _ = lf_run
    d = rf.disparity(rf.frames[0])
    plain = canvas_rgb(page).astype(np.float64)
    assert not page.is_visible("#colorbar")
    page.check("#overlay")
    assert page.is_visible("#colorbar") and "near" in page.inner_text("#colorbar-wrap")
    tinted = canvas_rgb(page).astype(np.float64)
    assert np.abs(tinted - plain).mean() > 20
    near, far = d > np.percentile(d, 90), d < np.percentile(d, 10)
    warmth = tinted[..., 0] - tinted[..., 2]
    assert warmth[near].mean() > warmth[far].mean() + 30   # turbo: far is blue, near is red
    page.uncheck("#overlay")
    assert psnr(canvas_rgb(page), plain) > 50


def test_without_webgl2_the_page_says_so_in_one_line(playwright, lf_run):
    b = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=["--disable-3d-apis"])
    try:
        pg = b.new_page()
        errors = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.goto(lf_run[1].resolve().as_uri())
        pg.wait_for_function("document.getElementById('msg').textContent !== ''")
        msg = pg.inner_text("#msg")
        assert msg.startswith("dplf viewer: this browser has no WebGL2") and "\n" not in msg
        assert pg.is_visible("#msg") and errors == [msg]
    finally:
        b.close()

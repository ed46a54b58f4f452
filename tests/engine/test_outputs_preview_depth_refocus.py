"""Outputs people expect (issue 5): mosaic/per-view mp4, preview, metric depth, synthetic refocus, their CLI."""
import inspect
import json
import math

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.conventions import grid_positions
from engine.depth import (CalibrationError, DepthModel, depth_from_disparity, depth_to_mm, half_aperture_baseline,
                          load_calibration)
from engine.io.dpfile import DPWriter
from engine.io.outputs import OutputWriter, mosaic_geometry
from engine.io.run_folder import RunFolder
from engine.io.pfm import read_pfm
from engine.preview import contact_sheet, ring_order
from engine.refocus import aperture_views, refocus

RNG = np.random.default_rng(5)


def texture(h, w, sigma=1.2, seed=0):
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.uniform(0, 1, (h, w, 3)).astype(np.float32), (0, 0), sigma)
    return cv2.normalize(t, None, 0, 1, cv2.NORM_MINMAX)


def distinct_views(V, U, h, w, frame=0):
    """uint8 [V, U, h, w, 3]: every view a smooth pattern with its own colour, so tiles cannot be confused."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((V, U, h, w, 3), np.uint8)
    for r in range(V):
        for c in range(U):
            k = r * U + c
            base = 0.5 + 0.4 * np.sin(x / (3 + k) + y / 5 + frame)
            col = np.array([(k * 37) % 200, (k * 91) % 200, (k * 53) % 200], np.float32) / 255
            out[r, c] = np.clip((base[..., None] * 0.6 + col) * 255, 0, 255).astype(np.uint8)
    return out


def write_run(path, fmt, V=2, U=3, h=25, w=33, frames=(0, 1, 2, 3), disparity=None, **kw):
    manifest = {"views": [V, U], "positions": grid_positions(max(V, U))[:V, :U].reshape(-1, 2).tolist(),
                "height": h, "width": w, "baseline": 1.0, "fps": 10.0}
    manifest.update(kw.pop("manifest", {}))
    wr = OutputWriter(path, fmt, manifest, fps=10.0, **kw)
    for f in frames:
        d = disparity if disparity is not None else np.full((h, w), f * 0.5, np.float32)
        wr.write(f, d, distinct_views(V, U, h, w, f))
    wr.close()
    return wr


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def read_video(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


# -- mp4 -------------------------------------------------------------------------------------------------
def test_mosaic_mp4_frame_count_size_and_tile_order(tmp_path):
    V, U, h, w, frames = 2, 3, 25, 33, (3, 4, 5, 6)
    write_run(tmp_path, "mosaic", V, U, h, w, frames)
    man = json.loads((tmp_path / "manifest.json").read_text())
    geo = man["mosaic"]
    assert man["view_format"] == "mosaic" and man["frame_indices"] == list(frames)
    assert geo["grid"] == [V, U] and geo["tile"] == [h, w] and geo["size"] == [2 * h, 3 * w + 1]   # even
    assert not list((tmp_path / "views").glob(".*partial*"))
    decoded = read_video(tmp_path / "views" / "mosaic.mp4")
    assert len(decoded) == len(frames)
    for k, f in enumerate(frames):
        assert decoded[k].shape == (*geo["size"], 3)
        views = distinct_views(V, U, h, w, f)
        for r in range(V):
            for c in range(U):
                tile = decoded[k][r * h:(r + 1) * h, c * w:(c + 1) * w, ::-1]
                scores = [psnr(tile, views[i, j]) for i in range(V) for j in range(U)]
                assert int(np.argmax(scores)) == r * U + c and scores[r * U + c] > 24, (r, c, scores)
    back = RunFolder(tmp_path).views(5)
    assert back.shape == (V, U, h, w, 3) and psnr(back, distinct_views(V, U, h, w, 5)) > 24


def test_mosaic_size_cap_scales_tiles(tmp_path):
    geo = mosaic_geometry((3, 3), (40, 56), 100)
    assert max(geo["size"]) <= 100 and geo["scale"] < 1 and geo["tile"] == [23, 33]
    write_run(tmp_path, "mosaic", 3, 3, 40, 56, frames=(0, 1), mosaic_max_size=100)
    decoded = read_video(tmp_path / "views" / "mosaic.mp4")
    assert len(decoded) == 2 and decoded[0].shape[:2] == tuple(json.loads(
        (tmp_path / "manifest.json").read_text())["mosaic"]["size"])
    back = RunFolder(tmp_path).views(1)   # scaled back up to the run's size
    assert back.shape == (3, 3, 40, 56, 3) and psnr(back, distinct_views(3, 3, 40, 56, 1)) > 22
    with pytest.raises(ValueError, match="too small"):
        mosaic_geometry((9, 9), (40, 56), 10)


def test_mp4_per_view_atomic_and_keeps_frames_on_failure(tmp_path):
    V, U, h, w = 2, 2, 21, 30
    wr = OutputWriter(tmp_path, "mp4", {"views": [V, U], "height": h, "width": w}, fps=10.0)
    for f in range(3):
        wr.write(f, np.zeros((h, w), np.float32), distinct_views(V, U, h, w, f))
    # while running: only partial files, the final names appear at close
    assert not (tmp_path / "views" / "v00_u00.mp4").exists()
    assert (tmp_path / "views" / ".v00_u00.partial.mp4").exists()
    wr.close(status="failed")                  # what dplf-run does after a bad frame
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["status"] == "failed" and man["frames"] == 3 and man["video"]["frame_size"] == [22, 30]
    for r in range(V):
        for c in range(U):
            decoded = read_video(tmp_path / "views" / f"v{r:02d}_u{c:02d}.mp4")
            assert len(decoded) == 3 and decoded[0].shape == (22, 30, 3)
            assert psnr(decoded[2][:h, :w, ::-1], distinct_views(V, U, h, w, 2)[r, c]) > 24
    assert not list((tmp_path / "views").glob(".*partial*"))
    assert psnr(RunFolder(tmp_path).views(1), distinct_views(V, U, h, w, 1)) > 24


@pytest.mark.parametrize("fmt", ["png", "npy"])
def test_run_folder_reads_lossless_formats_exactly(tmp_path, fmt):
    write_run(tmp_path, fmt, frames=(7, 9))
    run = RunFolder(tmp_path)
    assert run.frames == [7, 9] and run.positions.shape == (2, 3, 2)
    assert np.array_equal(run.views(9), distinct_views(2, 3, 25, 33, 9))
    assert np.all(run.disparity(9) == 4.5)
    with pytest.raises(ValueError, match="frame 8 is not in"):
        run.views(8)


# -- preview ---------------------------------------------------------------------------------------------
def test_ring_order_and_contact_sheet():
    assert ring_order(3, 3) == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0)]
    assert ring_order(1, 3) == [(0, 0), (0, 1), (0, 2), (0, 1)]
    assert ring_order(1, 1) == [(0, 0)]
    views = distinct_views(2, 3, 10, 12)
    sheet = contact_sheet(views, gap=2)
    assert sheet.shape == (22, 40, 3) and np.array_equal(sheet[12:22, 28:40], views[1, 2])
    assert max(contact_sheet(distinct_views(3, 3, 100, 200), max_size=300).shape[:2]) <= 300


def test_preview_writes_readable_files(tmp_path):
    run = tmp_path / "run"
    y, x = np.mgrid[0:25, 0:33]
    write_run(run, "png", disparity=((x - 16) / 4).astype(np.float32))
    res = CliRunner().invoke(app, ["preview", str(run), "--out", str(tmp_path / "p"), "--frame", "2"])
    assert res.exit_code == 0, res.output
    p = tmp_path / "p"
    sheet = cv2.imread(str(p / "contact_000002.png"))
    assert sheet.shape == (2 * 25 + 2, 3 * 33 + 4, 3)
    bar = cv2.imread(str(p / "disparity_000002.png"))
    assert bar is not None and bar.shape[0] >= 240 and bar.shape[1] > 240
    frames = read_video(p / "wiggle_000002.mp4")
    assert len(frames) == 3 * len(ring_order(2, 3)) and frames[0].shape[:2] == (26, 34)
    try:
        from PIL import Image
    except ImportError:
        assert not (p / "wiggle_000002.gif").exists()
    else:
        with Image.open(p / "wiggle_000002.gif") as gif:
            assert gif.n_frames == len(ring_order(2, 3)) and gif.size == (33, 25)


# -- depth -----------------------------------------------------------------------------------------------
def test_depth_round_trip_inverse_depth_form():
    model = load_calibration({"a": 3.0, "b": -1.5})
    z = np.array([[0.3, 1.0, 5.0, 50.0]])
    d = model.disparity(z).astype(np.float32)
    assert np.all(np.diff(d) < 0)                     # larger D is nearer
    assert np.allclose(depth_from_disparity(d, model), z, rtol=1e-5)
    # (D - b) / a <= 0 is beyond infinity: invalid, 0
    assert np.all(depth_from_disparity(np.float32([[-1.5, -2.0, np.nan]]), model) == 0)


def test_depth_thin_lens_form_matches_the_formula():
    cal = {"focal_length_px": 1000.0, "baseline_mm": 2.0, "focus_distance_m": 1.0}
    model = load_calibration(cal)
    d = np.float32([[0.0, 2.0, -1.0]])               # fB = 2 px m: D = 2 (1/z - 1)
    assert np.allclose(model.depth(d), [[1.0, 0.5, 2.0]], rtol=1e-6)
    # gain/offset (D_cam = gain D + offset), e.g. a camera with the opposite parallax: negative gain
    flipped = load_calibration({**cal, "disparity_gain": -2.0, "disparity_offset": 0.5})
    z = np.array([[0.4, 0.9, 3.0]])
    assert np.allclose(flipped.depth(flipped.disparity(z).astype(np.float32)), z, rtol=1e-5)
    assert np.allclose(flipped.disparity(z), (2 * (1 / z - 1) - 0.5) / -2.0)
    # f-number + focal length + pixel pitch: B = 4 A / (3 pi), f_px = s / pitch with s = f z_f / (z_f - f)
    m = load_calibration({"focal_length_mm": 4.0, "f_number": 2.0, "pixel_pitch_um": 2.0, "focus_distance_m": 0.5})
    s_mm = 4.0 * 500 / (500 - 4.0)
    fb = s_mm * 1e3 / 2.0 * half_aperture_baseline(4e-3 / 2.0)
    assert math.isclose(m.a, fb) and math.isclose(m.b, -fb / 0.5)
    assert math.isclose(half_aperture_baseline(1.0), 4 / (3 * math.pi))


def test_depth_resolution_scaling_and_range():
    model = load_calibration({"a": 2.0, "b": 0.0, "image_width": 200, "max_depth_m": 10.0, "min_depth_m": 0.2})
    z = np.full((4, 100), 2.0)
    d_half = model.disparity(z, width=100).astype(np.float32)     # a 100-wide map holds half the pixels
    assert np.allclose(d_half, 0.5) and np.allclose(model.depth(d_half), 2.0)
    # on a 100-wide map z = 2 / (2 D): D = 0.05 is 20 m (> max), D = 10 is 0.1 m (< min), D = 1 is 1 m
    assert model.depth(np.full((1, 100), 0.05, np.float32)).max() == 0
    assert model.depth(np.full((1, 100), 10.0, np.float32)).max() == 0
    assert np.allclose(model.depth(np.full((1, 100), 1.0, np.float32)), 1.0)
    # without image_width the caller's calibration width (the source's) applies
    plain = DepthModel(2.0, 0.0)
    assert np.allclose(plain.depth(np.float32([[0.5]]), calibration_width=2), 2.0)


def test_depth_mm_png_invalid_zero_and_clipping(tmp_path):
    mm = depth_to_mm(np.array([[0.0, np.nan, np.inf, 0.0002, 1.2346, 65.535, 70.0, -1.0]]))
    assert mm.dtype == np.uint16 and mm.tolist() == [[0, 0, 0, 1, 1235, 65535, 65535, 0]]


@pytest.mark.parametrize("cal, match", [
    ({"a": 1.0}, "both 'a' and 'b'"),
    ({"a": 0.0, "b": 1.0}, "must not be 0"),
    ({"a": 1.0, "b": 0.0, "focal_length_px": 5.0}, "not both"),
    ({"focal_length_px": 900.0}, "exactly one of"),
    ({"focal_length_px": 900.0, "baseline_mm": 1.0, "disparity_gain": 0}, "must not be 0"),
    ({"baseline_mm": 1.0}, "focal_length_px"),
    ({"a": 1.0, "b": 0.0, "focal_lenght_px": 1}, "unknown keys"),
    ({"a": "1", "b": 0.0}, "finite number"),
    ({"a": 1.0, "b": 0.0, "min_depth_m": 5, "max_depth_m": 1}, "below"),
    ({"calibration": None}, "--calib"),
    ([1, 2], "JSON object"),
    ({}, "no depth calibration"),
])
def test_bad_calibrations_one_line(cal, match):
    with pytest.raises(CalibrationError, match=match) as info:
        load_calibration(cal)
    assert "\n" not in str(info.value)


# -- refocus ---------------------------------------------------------------------------------------------
D1, D2 = 2.0, -2.0     # foreground square (near) and background plane


def two_plane_lf(n=5, size=48, lo=16, hi=32):
    """Exact LF of a textured square at D1 over a textured plane at D2: I_(u,v)(x) = I_c(x + D u) per plane."""
    pad = 8
    t1, t2 = texture(size + 2 * pad, size + 2 * pad, seed=1), texture(size + 2 * pad, size + 2 * pad, seed=2)
    pos = grid_positions(n)
    y, x = np.mgrid[0:size, 0:size]
    views = np.empty((n, n, size, size, 3), np.float32)
    for r in range(n):
        for c in range(n):
            u, v = pos[r, c]
            x1, y1 = (x + D1 * u).round().astype(int), (y + D1 * v).round().astype(int)
            x2, y2 = (x + D2 * u).round().astype(int), (y + D2 * v).round().astype(int)
            fg = (x1 >= lo) & (x1 < hi) & (y1 >= lo) & (y1 < hi)
            views[r, c] = np.where(fg[..., None], t1[y1 + pad, x1 + pad], t2[y2 + pad, x2 + pad])
    return views, pos


def grad_energy(img, mask):
    """Sum of squared finite differences between neighbours that both lie in `mask`."""
    gy = np.diff(img, axis=0) ** 2 * (mask[1:] & mask[:-1])[..., None]
    gx = np.diff(img, axis=1) ** 2 * (mask[:, 1:] & mask[:, :-1])[..., None]
    return float(gy.sum() + gx.sum())


def test_refocus_two_planes():
    views, pos = two_plane_lf()
    centre = views[2, 2]
    fg = np.zeros((48, 48), bool)
    fg[19:29, 19:29] = True                                   # the square, 3 px inside its edges
    bg = np.ones((48, 48), bool)
    bg[10:38, 10:38] = False                                  # the background, away from the square
    bg[:5] = bg[-5:] = bg[:, :5] = bg[:, -5:] = False         # ... and from the image border
    near = refocus(views, pos, slope=D1)
    assert np.abs(near[fg] - centre[fg]).max() < 1e-4
    assert grad_energy(near, bg) < 0.5 * grad_energy(centre, bg)
    far = refocus(views, pos, slope=D2)
    assert np.abs(far[bg] - centre[bg]).max() < 1e-4
    inner = np.zeros((48, 48), bool)
    inner[17:31, 17:31] = True
    assert grad_energy(far, inner) < 0.5 * grad_energy(centre, inner)
    # radius 0 is the centre view, whatever the slope; a small aperture blurs less than the full one
    assert np.array_equal(refocus(views, pos, slope=D1, aperture_radius=0.0), centre)
    assert len(aperture_views(pos, 0.5)) == 5 and len(aperture_views(pos, None)) == 25
    small = refocus(views, pos, slope=D1, aperture_radius=0.5)
    assert grad_energy(small, bg) > grad_energy(near, bg)
    # uint8 views give uint8; an even grid's radius 0 averages the four central views
    as_u8 = refocus((views * 255).round().astype(np.uint8), pos, slope=D1)
    assert as_u8.dtype == np.uint8 and np.abs(as_u8[fg] / 255.0 - centre[fg]).max() < 3 / 255
    even = grid_positions(4)
    assert sorted(aperture_views(even, 0.0).tolist()) == [5, 6, 9, 10]
    with pytest.raises(ValueError, match="positions"):
        refocus(views, pos[:2], slope=0.0)


# -- CLI -------------------------------------------------------------------------------------------------
def cli(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    y, x = np.mgrid[0:25, 0:33]
    write_run(path, "npy", disparity=((x - 16) / 8).astype(np.float32), frames=(0, 1),
              manifest={"calibration": {"focal_length_px": 500.0, "baseline_mm": 2.0, "disparity_gain": 1.0,
                                        "disparity_offset": 1.0}})
    return path


def test_cli_depth(run_dir, tmp_path):
    calib = tmp_path / "calib.json"
    calib.write_text(json.dumps({"a": 4.0, "b": -2.0, "max_depth_m": 100}))
    code, out, err = cli("depth", run_dir, "--calib", calib, "--out", tmp_path / "d")
    assert code == 0, err
    assert "2 frames" in out
    d = read_pfm(run_dir / "disparity" / "000001.pfm")
    z = read_pfm(tmp_path / "d" / "000001.pfm")
    expect = np.where(d + 2 > 0, 4.0 / np.maximum(d + 2.0, 1e-9), 0)
    assert np.allclose(z, expect, rtol=1e-5)
    mm = cv2.imread(str(tmp_path / "d" / "000001.png"), cv2.IMREAD_UNCHANGED)
    assert mm.dtype == np.uint16 and np.array_equal(mm, depth_to_mm(z))
    assert (mm == 0).sum() == (z == 0).sum() > 0
    meta = json.loads((tmp_path / "d" / "depth.json").read_text())
    assert meta["a"] == 4.0 and meta["frame_indices"] == [0, 1] and meta["invalid"] == 0
    # without --calib: the calibration the run recorded (the .dp header's), written to RUN/depth as npy
    code, _, err = cli("depth", run_dir, "--float-format", "npy")
    assert code == 0, err
    z2 = np.load(run_dir / "depth" / "000000.npy")
    assert np.allclose(z2[d + 1 > 0], 1.0 / (d[d + 1 > 0] + 1.0), rtol=1e-5)   # 1/z = (D + 1) / (500 * 0.002)


@pytest.mark.parametrize("make, match", [
    (lambda t, r: ["depth", t / "missing", "--calib", t / "c.json"], "does not exist"),
    (lambda t, r: ["depth", r, "--calib", t / "nope.json"], "nope.json does not exist"),
    (lambda t, r: (t / "bad.json").write_text("{oops") and ["depth", r, "--calib", t / "bad.json"], "not valid JSON"),
    (lambda t, r: (t / "k.json").write_text('{"a": 1}') and ["depth", r, "--calib", t / "k.json"], "'b'"),
    (lambda t, r: ["depth", t, "--calib", t / "c.json"], "manifest.json"),
    (lambda t, r: ["refocus", t / "missing", "--out", t / "x.png"], "does not exist"),
    (lambda t, r: ["refocus", r, "--out", t / "x.png", "--frame", 5], "frame 5 is not in"),
    (lambda t, r: ["refocus", r, "--out", t / "x.png", "--aperture", -1], "aperture radius"),
    (lambda t, r: ["refocus", r, "--out", t / "x.png", "--focus-at", "a,b"], "--focus-at"),
    (lambda t, r: ["preview", t / "missing", "--out", t / "p"], "does not exist"),
])
def test_cli_bad_input_exit_2_one_line(run_dir, tmp_path, make, match):
    code, _, err = cli(*make(tmp_path, run_dir))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and match in lines[0], err


def test_cli_refocus_run_dir(run_dir, tmp_path):
    out = tmp_path / "r" / "focus.png"
    code, stdout, err = cli("refocus", run_dir, "--frame", 1, "--slope", 1.5, "--aperture", 0.6, "--out", out)
    assert code == 0, err
    assert "frame 1" in stdout
    run = RunFolder(run_dir)
    expect = refocus(run.views(1), run.positions, 1.5, 0.6)
    assert np.array_equal(cv2.imread(str(out))[..., ::-1], expect)
    code, _, err = cli("refocus", run_dir, "--aperture", 0, "--focus-at", "30,3", "--out", out)
    assert code == 0 and np.array_equal(cv2.imread(str(out))[..., ::-1], run.views(0)[1, 1]), err


# -- end to end from a .dp (runs the bundled models on a tiny clip) ----------------------------------------
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.dp"
    h, w = 32, 48
    tex = (texture(h, w + 8, seed=3) * 255).astype(np.uint8)
    with DPWriter(path, width=w, height=h, fps=10.0, bit_depth=8, has_rgb=True,
                  calibration={"focal_length_px": 600.0, "baseline_mm": 1.0}) as wr:
        for i in range(2):
            rgb = tex[:, 4 + i:4 + i + w]
            gray = rgb.mean(-1).round().astype(np.uint8)
            wr.write(np.roll(gray, 1, 1), np.roll(gray, -1, 1), np.ascontiguousarray(rgb), timestamp=i / 10)
    return path


def test_dplf_run_mosaic_and_depth(clip, tmp_path):
    from engine.run import run

    out = tmp_path / "o"
    args = ["run", "--input", clip, "--out", out, "--views", 3, "--format", "mosaic", "--mosaic-max-size", 64]
    wired = "depth" in inspect.signature(run).parameters and "mosaic_max_size" in inspect.signature(run).parameters
    calib = tmp_path / "c.json"
    calib.write_text(json.dumps({"focal_length_px": 600.0, "baseline_mm": 1.0, "focus_distance_m": 1.0}))
    code, _, err = cli(*args, "--depth", calib)
    if not wired:   # engine/run.py without the depth/mosaic options: a one-line refusal, nothing else
        assert code == 2 and "not supported" in err and len(err.strip().splitlines()) == 1
        code, _, err = cli(*args[:-2])
    assert code == 0, err
    man = json.loads((out / "manifest.json").read_text())
    assert man["view_format"] == "mosaic" and man["frames"] == 2
    assert len(read_video(out / "views" / "mosaic.mp4")) == 2
    if wired:
        assert max(man["mosaic"]["size"]) <= 64
        assert man["depth"]["frames"] == 2 and (out / "depth" / "000001.png").is_file()
        z = read_pfm(out / "depth" / "000000.pfm")
        d = read_pfm(out / "disparity" / "000000.pfm")
        ok = z > 0
        assert np.allclose(1 / z[ok], d[ok] / 0.6 + 1.0, rtol=1e-4)
    code, _, err = cli("preview", out, "--out", tmp_path / "p")
    assert code == 0, err
    assert (tmp_path / "p" / "contact_000000.png").is_file()


def test_preview_and_refocus_from_dp(clip, tmp_path):
    code, _, err = cli("preview", clip, "--out", tmp_path / "p", "--views", 3, "--frame", 1)
    assert code == 0, err
    assert cv2.imread(str(tmp_path / "p" / "contact_000001.png")).shape == (3 * 32 + 4, 3 * 48 + 4, 3)
    assert (tmp_path / "p" / "run" / "manifest.json").is_file()
    code, out, err = cli("refocus", clip, "--out", tmp_path / "f.png", "--views", 3, "--slope", 0.5)
    assert code == 0, err
    assert "9 views" in out
    assert cv2.imread(str(tmp_path / "f.png")).shape == (32, 48, 3)


def test_dplf_run_bad_depth_calibration_fails_before_writing(clip, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"focal_length_px": 600}')
    code, _, err = cli("run", "--input", clip, "--out", tmp_path / "o", "--depth", bad)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "bad.json" in lines[0] and "baseline" in lines[0], err
    assert not (tmp_path / "o").exists()

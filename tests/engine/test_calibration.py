"""Depth calibration from a capture: the robust fit (engine/calibration.py) and `dplf calibrate`
(engine/calibrate.py), from a reference depth map or planes to the .dp header and back to metric depth."""
import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from engine.calibration import CalibrationFitError, fit_depth_map, fit_planes, fit_samples, plane_depth_map
from engine.cli import app
from engine.depth import depth_from_disparity, load_calibration
from engine.io.dpfile import DPReader
from engine.io.pfm import read_pfm
from engine.io.sources import open_source
from engine.pipeline import Pipeline
from tests.clips import write_clip

H, W = 40, 56


def noisy_scene(a, b, *, shape=(96, 128), noise=0.05, outliers=0.10, seed=1):
    """Depths 0.5-5 m, D = a / z + b + Gaussian noise, and a share of pixels replaced by junk D."""
    rng = np.random.default_rng(seed)
    z = np.exp(rng.uniform(np.log(0.5), np.log(5.0), shape))
    d = a / z + b + rng.normal(0, noise, shape)
    bad = rng.random(shape) < outliers
    d[bad] = rng.uniform(-8, 8, int(bad.sum()))
    return d.astype(np.float32), z.astype(np.float32), bad


@pytest.mark.parametrize("a, b", [(2.0, -0.5), (-1.5, 0.8)])   # negative a: a camera with the opposite parallax
def test_fit_recovers_the_model_through_noise_and_outliers(a, b):
    d, z, _ = noisy_scene(a, b)
    fit = fit_depth_map(d, z)
    assert fit.a == pytest.approx(a, rel=0.01) and fit.b == pytest.approx(b, abs=0.02)
    assert fit.n == d.size and 0.86 <= fit.inlier_fraction <= 0.92   # the junk (10 %, a few land on the line) is out
    assert 0.04 < fit.rms_px < 0.06 and fit.median_abs_px < 0.1
    assert fit.depth_range_m[0] == pytest.approx(0.5, rel=0.01) and fit.depth_range_m[1] == pytest.approx(5, rel=0.01)
    # plain least squares is pulled far off by the same junk: the robustness is what recovers it
    ls_a = np.polyfit(1 / z.ravel(), d.ravel(), 1)[0]
    assert abs(ls_a - a) > 0.05 * abs(a)


def test_gain_offset_give_the_same_depth_through_the_thin_lens_form():
    d, z, bad = noisy_scene(2.0, -0.5, noise=0.0)
    fit = fit_depth_map(d, z)
    cal = fit.header_calibration(focal_length_px=1460.0, baseline_mm=1.1)
    assert cal["disparity_gain"] == pytest.approx(1460 * 1.1e-3 / 2.0, rel=1e-6)
    assert cal["disparity_offset"] == pytest.approx(0.5 * cal["disparity_gain"], rel=1e-6)
    model = load_calibration(cal)
    assert model.kind == "thin-lens" and (model.a, model.b) == pytest.approx((2.0, -0.5), rel=1e-6)
    for calib in (cal, fit.calibration_json(comment="test")):
        back = depth_from_disparity(d, calib)
        assert np.allclose(back[~bad], z[~bad], rtol=1e-4)


def test_fit_rescales_disparity_to_the_calibration_width():
    d, z, _ = noisy_scene(2.0, -0.5, noise=0.0, outliers=0.0)   # D at 128 px wide; the camera is 512 wide
    fit = fit_depth_map(d, z, image_width=512)
    assert (fit.a, fit.b) == pytest.approx((8.0, -2.0), rel=1e-6) and fit.image_width == 512
    assert np.allclose(fit.depth_model().depth(d), z, rtol=1e-4)


def test_fit_planes_box_on_a_wall_with_boxes_at_the_source_size():
    a, b = 3.0, -1.0
    wall = {"distance_m": 2.0, "box": [0, 0, 2 * W, 2 * H]}          # boxes in source pixels (2x the map)
    box = {"distance_m": 0.6, "box": [20, 16, 60, 56]}               # drawn over the wall
    mask = np.zeros((2 * H, 2 * W), np.uint8)
    mask[60:70, 80:100] = 255
    far = {"distance_m": 1.0, "mask": mask}                          # a mask at the source size
    depth = plane_depth_map([wall, box, far], H, W, scale=0.5)
    assert depth[10, 20] == np.float32(0.6) and depth[2, 2] == 2.0 and depth[32, 45] == 1.0
    assert np.count_nonzero(depth == np.float32(0.6)) == 20 * 20 and np.count_nonzero(depth == 1) == 5 * 10
    rng = np.random.default_rng(3)
    d = (a / depth + b + rng.normal(0, 0.03, depth.shape)).astype(np.float32)
    d[:3] = 9.0                                                      # a band of junk
    fit = fit_planes(d, [wall, box, far], image_width=W, box_scale=0.5)
    assert fit.a == pytest.approx(a, rel=0.03) and fit.b == pytest.approx(b, abs=0.05)
    assert fit.n == H * W and fit.inliers <= H * W - 3 * W


def test_a_small_near_target_on_a_wall_through_heavy_junk():
    z = np.full((120, 160), 3.0)
    z[50:70, 70:95] = 0.6                                            # 2.6 % of the frame
    rng = np.random.default_rng(7)
    d = 2.4 / z - 0.8 + rng.normal(0, 0.1, z.shape)
    junk = rng.random(z.shape) < 0.15
    d[junk] = rng.uniform(-5, 5, int(junk.sum()))
    fit = fit_depth_map(d, z)
    assert fit.a == pytest.approx(2.4, rel=0.02) and fit.b == pytest.approx(-0.8, abs=0.02)


@pytest.mark.parametrize("make, match", [
    (lambda d: fit_depth_map(d, np.full(d.shape, 1.5)), "one depth only"),
    (lambda d: fit_depth_map(d, 1.5 + 0.01 * np.random.default_rng(0).random(d.shape)), "one depth only"),
    (lambda d: fit_depth_map(d, np.zeros(d.shape)), "only 0 pixels"),
    (lambda d: fit_depth_map(d, np.full((3, 3), 1.0)), "same size"),
    (lambda d: fit_planes(d, [{"distance_m": 1, "box": [0, 0, 20, 20]}, {"distance_m": 1.0, "box": [30, 0, 50, 20]}]),
     "one depth only"),
    (lambda d: fit_planes(d, [{"distance_m": 1, "box": [100, 100, 120, 120]}]), "holds no pixel"),
    (lambda d: fit_planes(d, [{"distance_m": -1, "box": [0, 0, 5, 5]}]), "distance_m"),
    (lambda d: fit_planes(d, [{"distance_m": 1}]), "exactly one of box"),
    (lambda d: fit_planes(d, [{"distance_m": 1, "mask": np.ones((10, 40))}]), "proportions"),
    (lambda d: fit_samples([1.0, 2.0, 3.0], [1.0, 0.5, 0.25]), "only 3 pixels"),
])
def test_degenerate_input_refused_in_one_line(make, match):
    d = np.random.default_rng(0).normal(0, 1, (H, W)).astype(np.float32)
    with pytest.raises(CalibrationFitError) as exc:
        make(d)
    assert match in str(exc.value) and "\n" not in str(exc.value), exc.value


# -- dplf calibrate ----------------------------------------------------------------------------------------------
FOCAL_PX, TRUE_A = 500.0, 3.0


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A 2-frame .dp (focal length in its header, no baseline) and the pipeline's D of frame 1."""
    path = write_clip(tmp_path_factory.mktemp("cap") / "capture.dp", 11, 2, H, W, max_disparity=4.0, t0=0.0123,
                      camera="test", calibration={"focal_length_px": FOCAL_PX}, tags={"source": "synthetic"})
    with open_source(path) as src:
        f = src[1]
    d = Pipeline(backend="ort-cpu", views=0)(f.left, f.right, f.rgb).disparity.copy()
    assert d.max() - d.min() > 1.0   # the scene has depth for the fit to see
    return path, d


def reference_depth(d):
    """The true depth of the capture: D = TRUE_A / z + b, every pixel in front of infinity."""
    b = float(d.min()) - 1.0
    return (TRUE_A / (d.astype(np.float64) - b)).astype(np.float32), b


def cli(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def test_cli_writes_the_header_keeps_every_frame_and_gives_back_the_depth(capture, tmp_path):
    from engine.run import run

    src, d = capture
    path = tmp_path / "capture.dp"
    path.write_bytes(src.read_bytes())
    z, b = reference_depth(d)
    np.save(tmp_path / "z.npy", z)
    with DPReader(path) as r:
        before = [(f.left.copy(), f.right.copy(), f.rgb.copy(), f.timestamp) for f in r]
    code, out, err = cli("calibrate", path, "--reference", tmp_path / "z.npy", "--frame", 1, "--baseline-mm", 2,
                         "--write", "--out", tmp_path / "calib.json")
    assert code == 0, err
    assert "fit: D = 3 / z" in out and "frames kept" in out and "RMS" in out
    with DPReader(path) as r:
        h = r.header
        cal, frames = h.calibration, list(r)
        assert not r.recovered and len(r) == 2
    gain = FOCAL_PX * 2e-3 / TRUE_A
    assert cal["focal_length_px"] == FOCAL_PX and cal["baseline_mm"] == 2.0
    assert cal["disparity_gain"] == pytest.approx(gain, rel=1e-5)
    assert cal["disparity_offset"] == pytest.approx(-b * gain, rel=1e-5, abs=1e-6)
    assert (h.camera, h.fps, h.bit_depth, h.has_rgb, h.tags["source"]) == ("test", 10.0, 8, True, "synthetic")
    fit_tags = h.tags["calibration_fit"]
    assert fit_tags["frame"] == 1 and fit_tags["reference"] == "z.npy" and fit_tags["model"] == "dp-disparity-v1"
    for (left, right, rgb, ts), f in zip(before, frames):   # every plane bit-identical, timestamps kept
        assert np.array_equal(left, f.left) and np.array_equal(right, f.right) and np.array_equal(rgb, f.rgb)
        assert ts == f.timestamp
    # the header's calibration and the JSON both give the reference depth back from the pipeline's D
    assert np.allclose(depth_from_disparity(d, {"calibration": cal}), z, rtol=1e-4)
    assert np.allclose(depth_from_disparity(d, tmp_path / "calib.json"), z, rtol=1e-4)
    # and so does a run of the file followed by `dplf depth` (the calibration the run recorded from the header)
    run(input=path, out=tmp_path / "run", views=0, backend="ort-cpu", start=1, frames=1, progress=False)
    code, out, err = cli("depth", tmp_path / "run")
    assert code == 0, err
    assert np.allclose(read_pfm(tmp_path / "run" / "depth" / "000001.pfm"), z, rtol=1e-4)


def test_cli_png_millimetres_and_planes_references(capture, tmp_path):
    path, d = capture
    z, b = reference_depth(d)
    mm = np.clip(np.rint(z * 1000), 1, 65535).astype(np.uint16)
    mm[:4] = 0                                                     # unknown rows
    big = cv2.resize(mm, (2 * W, 2 * H), interpolation=cv2.INTER_NEAREST)   # at twice the frame's size
    assert cv2.imwrite(str(tmp_path / "z.png"), big)
    code, out, err = cli("calibrate", path, "-r", tmp_path / "z.png", "--frame", 1, "--out", tmp_path / "c.json")
    assert code == 0, err
    cal = json.loads((tmp_path / "c.json").read_text())
    assert cal["a"] == pytest.approx(TRUE_A, rel=0.01) and cal["b"] == pytest.approx(b, abs=0.02)
    assert cal["image_width"] == W and "need the focal length" in out   # the header has no baseline
    # planes: masks (PNG files) of the nearest and the farthest third of the frame, each at its median depth (a
    # coarse target: the fit runs, says per plane what it found, and lands near the truth)
    near, far = z <= np.quantile(z, 1 / 3), z >= np.quantile(z, 2 / 3)
    for name, sel in (("near.png", near), ("far.png", far)):
        assert cv2.imwrite(str(tmp_path / name), sel.astype(np.uint8) * 255)
    (tmp_path / "planes.json").write_text(json.dumps({"planes": [
        {"distance_m": float(np.median(z[near])), "mask": "near.png"},
        {"distance_m": float(np.median(z[far])), "mask": "far.png"}]}))
    code, out, err = cli("calibrate", path, "-r", tmp_path / "planes.json", "--frame", 1, "--out", tmp_path / "p.json")
    assert code == 0, err
    assert "plane 0:" in out and "plane 1:" in out and "residuals:" in out
    a_planes = json.loads((tmp_path / "p.json").read_text())["a"]
    assert 0.5 * TRUE_A < a_planes < 2 * TRUE_A


@pytest.mark.parametrize("args, match", [
    (lambda t, p: [p, "-r", t / "z.npy", "--write"], "has no baseline_mm"),
    (lambda t, p: [t / "z.npy", "-r", t / "z.npy", "--write", "--baseline-mm", 1], "not a .dp file"),
    (lambda t, p: [p, "-r", t / "missing.npy"], "does not exist"),
    (lambda t, p: [p, "-r", t / "z.txt"], "unknown kind .txt"),
    (lambda t, p: [p, "-r", t / "z.npy", "--frame", 7], "--frame 7 is not in"),
    (lambda t, p: [p, "-r", t / "flat.npy", "--write", "--baseline-mm", 1], "one depth only"),
    (lambda t, p: [p, "-r", t / "z.npy", "--out", t / "nowhere" / "c.json"], "does not exist"),
])
def test_cli_errors_are_one_line_exit_2_and_leave_the_file_alone(capture, tmp_path, args, match):
    src, d = capture
    path = tmp_path / "capture.dp"
    path.write_bytes(src.read_bytes())
    np.save(tmp_path / "z.npy", reference_depth(d)[0])
    np.save(tmp_path / "flat.npy", np.full((H, W), 1.5, np.float32))
    (tmp_path / "z.txt").write_text("1.5")
    code, _, err = cli("calibrate", *args(tmp_path, path))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("dplf calibrate: error: ") and match in lines[0], err
    assert path.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["capture.dp", "flat.npy", "z.npy", "z.txt"]

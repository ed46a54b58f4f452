"""Real 3-view DP captures in the dpMV layout (models/dpmv.py) and `dplf train dp --dpmv`.

There is no dpMV data on this machine, so the captures here are fake but physical: the synthetic engine's
3-view pinhole rig (u = -s, 0, +s) is written as rectified/A, B, C and its thin-lens DP pair as dp_data/B,
8-bit files, so the GT D of every pixel is known. With s = 2 the teacher's rectified-pixel disparity is
t = x_A - x_B = s * D, i.e. calibration gain 1/s, offset 0.
"""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from models import dpmv, dpmv_labels
from models.synthetic import SceneConfig, render_sample
from models.training.config import TrainConfig
from models.training.loop import train
from models.training.samples import flip_sample

torch.set_num_threads(1)

S = 2.0                                   # rig baseline in aperture units: t = S * D
H, W = 128, 160
CFG = SceneConfig(texture_families=("value_noise", "pink_noise"), max_disparity=10.0, noise=0.005,
                  disparity_scale=(1.0, 1.0))


def _u8(x):
    return np.clip(np.rint(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)


def make_capture(root, seeds=(0,), calibration=None, upscale=1, rect_ext=("jpg", "png", "jpg"), dp_sub="B"):
    """Write a dpMV capture root from synthetic scenes (one frame per seed); returns the GT D per frame."""
    gts = []
    dp_dir = root / "dp_data" / dp_sub if dp_sub else root / "dp_data"
    dp_dir.mkdir(parents=True, exist_ok=True)
    for f, seed in enumerate(seeds):
        smp = render_sample(seed, H, W, cfg=CFG, stereo_baseline=S)
        for view, img, ext in zip("ABC", smp.stereo, rect_ext):
            (root / "rectified" / view).mkdir(parents=True, exist_ok=True)
            bgr = _u8(img)[..., ::-1]
            if upscale != 1:
                bgr = cv2.resize(bgr, (W * upscale, H * upscale), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(root / "rectified" / view / f"image_{f:03d}.{ext}"), bgr,
                        [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == "jpg" else [])
        cv2.imwrite(str(dp_dir / f"image_{f:03d}_left.png"), _u8(smp.left))
        cv2.imwrite(str(dp_dir / f"image_{f:03d}_right.png"), _u8(smp.right))
        cv2.imwrite(str(dp_dir / f"image_{f:03d}.jpg"), _u8(smp.rgb)[..., ::-1])
        gts.append(smp.disparity)
    if calibration is not None:
        (root / "calibration.json").write_text(json.dumps(calibration))
    return gts


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    root = tmp_path_factory.mktemp("dpmv") / "rig_scene"
    gts = make_capture(root, seeds=(0, 1), calibration={"gain": 1.0 / S, "offset": 0.0})
    dpmv.clear_cache()
    return root, gts


def _label_error(sample, gt):
    valid = sample["valid"][0] > 0
    err = np.abs(sample["disparity"][0] - gt)[valid]
    return valid.mean(), np.median(err), np.percentile(err, 90)


def test_find_captures_layout_and_folder_of_roots(capture, tmp_path):
    root, _ = capture
    caps = dpmv.find_captures(root)
    assert [c.stem for c in caps] == ["image_000", "image_001"]
    c = caps[0]
    assert [p.parent.name for p in c.views] == ["A", "B", "C"]
    assert [p.suffix for p in c.views] == [".jpg", ".png", ".jpg"]       # any of .jpg/.png per phone
    assert c.left.name == "image_000_left.png" and c.rgb.name == "image_000.jpg"
    assert c.calibration == {"gain": 0.5, "offset": 0.0} and c.levels == (0, 255)
    # a folder of roots, and DP pairs directly in dp_data/
    other = tmp_path / "other"
    make_capture(other, seeds=(3,), dp_sub="")
    shutil.copytree(root, tmp_path / "first")
    found = dpmv.find_captures(tmp_path)
    assert [c.name for c in found] == ["first/image_000", "first/image_001", "other/image_000"]
    assert found[2].calibration == {}


def test_teacher_label_with_calibration_matches_gt(capture):
    """calibration.json from the known rig (gain 1/s): on the trusted pixels the label is within 0.25 px
    of GT D for the median pixel and within 1 px for 90 % of them (measured: median 0.04-0.09 px, 90th
    percentile 0.2-0.5 px, 87-95 % of the pixels trusted)."""
    root, gts = capture
    for c, gt in zip(dpmv.find_captures(root), gts):
        s = dpmv.load_capture(c)
        assert s["dp"].shape == (2, H, W) and s["rgb"].shape == (3, H, W)
        for k in ("dp", "rgb", "disparity", "valid", "gt_disparity"):
            assert s[k].dtype == np.float32 and s[k].shape[1:] == (H, W)
        assert "views" not in s and "positions" not in s
        np.testing.assert_array_equal(s["gt_disparity"], s["disparity"])   # no GT on real data: the label
        assert s["meta"]["calibration"] == "file" and s["meta"]["gain"] == 0.5
        frac, med, p90 = _label_error(s, gt)
        print(f"\n{c.name}: calibrated label vs GT: trusted {frac:.0%}, median {med:.3f} px, p90 {p90:.3f} px")
        assert frac > 0.8 and med < 0.25 and p90 < 1.0


def test_rectified_at_another_resolution(tmp_path):
    """Rectified images at 2x the DP resolution: the scale is inferred from the widths (or given), t doubles,
    gain 1/(2s). Same tolerance as above (measured: median 0.00 px, p90 ~0.1 px: the teacher works at 2x)."""
    root = tmp_path / "hires"
    gts = make_capture(root, seeds=(1,), upscale=2,
                       calibration={"gain": 1.0 / (2 * S), "offset": 0.0, "teacher_range": [-48, 48]})
    dpmv.clear_cache()
    s = dpmv.load_capture(dpmv.find_captures(root)[0])
    assert s["dp"].shape == (2, H, W) and "inferred" in s["meta"]["rectified_to_dp"]
    frac, med, p90 = _label_error(s, gts[0])
    assert frac > 0.8 and med < 0.25 and p90 < 1.0


def test_self_calibration_without_calibration_json(tmp_path):
    """No calibration.json: (gain, offset) fitted per frame against the fixed defocus matching. Tolerance:
    gain within 10 % of 1/s, |offset| < 0.5 px, label median error < 0.3 px and p90 < 1 px (measured on
    these frames: gain 0.484 and 0.495 (true 0.5), offsets 0.12 and -0.15, median 0.09-0.16 px)."""
    root = tmp_path / "nocal"
    gts = make_capture(root, seeds=(0, 1))
    dpmv.clear_cache()
    for c, gt in zip(dpmv.find_captures(root), gts):
        s = dpmv.load_capture(c)
        m = s["meta"]
        assert m["calibration"] == "self" and m["inlier_fraction"] > 0.5
        frac, med, p90 = _label_error(s, gt)
        print(f"\n{c.name}: self-calibrated gain {m['gain']:.3f} offset {m['offset']:.3f}: median {med:.3f} px, "
              f"p90 {p90:.3f} px")
        assert abs(m["gain"] * S - 1.0) < 0.1 and abs(m["offset"]) < 0.5
        assert med < 0.3 and p90 < 1.0


def test_self_calibration_refuses_a_frame_without_depth_range():
    t = np.full((64, 64), 3.0, np.float32)
    dp = np.random.default_rng(0).random((2, 64, 64)).astype(np.float32)
    with pytest.raises(ValueError, match="cannot self-calibrate.*calibration.json"):
        dpmv_labels.self_calibrate(dp, t, np.ones_like(t, bool), "flat")


def test_crops_and_flips_are_exact(capture):
    root, _ = capture
    c = dpmv.find_captures(root)[0]
    full = dpmv.load_capture(c)
    s = dpmv.load_capture(c, 64, np.random.default_rng(5))
    y0, x0, _, _ = s["meta"]["crop"]
    fh, fv = s["meta"]["flips"]
    crop = {k: v[:, y0:y0 + 64, x0:x0 + 64] for k, v in full.items() if isinstance(v, np.ndarray)}
    ref = flip_sample(crop, bool(fh), bool(fv))
    for k in ref:
        np.testing.assert_array_equal(s[k], ref[k])
    assert s["dp"].shape == (2, 64, 64) and s["valid"].mean() >= 0.2
    with pytest.raises(ValueError, match="larger than the DP frame"):
        dpmv.load_capture(c, 256, np.random.default_rng(0))


@pytest.mark.parametrize("breakage, message", [
    (lambda r: shutil.rmtree(r / "rectified" / "C"), r"rectified/C: missing folder.*C = right"),
    (lambda r: shutil.rmtree(r / "rectified"), r"rectified: missing folder"),
    (lambda r: shutil.rmtree(r / "dp_data"), r"dp_data: missing folder.*dp_data/B/image_NNN_left"),
    (lambda r: [p.unlink() for p in (r / "dp_data" / "B").glob("*_right.png")], r"DP pair is incomplete"),
    (lambda r: [p.unlink() for p in (r / "dp_data" / "B").iterdir()], r"dp_data/B: no DP pairs"),
    (lambda r: [p.rename(p.with_name("frame" + p.name[5:])) for p in (r / "rectified" / "A").iterdir()],
     r"no frame has all of rectified/A, B, C.*image_000 \(no rectified/A\)"),
    (lambda r: (r / "calibration.json").write_text('{"gain": 0.5}'), r"calibration.json: give both"),
    (lambda r: (r / "calibration.json").write_text('{"gain": 0, "offset": 0}'), r"'gain' must be a non-zero"),
    (lambda r: (r / "calibration.json").write_text('{"gian": 1}'), r"unknown key"),
])
def test_layout_errors_are_one_clear_line(capture, tmp_path, breakage, message):
    root = tmp_path / "broken"
    shutil.copytree(capture[0], root)
    breakage(root)
    with pytest.raises(ValueError, match=message) as info:
        dpmv.find_captures(root)
    assert "\n" not in str(info.value)


def test_not_a_root_and_missing_path(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a dpMV capture root"):
        dpmv.find_captures(tmp_path / "empty")
    with pytest.raises(ValueError, match="no such folder"):
        dpmv.find_captures(tmp_path / "nowhere")


def test_train_dp_with_real_captures(capture, tmp_path):
    root, _ = capture
    logs = []
    res = train(TrainConfig(task="dp", steps=3, dpmv=str(root), export=False, out=str(tmp_path), size=64,
                            batch=2, buffer=4, refresh=1, val_every=2, log_every=1), log=logs.append)
    assert (tmp_path / "dp-disparity-v1.pt").exists()
    assert res["dpmv"]["frames"] == 2 and res["dpmv"]["frames_used"] >= 1 and res["dpmv"]["calibration"] == "file"
    assert np.isfinite(res["final"]["real_teacher_l1_px"])
    card = (tmp_path / "dp-disparity-v1.md").read_text()
    assert "Real data (dpMV layout)" in card and f"--dpmv {root} --dpmv-ratio 0.5" in card
    # the LF student cannot use real captures (no GT views): it says so and trains on synthetic data only
    from models.training.loop import _real_data

    msgs = []
    assert _real_data(TrainConfig(task="lf", dpmv=str(root)).resolved(), msgs.append) == (None, None)
    assert "ignored" in msgs[0] and "GT views" in msgs[0]


def test_mixed_batch_and_render_loss(capture):
    from models.architectures import build
    from models.training.losses import dp_mixed_loss
    from models.training.samples import SampleBuffer

    root, _ = capture
    cfg = TrainConfig(task="dp", dpmv=str(root), dpmv_ratio=0.5, size=32, buffer=4, dp_loss="render").resolved()
    buf = SampleBuffer(cfg, dpmv.DpmvStream(root, 32, seed=0, log=lambda s: None))
    buf.refresh(4)
    b = buf.batch(4)
    n_real = int(b["real"].sum())
    assert b["dp"].shape == (4, 2, 32, 32) and b["views"].shape[0] == 4 - n_real
    loss = dp_mixed_loss(build("dp-disparity-v1"), b, "render")
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="dpmv_ratio"):
        TrainConfig(dpmv_ratio=1.5).resolved()


def test_cli_train_dp_dpmv(capture, tmp_path):
    exe = [sys.executable, "-c", "from engine.cli import main; main()", "train", "dp"]
    env = {**os.environ, "CI": "1", "OMP_NUM_THREADS": "1"}
    bad = subprocess.run([*exe, "--dpmv", str(tmp_path / "nowhere"), "--steps", "1", "--no-export"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "no such folder" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    ok = subprocess.run([*exe, "--dpmv", str(capture[0]), "--dpmv-ratio", "0.5", "--steps", "2", "--size", "32",
                         "--batch", "2", "--no-export", "--out", str(tmp_path / "w")],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(ok.stdout.strip().splitlines()[-1])["dpmv"]["frames"] == 2
    assert (tmp_path / "w" / "dp-disparity-v1.pt").exists()

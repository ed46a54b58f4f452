"""Stereo teacher: exact on textured planes (sign and scale of D), close to GT on random textured scenes."""
import numpy as np
import pytest

from models.synthetic import SceneConfig, render_stereo, scene_from_layers
from models.synthetic.textures import pink_noise
from models.teacher import sgbm_teacher

TEXTURED = SceneConfig(texture_families=("value_noise", "pink_noise"))


@pytest.mark.parametrize("baseline", [1.0, 2.0])
@pytest.mark.parametrize("disparity", [5.0, -3.0, 2.4])
def test_plane_sign_and_scale(disparity, baseline):
    h = w = 96
    m = 45
    f = pink_noise((h + 2 * m, w + 2 * m), np.random.default_rng(1), 1.2)
    tex = np.stack([f, f, f], -1)
    views3, gt = render_stereo(scene_from_layers(h, w, [(tex, None, disparity)]), baseline_u=baseline)
    d, valid = sgbm_teacher(views3, baseline, return_valid=True)
    assert valid.mean() > 0.9
    assert abs(np.median(d) - disparity) < 0.15
    assert np.abs(d - gt)[8:-8, 8:-8].mean() < 0.25
    # cameras given in the wrong order (u = +s, 0, -s) measure -D: the sign is not symmetric by accident
    assert abs(np.median(sgbm_teacher(views3[::-1], baseline)) + disparity) < 0.15


def test_close_to_gt_on_random_scenes():
    maes, within1, slopes = [], [], []
    for seed in range(6):
        views3, gt = render_stereo(seed, 128, 128, cfg=TEXTURED, baseline_u=1.0)
        d, valid = sgbm_teacher(views3, 1.0, return_valid=True)
        err = np.abs(d - gt)
        maes.append(err.mean())
        within1.append((err < 1.0).mean())
        fit = np.polyfit(gt[valid], d[valid], 1)
        slopes.append(fit[0])
    print(f"\nteacher vs GT (6 textured 128x128 scenes, s=1): MAE {np.mean(maes):.2f} px "
          f"(median {np.median(maes):.2f}), within 1 px {np.mean(within1):.1%}, slope {np.median(slopes):.2f}")
    assert np.median(maes) < 1.2 and np.mean(maes) < 1.5
    assert np.mean(within1) > 0.75
    assert 0.8 < np.median(slopes) < 1.1


def test_bad_input():
    with pytest.raises(ValueError, match="views3"):
        sgbm_teacher(np.zeros((2, 32, 32, 3), np.float32), 1.0)
    with pytest.raises(ValueError, match="baseline_u"):
        sgbm_teacher(np.zeros((3, 32, 32, 3), np.float32), 0.0)
    with pytest.raises(ValueError, match="NaN"):
        sgbm_teacher(np.full((3, 32, 32, 3), np.nan, np.float32), 1.0)

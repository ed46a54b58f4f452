"""Issue #2's acceptance on real data: `dplf convert` + `dplf-run` on HCI antinous beats copying the
full-aperture image to every view, at the light field's own view positions (SPEC §2)."""
import subprocess
import sys

import numpy as np

from engine.io.lightfield import load_light_field


def _cli(*args):
    code = "import sys; from engine.cli import main; sys.argv = ['dplf', *sys.argv[1:]]; main()"
    res = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res


def _psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(np.float64) - b) ** 2))


def test_antinous_full_aperture_beats_copy(data_dir, tmp_path):
    scene = data_dir / "hci" / "antinous"
    _cli("convert", scene, tmp_path / "a.dp")
    _cli("run", "--input", tmp_path / "a.dp", "--out", tmp_path / "o", "--views", 9, "--baseline", 0.9,
         "--format", "npy")
    gt = load_light_field(scene).views.astype(np.float64)
    views = np.load(tmp_path / "o" / "views" / "000000.npy")
    copy = np.round(gt.mean((0, 1)))
    ours = np.mean([_psnr(views[r, c], gt[r, c]) for r in range(9) for c in range(9)])
    baseline = np.mean([_psnr(copy, gt[r, c]) for r in range(9) for c in range(9)])
    assert ours >= baseline + 1.0, (ours, baseline)   # measured: about 31.3 vs 29.3 dB

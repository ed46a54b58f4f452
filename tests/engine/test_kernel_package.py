"""engine.kernel_package: the runtime uses the kernels beside it even when the current folder holds packages
named `kernels` or `models`."""
import os
import subprocess
import sys

from tests.paths import ROOT

SCRIPT = """
import numpy as np
from engine import Pipeline
import engine.kernel_package as kp
out = Pipeline(backend="ort-cpu", views=2)(np.full((24, 40), 0.4, np.float32), np.full((24, 40), 0.5, np.float32))
assert out.disparity.shape == (24, 40) and out.views.shape == (2, 2, 24, 40, 3)
assert np.isfinite(out.disparity).all()
print("kernels from", kp.package().__name__, kp.package().__file__)
"""


def test_shadowing_models_and_kernels_packages_do_not_break_the_pipeline(tmp_path):
    for name in ("models", "kernels"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('user package {name} imported')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "kernels from _dplf_kernels" in res.stdout and str(ROOT / "kernels") in res.stdout


def test_normal_import_is_used_when_not_shadowed():
    import kernels

    import engine.kernel_package as kp

    assert kp.package() is kernels
    assert kp.load("levels") is sys.modules["kernels.levels"]

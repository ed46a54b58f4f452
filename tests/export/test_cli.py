"""`dplf export` (export/cli.py): exports every registered weight (ONNX, TorchScript, index.json); --help works
without torch."""
import json
import subprocess
import sys

import torch

from export.cli import export_command
from tests.models.test_onnx import _perturbed

torch.set_num_threads(1)


def test_export_command_exports_every_registered_weight(tmp_path, capsys):
    torch.save(_perturbed("lf-layers-v1").state_dict(), tmp_path / "lf-layers-v1.pt")
    torch.save({}, tmp_path / "unrelated.pt")  # not a registered name: ignored
    export_command(weights=str(tmp_path), fp16=False)
    assert (tmp_path / "lf-layers-v1.onnx").exists() and not (tmp_path / "unrelated.onnx").exists()
    assert '"max_abs_err"' in capsys.readouterr().out
    assert (tmp_path / "lf-layers-v1.ts").exists() and not (tmp_path / "unrelated.ts").exists()
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["models"]["lf-layers-v1"]["files"]["torchscript"] == "lf-layers-v1.ts"


def test_help_works_without_torch():
    code = ("import sys; sys.modules['torch'] = None; sys.argv = ['dplf export', '--help']; import typer; "
            "from export.cli import export_command; typer.run(export_command)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-1500:]
    assert "--no-torchscript" in out.stdout and "--trt-profile" in out.stdout and "SPEC" not in out.stdout


def test_missing_folder_is_exit_2(tmp_path, capsys):
    import pytest
    import typer

    with pytest.raises(typer.Exit) as exc:
        export_command(weights=str(tmp_path / "nowhere"))
    assert exc.value.exit_code == 2 and "does not exist" in capsys.readouterr().err

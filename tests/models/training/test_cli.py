"""`dplf train` (models/training/cli.py): importable and --help works without torch; bad options exit 2."""
import subprocess
import sys

NO_TORCH = "import sys; sys.modules['torch'] = None; "


def test_help_works_without_torch():
    code = NO_TORCH + "import sys; sys.argv = ['dplf train', '--help']; import typer; " \
                      "from models.training.cli import train_command; typer.run(train_command)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-1500:]
    assert "--dpmv-ratio" in out.stdout and "--lf-temporal" in out.stdout and "SPEC" not in out.stdout


def test_bad_task_is_one_line_exit_2():
    code = "import sys; sys.argv = ['dplf train', 'xyz', '--steps', '1']; import typer; " \
           "from models.training.cli import train_command; typer.run(train_command)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.strip() == "dplf train: task must be one of ['dp', 'lf'], got 'xyz'"

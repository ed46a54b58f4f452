"""Paths the tests share: the repository root, the bundled sample and the real data folder."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "samples" / "demo.dp"
WEIGHTS = ROOT / "models" / "weights"
DATA = Path(os.environ.get("DPLF_DATA", ROOT.parent / "shared" / "data"))

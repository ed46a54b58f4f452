"""Students (models/architectures/), their registry, training (models/training/) and shipped weights.
torch-free at import time: the runtime only locates the bundled weights here."""
from pathlib import Path

#: the bundled weights, model cards and index.json
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

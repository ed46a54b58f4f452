"""models/weights/index.json (export/weights_index.py): the committed file is what the registry produces."""
import json

from export.weights_index import build_index, index_text, write_index
from models import WEIGHTS_DIR


def test_committed_index_equals_the_registry():
    committed = (WEIGHTS_DIR / "index.json").read_text()
    assert json.loads(committed) == build_index()
    assert committed == index_text(build_index())      # byte for byte: `dplf export` writes exactly this


def test_index_lists_shipped_files_that_exist():
    index = build_index()
    assert index["format"] == "dplf-weights/1" and index["defaults"] == {"dp": "dp-disparity-v1", "lf": "lf-layers-v1"}
    assert "dp-learned-cv-v0" not in index["models"]
    for entry in index["models"].values():
        for f in entry["files"].values():
            assert (WEIGHTS_DIR / f).is_file(), f


def test_write_index(tmp_path):
    path = write_index(tmp_path)
    assert json.loads(path.read_text()) == build_index()

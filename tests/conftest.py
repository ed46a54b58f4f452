from pathlib import Path

import pytest

from tests.paths import DATA


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA}")
    return DATA


def pytest_collection_modifyitems(items):
    """Every test that reads ../shared/data (through `data_dir`) carries the `data` marker, so
    `pytest -m "not data"` selects exactly the tests a machine without the real data can run."""
    for item in items:
        if "data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)

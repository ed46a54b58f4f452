"""The browser light-field viewer: `dplf view`, `dplf-run --viewer` (docs/viewer.md)."""
from .build import VIEWER_FILE, write_viewer

__all__ = ["VIEWER_FILE", "write_viewer"]

"""The `kernels` package that ships beside `engine`, found by path.

A script run from a folder that holds its own `kernels/` (or a `kernels` module earlier on sys.path) would
otherwise hand the runtime the wrong package. `load("preprocess")` returns our `kernels.preprocess`:
through the normal import when the name `kernels` resolves to the sibling folder, else under the alias
`_dplf_kernels` (loaded with `spec_from_file_location`; the kernels modules import each other relatively,
so the alias holds together).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HOME = Path(__file__).resolve().parent.parent / "kernels"
ALIAS = "_dplf_kernels"


def _is_ours(location: str | None) -> bool:
    return location is not None and Path(location).resolve().parent == HOME


def package() -> ModuleType:
    """The kernels package beside engine (imported once)."""
    loaded = sys.modules.get("kernels")
    if loaded is not None and _is_ours(getattr(loaded, "__file__", None)):
        return loaded
    if loaded is None:
        try:
            spec = importlib.util.find_spec("kernels")
        except (ImportError, ValueError):
            spec = None
        if spec is not None and _is_ours(spec.origin):
            return importlib.import_module("kernels")
    alias = sys.modules.get(ALIAS)
    if alias is None:
        spec = importlib.util.spec_from_file_location(ALIAS, HOME / "__init__.py",
                                                      submodule_search_locations=[str(HOME)])
        alias = importlib.util.module_from_spec(spec)
        sys.modules[ALIAS] = alias
        try:
            spec.loader.exec_module(alias)
        except BaseException:
            del sys.modules[ALIAS]
            raise
    return alias


def load(name: str) -> ModuleType:
    """`kernels.<name>` from the sibling package, e.g. load("levels")."""
    return importlib.import_module(f"{package().__name__}.{name}")

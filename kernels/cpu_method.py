"""Which CPU implementation a kernel runs: the compiled numba kernel or the numpy/OpenCV path (same results)."""
from __future__ import annotations

import os

METHODS = ("numba", "numpy")


def default_method(env_var: str, compiled_available: bool) -> str:
    """$env_var when set ("numba" | "numpy"), else "numba" when its module imports, else "numpy"."""
    method = os.environ.get(env_var, "").strip().lower()
    if method:
        if method not in METHODS:
            raise ValueError(f"{env_var} must be one of {', '.join(METHODS)}, got {method!r}")
        return method
    return "numba" if compiled_available else "numpy"


def check_method(kernel: str, method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"{kernel}: method must be one of {', '.join(METHODS)}, got {method!r}")

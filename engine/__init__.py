"""dplf runtime: dual-pixel video -> disparity + light-field views. Never imports torch."""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Pipeline", "PipelineOutput", "__version__"]


def __getattr__(name):  # lazy, so `import engine.io...` stays light
    if name in ("Pipeline", "PipelineOutput"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)

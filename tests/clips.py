"""Small synthetic DP clips written as .dp files, for the tests that need an input to run."""
from pathlib import Path

import numpy as np

from engine.io.dpfile import DPWriter
from models.synthetic import SceneConfig, render_clip


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)


def write_clip(path: Path, seed: int, frames: int, height: int, width: int, max_disparity: float = 3.0,
               fps: float = 10.0, t0: float = 0.0, camera: str = "synthetic", **writer_args) -> Path:
    """render_clip(seed, frames, height, width) as an 8-bit .dp with RGB at `path` (timestamps t0 + i / fps);
    writer_args go to DPWriter (calibration, tags)."""
    clip = render_clip(seed, frames, height, width, cfg=SceneConfig(max_disparity=max_disparity))
    with DPWriter(path, width=width, height=height, fps=fps, bit_depth=8, has_rgb=True, camera=camera,
                  **writer_args) as wr:
        for i, s in enumerate(clip):
            wr.write(to_u8(s.left), to_u8(s.right), to_u8(s.rgb), timestamp=t0 + i / fps)
    return path

"""Make samples/demo.dp: a synthetic DP video with camera and object motion (documented, deterministic).

    python samples/make_demo.py                 # -> samples/demo.dp (36 frames, 256x192, 8-bit + RGB)
    python samples/make_demo.py --frames 60 --out other.dp --seed 7
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from engine.io.dpfile import DPWriter
from models.synthetic import SceneConfig, render_clip

HERE = Path(__file__).resolve().parent


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def main(out: Path = typer.Option(HERE / "demo.dp"), frames: int = 36, width: int = 256, height: int = 192,
         seed: int = 2024, max_disparity: float = 8.0, fps: float = 12.0):
    cfg = SceneConfig(max_disparity=max_disparity, n_layers=(3, 5), noise=0.004, bit_depth=8,
                      camera_speed=1.5, object_speed=1.5)
    clip = render_clip(seed, frames, height, width, cfg=cfg, camera_motion=True, object_motion=True)
    tags = {"source": "models.synthetic.render_clip", "seed": seed, "max_disparity": max_disparity,
            "command": f"python samples/make_demo.py --frames {frames} --width {width} --height {height} "
                       f"--seed {seed} --max-disparity {max_disparity} --fps {fps}"}
    with DPWriter(out, width=width, height=height, fps=fps, bit_depth=8, has_rgb=True, camera="dplf-synthetic",
                  tags=tags) as writer:
        for i, s in enumerate(clip):
            writer.write(to_u8(s.left), to_u8(s.right), to_u8(s.rgb), timestamp=i / fps)
    typer.echo(f"wrote {frames} frames ({width}x{height}) to {out}: {out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    typer.run(main)

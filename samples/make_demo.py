"""Make samples/demo.dp: a synthetic DP video with camera and object motion (documented, deterministic),
and next to it samples/demo_gt.npz, the ground-truth disparity of every frame.

    python samples/make_demo.py                 # -> samples/demo.dp (36 frames, 256x192, 8-bit + RGB)
                                                #    + samples/demo_gt.npz
    python samples/make_demo.py --frames 60 --out other.dp --seed 7     # + other_gt.npz

The ground truth (`<out stem>_gt.npz`): `disparity` float32 [N, H, W], D of the centre (full-aperture) view
of frame i in pixels, in the pipeline's convention (D = x_left - x_right, larger = nearer): the D the DP pair
of that frame was rendered with (models.synthetic.render_disparity, the front-most layer with alpha > 0.5).
`meta` is a JSON string: format, seed, frames, size, max_disparity, the command, and `dp_sha256`, the
SHA-256 of the .dp file written beside it (the ground truth belongs to exactly that file).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import typer

from engine.io.dpfile import DPWriter
from models.synthetic import Sample, SceneConfig, make_scene, render_disparity, render_scene

HERE = Path(__file__).resolve().parent
GT_FORMAT = "dplf-demo-gt/1"
GT_CONVENTION = ("D in pixels at the centre (full-aperture) view, D = x_left - x_right, larger = nearer; "
                 "models.synthetic.render_disparity")


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def gt_path(out: Path) -> Path:
    """Where the ground truth of the .dp file `out` goes: `<stem>_gt.npz` beside it."""
    out = Path(out)
    return out.with_name(out.stem + "_gt.npz")


def demo_scene(seed: int = 2024, frames: int = 36, width: int = 256, height: int = 192,
               max_disparity: float = 8.0):
    """(scene, cfg) of the demo clip: what `render_clip` draws for these arguments, frame by frame."""
    cfg = SceneConfig(max_disparity=max_disparity, n_layers=(3, 5), noise=0.004, bit_depth=8,
                      camera_speed=1.5, object_speed=1.5)
    return make_scene(seed, height, width, cfg, frames, camera_motion=True, object_motion=True), cfg


def render_frame(scene, cfg: SceneConfig, frame: int) -> Sample:
    """One frame of the demo clip (DP pair, RGB, GT D), as written to the .dp file."""
    return render_scene(scene, cfg, frame)


def ground_truth(scene) -> np.ndarray:
    """GT D of every frame, float32 [N, H, W] (cheap: no DP rendering)."""
    return np.stack([render_disparity(scene, f) for f in range(scene.frames)]).astype(np.float32)


def main(out: Path = typer.Option(HERE / "demo.dp"), frames: int = 36, width: int = 256, height: int = 192,
         seed: int = 2024, max_disparity: float = 8.0, fps: float = 12.0):
    scene, cfg = demo_scene(seed, frames, width, height, max_disparity)
    command = (f"python samples/make_demo.py --frames {frames} --width {width} --height {height} "
               f"--seed {seed} --max-disparity {max_disparity} --fps {fps}")
    tags = {"source": "models.synthetic.render_clip", "seed": seed, "max_disparity": max_disparity,
            "command": command}
    truth = np.empty((frames, height, width), np.float32)
    with DPWriter(out, width=width, height=height, fps=fps, bit_depth=8, has_rgb=True, camera="dplf-synthetic",
                  tags=tags) as writer:
        for i in range(frames):
            s = render_frame(scene, cfg, i)
            writer.write(to_u8(s.left), to_u8(s.right), to_u8(s.rgb), timestamp=i / fps)
            truth[i] = s.disparity
    meta = {"format": GT_FORMAT, "convention": GT_CONVENTION, "dp_file": Path(out).name,
            "dp_sha256": hashlib.sha256(Path(out).read_bytes()).hexdigest(), "seed": seed, "frames": frames,
            "width": width, "height": height, "max_disparity": max_disparity, "command": command}
    gt = gt_path(out)
    np.savez_compressed(gt, disparity=truth, meta=np.array(json.dumps(meta)))
    typer.echo(f"wrote {frames} frames ({width}x{height}) to {out}: {out.stat().st_size / 1e6:.2f} MB; "
               f"ground truth to {gt}: {gt.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    typer.run(main)

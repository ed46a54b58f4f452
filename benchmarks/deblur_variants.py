"""Deblur-then-DIBR variants on the dev light fields, with the DP student's own D (issue 17).

    python benchmarks/deblur_variants.py classical [--scenes antinous]      # ceiling, RL iterations, RL-TV
    python benchmarks/deblur_variants.py learned --samples 3200 --minutes 5  # a small deblur UNet (needs torch)
    python benchmarks/deblur_variants.py dp                                  # renderer "dibr-dp" and its variants

Every variant replaces the full-aperture RGB that `Pipeline(renderer="dibr")` warps, so D, DIBR and the score
are the engine's own: LF mean PSNR over the views but the centre / worst view, as in quality.py. Rows:
- `dibr`: the blurred RGB (plain dplf); `rl{N}`: kernels/deblur.py, N Richardson-Lucy steps (N = 3 ships as
  "dibr-deblur"); `rltv{N}-{lam}`: the same with a total-variation prior (Dey et al. 2006: the update divided by
  1 - lam * div(grad x / |grad x|)); `sharp`: the LF's own sharp centre view, the ceiling of any deblur with the
  student's D.
- `learned`: a 3-level UNet (models/blocks.SmallUNet, 0.13 M parameters, zero-initialised head, so it starts at
  rl3) that adds a residual to rl3 from [RGB, rl3, DP pair, D / 8], trained with L1 on synthetic thin-lens samples
  (models.synthetic.render_sample, `realistic_config`; D from the shipped DP student as the engine would feed
  it), then scored like the rows above. Never run on holdout scenes.
- `dp`: renderer "dibr-dp" (kernels/dp_views.py: every view warped from the left / right DP half, blended
  between them) and what its design was chosen against: the first design (the centre column warped from the
  sharpened full-aperture RGB, or from the unsharpened one, the nearer half elsewhere), the halves sharpened with
  the full square box (R, R) instead of the half aperture's (R/2, R) or not at all, and each half's gain divided
  by its low-pass (to cancel DP vignetting).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def rl_tv(rgb: np.ndarray, disparity: np.ndarray, iterations: int, lam: float, radius: float = 0.9) -> np.ndarray:
    """Richardson-Lucy with kernels/deblur.py's box model and a TV prior. rgb f32 [H,W,3], D f32 [H,W] -> same.
    lam = 0 is kernels.deblur.deblur_reference."""
    from kernels.deblur import EPS, box_blur, box_corners

    corners = box_corners(disparity, radius)
    b = rgb.astype(np.float64)
    x = b.copy()
    for _ in range(iterations):
        step = x * box_blur(b / np.maximum(box_blur(x, corners), EPS), corners)
        if lam:
            gy, gx = np.gradient(x, axis=(0, 1))
            norm = np.sqrt(gx ** 2 + gy ** 2 + 1e-4)
            div = np.gradient(gx / norm, axis=1) + np.gradient(gy / norm, axis=0)
            step = step / np.maximum(1.0 - lam * div, 0.2)
        x = step
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def dev_cases(data: Path, names: list[str] | None):
    """Per dev scene and protocol: dict(name, protocol, views, left, right, rgb, d, pipe, baseline); pipe is
    quality.py's dplf pipeline (renderer "dibr") for the scene's grid."""
    from benchmarks.quality import DEV_SCENES, DplfRunner, load_scene, protocol_apertures
    from engine.conventions import half_aperture_centroid
    from engine.io.lightfield import synthesize_dp

    runner = DplfRunner()
    for scene in DEV_SCENES:
        if names and not any(n in scene.path for n in names):
            continue
        views, _ = load_scene(data, scene)
        k = views.shape[0]
        for protocol, a in protocol_apertures(k).items():
            baseline = ((k - 1) / 2.0) / (2.0 * half_aperture_centroid(a))
            pipe = runner.pipe("dibr", k, baseline)
            left, right, rgb = synthesize_dp(views, a)
            d = pipe(left, right, rgb).disparity.copy()
            yield dict(name=scene.path.split("/")[-1], protocol=protocol, views=views, left=left, right=right,
                       rgb=rgb, d=d, pipe=pipe, baseline=baseline)


def dibr_views(case: dict, rgb: np.ndarray) -> np.ndarray:
    """The case's pipeline (its D, DIBR) warping `rgb` instead of the full-aperture RGB -> uint8 [K, K, H, W, 3]."""
    return case["pipe"](case["left"], case["right"], np.clip(rgb, 0, 1).astype(np.float32)).views


def run_variants(variants: dict, data: Path, names, views=dibr_views) -> dict:
    """Print and return {(scene, protocol, label): (mean PSNR over the views but the centre, worst view)};
    views(case, variant(case)) -> uint8 [K, K, H, W, 3] (default: the variant returns the RGB to warp)."""
    from benchmarks import metrics as M

    results = {}
    for case in dev_cases(data, names):
        line = f"{case['name']:>16} {case['protocol']:<5}"
        for label, fn in variants.items():
            s = M.lf_scores(views(case, fn(case)), case["views"])
            results[(case["name"], case["protocol"], label)] = (s["psnr_mean"], s["psnr_worst"])
            line += f" | {label} {s['psnr_mean']:.2f}/{s['psnr_worst']:.2f}"
        print(line, flush=True)
    return results


def classical_variants() -> dict:
    from kernels.deblur import deblur

    def sharp(case):
        k = case["views"].shape[0]
        return case["views"][k // 2, k // 2].astype(np.float32) / 255

    return {"dibr": lambda c: c["rgb"], "rl3": lambda c: deblur(c["rgb"], c["d"], 3),
            "rl5": lambda c: deblur(c["rgb"], c["d"], 5), "rl8": lambda c: deblur(c["rgb"], c["d"], 8),
            "rltv10-0.005": lambda c: rl_tv(c["rgb"], c["d"], 10, 0.005),
            "rltv20-0.01": lambda c: rl_tv(c["rgb"], c["d"], 20, 0.01), "sharp": sharp}


def rgb_centre_column(centre, halves, d, positions, baseline) -> np.ndarray:
    """dibr-dp's first design: the centre column (u = 0) warped from the (sharpened) full-aperture RGB, views left /
    right of it from the nearer half alone. -> uint8 [P, H, W, 3]."""
    from kernels.dibr import dibr_warp
    from kernels.dp_views import half_offsets, view_weights

    offsets, _ = view_weights(positions, baseline)
    out = np.empty((len(offsets),) + d.shape + (3,), np.uint8)
    u = offsets[:, 0]
    for idx, source, shifted in ((np.flatnonzero(u == 0), centre, offsets),
                                 (np.flatnonzero(u < 0), halves[0], half_offsets(offsets, 0)),
                                 (np.flatnonzero(u > 0), halves[1], half_offsets(offsets, 1))):
        if idx.size:
            out[idx] = dibr_warp(source, d, shifted[idx], 1.0, out_dtype=np.uint8)
    return out


def dp_variants() -> dict:
    """`(case) -> views uint8 [K, K, H, W, 3]`: renderer dibr-dp and the variants it was chosen against."""
    import cv2

    from engine.conventions import grid_positions
    from kernels.deblur import deblur
    from kernels.dibr import render_disparity
    from kernels.dp_views import half_aperture_rgb, render_from_halves

    def variant(half_radius=(0.45, 0.9), half_it=3, lowpass=False, design="blend"):
        def run(case):
            rgb, d, k = case["rgb"], case["d"], case["views"].shape[0]
            halves = half_aperture_rgb(rgb, case["left"], case["right"])
            if lowpass:
                gain = 2 * case["left"] / np.maximum(case["left"] + case["right"], 1e-3)
                for i, g in enumerate((gain, 2 - gain)):
                    g_n = g / np.maximum(cv2.GaussianBlur(g, (0, 0), max(g.shape) / 8), 1e-3)
                    halves[i] = np.clip(rgb * g_n[..., None], 0, 1)
            halves = np.stack([deblur(h, d, half_it, half_radius) for h in halves])
            positions, warp_d = grid_positions(k).reshape(-1, 2), render_disparity(d)
            if design == "blend":
                views = render_from_halves(halves, warp_d, positions, case["baseline"], out_dtype=np.uint8)
            else:   # "rgb-centre" (its RGB sharpened with the full box) or "rgb-centre-unsharpened"
                centre = deblur(rgb, d, 3 if design == "rgb-centre" else 0)
                views = rgb_centre_column(centre, halves, warp_d, positions, case["baseline"])
            return views.reshape(k, k, *rgb.shape)
        return run

    return {"dibr-dp": variant(), "rgb-centre-column": variant(design="rgb-centre"),
            "rgb-centre-unsharpened": variant(design="rgb-centre-unsharpened"),
            "halves-square-box": variant(half_radius=(0.9, 0.9)), "halves-unsharpened": variant(half_it=0),
            "halves-gain-lowpassed": variant(lowpass=True)}


# ---- the learned variant ---------------------------------------------------------------------------------
def synthetic_pairs(n: int, seed0: int = 1_000_000, size: int = 128) -> dict:
    """n synthetic thin-lens samples: rgb, rl3, dp, D (the shipped DP student's), sharp centre view; NCHW f32."""
    from engine import Pipeline
    from kernels.deblur import deblur
    from models.synthetic import render_realistic_sample

    pipe = Pipeline(views=0)
    cols = {k: [] for k in ("rgb", "rl", "dp", "d", "sharp")}
    for seed in range(seed0, seed0 + n):
        s = render_realistic_sample(seed, size, size, None)
        d = pipe(s.left, s.right, s.rgb).disparity.copy()
        cols["rgb"].append(s.rgb.transpose(2, 0, 1))
        cols["rl"].append(deblur(s.rgb, d, 3).transpose(2, 0, 1))
        cols["dp"].append(np.stack([s.left, s.right]))
        cols["d"].append(d[None])
        cols["sharp"].append(s.views[0].transpose(2, 0, 1))
    return {k: np.ascontiguousarray(np.stack(v), np.float32) for k, v in cols.items()}


def build_net():
    import torch
    from torch import nn

    from models.blocks import SmallUNet

    class DeblurUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.unet = SmallUNet(3 + 3 + 2 + 1, 3, (24, 32, 48))
            nn.init.zeros_(self.unet.head.weight)
            nn.init.zeros_(self.unet.head.bias)

        def forward(self, rgb, rl, dp, d):
            return rl + self.unet(torch.cat([rgb - 0.5, rl - 0.5, dp - 0.5, d / 8.0], 1))

    return DeblurUNet()


def train_net(pairs: dict, minutes: float, steps: int | None = None, batch: int = 8, lr: float = 1e-3, seed: int = 0):
    """L1 training, Adam with a cosine schedule over the time budget (or `steps`), vertical flips only (a
    horizontal flip would swap the DP halves and negate D)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_net()
    opt = torch.optim.Adam(net.parameters(), lr)
    n, t0, step = len(pairs["d"]), time.time(), 0
    while (steps is None and time.time() - t0 < minutes * 60) or (steps is not None and step < steps):
        progress = step / steps if steps else (time.time() - t0) / (minutes * 60)
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + np.cos(np.pi * min(1.0, progress)))
        idx = rng.choice(n, batch)
        t = [torch.from_numpy(pairs[k][idx]) for k in ("rgb", "rl", "dp", "d", "sharp")]
        if rng.random() < 0.5:
            t = [x.flip(2) for x in t]
        loss = (net(*t[:4]) - t[4]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    return net.eval(), step


def net_variant(net):
    import torch
    import torch.nn.functional as F

    from kernels.deblur import deblur

    def apply(case):
        h, w = case["d"].shape
        pad = (0, (-w) % 4, 0, (-h) % 4)
        t = lambda a: F.pad(torch.from_numpy(np.ascontiguousarray(a, np.float32))[None], pad, mode="replicate")  # noqa: E731
        rl = deblur(case["rgb"], case["d"], 3)
        with torch.no_grad():
            y = net(t(case["rgb"].transpose(2, 0, 1)), t(rl.transpose(2, 0, 1)),
                    t(np.stack([case["left"], case["right"]])), t(case["d"][None]))
        return y[0, :, :h, :w].clamp(0, 1).numpy().transpose(1, 2, 0)

    return apply


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("classical", "learned", "dp"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--scenes", default=None, help="comma list of dev scene names (default: all dev scenes)")
    ap.add_argument("--samples", type=int, default=3200, help="learned: synthetic training samples")
    ap.add_argument("--minutes", type=float, default=5.0, help="learned: training time")
    args = ap.parse_args(argv)
    names = args.scenes.split(",") if args.scenes else None
    if not (args.data / "hci").is_dir():
        print(f"deblur_variants: no light fields under {args.data}; pass --data", file=sys.stderr)
        return 2
    if args.what == "classical":
        run_variants(classical_variants(), args.data, names)
        return 0
    if args.what == "dp":
        run_variants(dp_variants(), args.data, names, views=lambda case, views: views)
        return 0
    from kernels.deblur import deblur

    pairs = synthetic_pairs(args.samples)
    net, steps = train_net(pairs, args.minutes)
    print(f"trained {steps} steps on {args.samples} synthetic samples", flush=True)
    run_variants({"dibr": lambda c: c["rgb"], "rl3": lambda c: deblur(c["rgb"], c["d"], 3), "learned": net_variant(net)},
                 args.data, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())

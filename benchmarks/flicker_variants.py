"""Flicker against sharpness for the DP-aware renderer (issue 17): what D the views are warped with.

    python benchmarks/flicker_variants.py [--scene hci/antinous] [--frames 8] [--crop 384]

quality.py's temporal video (a crop window sliding over a dev light field by known steps; flicker = mean
|difference| of consecutive outputs after undoing the motion) and its LF PSNR on the whole scene, for
"dibr" and "dibr-dp" warped with the DP student's D passed through (dibr-dp's halves are sharpened with D as it
is, as in the engine):
- `raw`: D as the student gives it (dibr-dp before it took the median);
- `median5`: the 5x5 median (what "dibr-dp" ships, kernels/dp_views.render_disparity);
- `guided`: a grey-guided filter of D (He et al., radius 4, eps 1e-3), edge-aware smoothing;
- `temporal-ema`: a temporal input: D blended 1:1 with the previous frame's filtered D, moved by the global
  shift that phase correlation finds between the frames, where D and the DP mean agree (|dD| < 0.5 px,
  |dI| < 0.05); `temporal-ema-still`: the same without motion compensation (a depth camera's temporal filter).
Dev scenes only; no holdout.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
RENDERERS = ("dibr", "dibr-dp")


def guided(guide: np.ndarray, d: np.ndarray, radius: int = 4, eps: float = 1e-3) -> np.ndarray:
    """He et al.'s guided filter of d [H, W] by a grey guide [H, W] (box windows of 2 * radius + 1)."""
    box = lambda a: cv2.boxFilter(a, -1, (2 * radius + 1,) * 2)  # noqa: E731
    mi, md = box(guide), box(d)
    a = (box(guide * d) - mi * md) / (box(guide * guide) - mi * mi + eps)
    return (box(a) * guide + box(md - a * mi)).astype(np.float32)


class TemporalEma:
    """D_t' = (D_t + moved D_{t-1}') / 2 where the moved previous frame agrees, else D_t."""

    def __init__(self, compensate: bool, delta_d: float = 0.5, delta_i: float = 0.05):
        self.compensate, self.delta_d, self.delta_i, self.prev = compensate, delta_d, delta_i, None

    def __call__(self, d: np.ndarray, grey: np.ndarray) -> np.ndarray:
        if self.prev is not None:
            prev_d, prev_g = self.prev
            if self.compensate:
                (sx, sy), _ = cv2.phaseCorrelate(grey.astype(np.float64), prev_g.astype(np.float64))
                move = np.float32([[1, 0, -sx], [0, 1, -sy]])
                size = d.shape[::-1]
                prev_d = cv2.warpAffine(prev_d, move, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                prev_g = cv2.warpAffine(prev_g, move, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            agree = (np.abs(d - prev_d) < self.delta_d) & (np.abs(grey - prev_g) < self.delta_i)
            d = np.where(agree, 0.5 * (d + prev_d), d).astype(np.float32)
        self.prev = (d, grey)
        return d


def render(renderer: str, left, right, rgb, d, warp_d, positions, baseline, radius) -> np.ndarray:
    """Views uint8 [P, H, W, 3]: dibr-dp's halves sharpened with the student's D, every warp with warp_d (D
    filtered by the variant), as the engine does."""
    from kernels.deblur import deblur
    from kernels.dibr import dibr_warp
    from kernels.dp_views import half_aperture_rgb, render_from_halves

    if renderer == "dibr":
        return dibr_warp(rgb, warp_d, positions, baseline, out_dtype=np.uint8)
    halves = np.stack([deblur(h, d, 3, (radius / 2, radius)) for h in half_aperture_rgb(rgb, left, right)])
    return render_from_halves(halves, warp_d, positions, baseline, out_dtype=np.uint8)


def filtered(variant: str, d: np.ndarray, grey: np.ndarray, state) -> np.ndarray:
    if variant == "median5":
        return cv2.medianBlur(d, 5)
    if variant == "guided":
        return guided(grey, d)
    if variant.startswith("temporal"):
        return state(d, grey)
    return d


VARIANTS = ("raw", "median5", "guided", "temporal-ema", "temporal-ema-still")


def main(argv=None) -> int:
    from benchmarks import metrics as M
    from benchmarks.quality import DEV_SCENES, DplfRunner, load_scene, protocol_apertures
    from benchmarks.temporal import crop_offsets
    from engine.conventions import grid_positions, half_aperture_centroid
    from engine.io.lightfield import synthesize_dp

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--scene", default="hci/antinous", help="a dev scene path")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--crop", type=int, default=384)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args(argv)
    scenes = [s for s in DEV_SCENES if s.path == args.scene]
    if not scenes:
        ap.error(f"--scene must be one of the dev scenes: {', '.join(s.path for s in DEV_SCENES)}")
    if not (args.data / args.scene).is_dir():
        print(f"flicker_variants: no {args.data / args.scene}; nothing to measure")
        return 0
    views_u8, _ = load_scene(args.data, scenes[0])
    k = views_u8.shape[0]
    runner = DplfRunner()
    offsets = crop_offsets(args.frames)
    print(f"{args.scene}, {args.frames} frames of {args.crop}^2; psnr: whole scene {k}x{k}; flicker: centre / corner "
          f"view of a 3x3 grid, D in px")
    print(f"{'protocol':8s} {'variant':20s} {'renderer':8s} {'psnr mean':>9s} {'worst':>6s} {'centre':>7s} "
          f"{'corner':>7s} {'D':>7s}")
    for protocol, a in protocol_apertures(k).items():
        baseline = ((k - 1) / 2.0) / (2.0 * half_aperture_centroid(a))
        left, right, rgb = synthesize_dp(views_u8, a)
        radius = runner.pipe("dibr-dp", k, baseline).deblur[1]
        whole = runner.disparity(left, right)
        crops = []
        for oy, ox in offsets:
            sl = (slice(oy, oy + args.crop), slice(ox, ox + args.crop))
            crops.append((left[sl], right[sl], rgb[sl], runner.disparity(left[sl], right[sl])))
        grid, pair = grid_positions(k, 1.0).reshape(-1, 2), grid_positions(3, 1.0).reshape(-1, 2)[[4, 0]]
        for variant in args.variants.split(","):
            for renderer in RENDERERS:
                d = filtered(variant, whole, (left + right) * 0.5, TemporalEma(variant == "temporal-ema"))
                pred = render(renderer, left, right, rgb, whole, d, grid, baseline, radius)
                scores = M.lf_scores(pred.reshape((k, k) + rgb.shape), views_u8)
                state, seq, ds = TemporalEma(variant == "temporal-ema"), [], []
                for l_, r_, c_, d_ in crops:
                    ds.append(filtered(variant, d_, (l_ + r_) * 0.5, state))
                    seq.append(render(renderer, l_, r_, c_, d_, ds[-1], pair, baseline, radius))
                flick = [M.flicker(M.align_crops([s[i] for s in seq], offsets)) for i in (0, 1)]
                print(f"{protocol:8s} {variant:20s} {renderer:8s} {scores['psnr_mean']:9.2f} "
                      f"{scores['psnr_worst']:6.2f} {flick[0]:7.3f} {flick[1]:7.3f} "
                      f"{M.flicker(M.align_crops(ds, offsets)):7.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How much of the defocus can a renderer undo without learning? Non-blind deconvolution of the full-aperture
RGB with the exact LF->DP blur model and the GROUND-TRUTH disparity (an upper bound for any deblur-then-DIBR
renderer that uses this model), on an HCI scene (issue 17).

    python benchmarks/deblur_oracle.py [--data ../shared/data] [--scene hci/antinous] [--json out.json]

The full-aperture RGB of the A x A protocol is the mean of the A x A views, so a point at per-view disparity d
is blurred by the mean of deltas at (i d, j d), i, j in the aperture's view offsets: a sampled box, applied here
layer by layer (25 levels of d, blended per pixel by the GT d, FFT with reflective padding). Reported: centre
view PSNR against the LF's sharp centre view, and LF mean PSNR of DIBR (GT D) from the restored RGB, for layered
Wiener deconvolution (NSR 1e-3, 1e-2) and Richardson-Lucy / Landweber iterations, beside the two oracles (DIBR of
the blurred RGB and of the sharp centre view, both with GT D).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT  # noqa: E402

PAD = 48
LEVELS = 25


def comb_otf(step: float, offsets: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """rfft2 OTF [H, W//2+1] of the mean of deltas at (i * step, j * step), i, j in offsets."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    cx = np.mean([np.exp(-2j * np.pi * fx * o * step) for o in offsets], axis=0)
    cy = np.mean([np.exp(-2j * np.pi * fy * o * step) for o in offsets], axis=0)
    return cy * cx


def layered(img: np.ndarray, d: np.ndarray, offsets: np.ndarray, levels: np.ndarray, gain=None) -> np.ndarray:
    """Apply per-level filters (the blur OTF, or gain(otf) for a deconvolution) to img [H, W, 3], each pixel taking
    the linear blend of the two levels around its d [H, W]."""
    f = np.fft.rfft2(img, axes=(0, 1))
    outs = []
    for s in levels:
        h = comb_otf(s, offsets, img.shape[:2])
        outs.append(np.fft.irfft2(f * (h if gain is None else gain(h))[..., None], s=img.shape[:2], axes=(0, 1)))
    outs = np.stack(outs)
    idx = np.interp(d, levels, np.arange(len(levels)))
    i0 = np.floor(idx).astype(int)
    i1 = np.minimum(i0 + 1, len(levels) - 1)
    t = (idx - i0)[..., None]
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    return (1 - t) * outs[i0, yy, xx] + t * outs[i1, yy, xx]


def evaluate(views: np.ndarray, gt: np.ndarray, protocol: str, aperture: int, iterations=(5, 10, 30)) -> list[dict]:
    from benchmarks import metrics as M
    from benchmarks.baselines.dibr_baseline import dibr_views, to_u8
    from engine.conventions import grid_positions, half_aperture_centroid
    from engine.io.lightfield import synthesize_dp

    k = views.shape[0]
    _, _, rgb = synthesize_dp(views, aperture)
    cbar = half_aperture_centroid(aperture)
    baseline = ((k - 1) / 2.0) / (2.0 * cbar)
    pos = grid_positions(k, 1.0).reshape(-1, 2)
    d_px = (2 * cbar * gt).astype(np.float32)
    sharp = views[k // 2, k // 2]
    offsets = np.arange(aperture) - (aperture - 1) / 2.0
    levels = np.linspace(gt.min() - 0.1, gt.max() + 0.1, LEVELS)

    def row(name, restored):
        img = np.clip(restored, 0, 1).astype(np.float32)
        lf = M.lf_scores(to_u8(dibr_views(img, d_px, pos, baseline)).reshape(views.shape), views)
        return {"protocol": protocol, "method": name, "centre_psnr": round(M.psnr(to_u8(img), sharp), 3),
                "views_psnr_mean": round(lf["psnr_mean"], 3)}

    rows = [row("blurred RGB (oracle-dibr)", rgb), row("sharp centre (oracle-sharp-dibr)", sharp / 255.0)]
    for nsr in (1e-3, 1e-2):
        rows.append(row(f"layered Wiener NSR {nsr:g}", layered(rgb.astype(np.float64), gt, offsets, levels,
                                                              lambda h, n=nsr: np.conj(h) / (np.abs(h) ** 2 + n))))
    pad = lambda x: np.pad(x, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")  # noqa: E731
    gtp = np.pad(gt, PAD, mode="edge")
    blur = lambda x: layered(x, gtp, offsets, levels)  # noqa: E731   (the comb is symmetric: K^T = K per level)
    b = pad(rgb.astype(np.float64))
    for name, update in (("Landweber", lambda x: np.clip(x - blur(blur(x) - b), 0, 1)),
                         ("Richardson-Lucy", lambda x: x * blur(b / np.maximum(blur(x), 1e-4)))):
        x = b.copy()
        for it in range(1, max(iterations) + 1):
            x = update(x)
            if it in iterations:
                rows.append(row(f"{name} {it} iterations", x[PAD:-PAD, PAD:-PAD]))
    return rows


def main(argv=None) -> int:
    from benchmarks.quality import Scene, is_holdout, load_scene, protocol_apertures

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--scene", default="hci/antinous")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if is_holdout(args.scene):
        print(f"{args.scene} is a holdout scene: not for experiments", file=sys.stderr)
        return 2
    if not (args.data / args.scene).is_dir():
        print(f"no scene {args.scene} under {args.data}; pass --data", file=sys.stderr)
        return 2
    views, gt = load_scene(args.data, Scene(args.scene, gt="gt_disp_lowres.pfm"))
    rows = []
    for protocol, a in protocol_apertures(views.shape[0]).items():
        for r in evaluate(views, gt, protocol, a):
            rows.append(r)
            print(f"{args.scene} {protocol:5s} {r['method']:34s} centre {r['centre_psnr']:6.2f} dB   "
                  f"views (DIBR, GT D) {r['views_psnr_mean']:6.2f} dB", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"scene": args.scene, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

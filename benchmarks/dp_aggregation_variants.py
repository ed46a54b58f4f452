"""Issue 15's aggregation directions, measured on the dev data: semi-global aggregation (SGM),
confidence-weighted edge-aware propagation and edge-aware (guided) upsampling, against the shipped DP
students and OpenCV SGBM.

    python benchmarks/dp_aggregation_variants.py [--data ../shared/data] [--json out.json]

Scores (dev data only; holdouts are never read): the demo sample's Pearson correlation with its ground truth
(frames 0, 7, ..., 35), HCI antinous MSE x 100 / BadPix.07 after the affine fit (full and phone-like
aperture, DP synthesised from the light field as in quality.py), and the Pixel 4 rank correlation on dev
captures 001-006 (benchmarks/real_dp.py).

SGM (Hirschmueller 2008) runs over dp-disparity-v2's cost (1 - ZNCC of the defocus-equalised DP views,
models/zncc_matching.py) on 4 paths, with P2 divided by (1 + 10 |dI|) of the normalised image so that
intensity edges may break the smoothness; then winner-take-all + parabola, as v2. It needs torch (the cost
is v2's module) and numba; it is an experiment, not a runtime kernel.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numba
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT  # noqa: E402

DEMO_FRAMES = (0, 7, 14, 21, 28, 35)


@numba.njit(cache=True)
def _sgm_path(cost, guide, out, dy, dx, p1, p2):
    """Add one scan direction's path cost L_r (Hirschmueller eq. 13) of cost [J, H, W] into out [J, H, W]."""
    n_j, h, w = cost.shape
    prev = np.empty(n_j, np.float32)
    cur = np.empty(n_j, np.float32)
    lines, length = (h, w) if dy == 0 else (w, h)
    for line in range(lines):
        y, x = (line, 0 if dx > 0 else w - 1) if dy == 0 else (0 if dy > 0 else h - 1, line)
        for j in range(n_j):
            prev[j] = cost[j, y, x]
            out[j, y, x] += prev[j]
        for _ in range(1, length):
            yp, xp = y, x
            y, x = y + dy, x + dx
            m = prev.min()
            step_p2 = max(p2 / (1.0 + 10.0 * abs(guide[y, x] - guide[yp, xp])), p1 + 1e-3)
            for j in range(n_j):
                v = prev[j]
                if j > 0:
                    v = min(v, prev[j - 1] + p1)
                if j < n_j - 1:
                    v = min(v, prev[j + 1] + p1)
                cur[j] = cost[j, y, x] + min(v, m + step_p2) - m
            for j in range(n_j):
                prev[j] = cur[j]
                out[j, y, x] += cur[j]


def sgm_aggregate(cost: np.ndarray, guide: np.ndarray, p1: float, p2: float) -> np.ndarray:
    """Sum of the 4 scan-line path costs. cost float32 [J, H, W], guide float32 [H, W] -> [J, H, W]."""
    cost = np.ascontiguousarray(cost, np.float32)
    guide = np.ascontiguousarray(guide, np.float32)
    out = np.zeros_like(cost)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        _sgm_path(cost, guide, out, dy, dx, np.float32(p1), np.float32(p2))
    return out


class SgmOverDefocusCost:
    """D [H, W] from (left, right): v2's cost at 1/scale resolution, optionally v2's cross-scale aggregation
    first, then SGM, WTA + parabola, bilinear back to full size."""

    def __init__(self, scale: int = 2, max_disparity: float = 16.0, hypotheses: int = 17, p1: float = 0.05,
                 p2: float = 0.5, cross_scale_first: bool = False):
        from models.zncc_matching import ZnccDefocusMatching

        self.scale, self.p1, self.p2, self.cross_scale_first = scale, p1, p2, cross_scale_first
        self.matching = ZnccDefocusMatching(max_disparity / scale, hypotheses)

    def __call__(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        from models.zncc_matching import wta_parabola

        m = self.matching
        dp = torch.from_numpy(np.stack([left, right])[None].astype(np.float32))
        small = F.avg_pool2d(dp, self.scale) if self.scale > 1 else dp
        with torch.no_grad():
            cost, guide = m.cost(small)
            if self.cross_scale_first:
                cost = m.aggregate(cost, guide)
            agg = sgm_aggregate(cost[0].numpy(), guide[0, 0].numpy(), self.p1, self.p2)
            d, _ = wta_parabola(torch.from_numpy(agg)[None], m.first, m.step)
            d = F.interpolate(d * self.scale, size=left.shape, mode="bilinear", align_corners=False)
        return d[0, 0].numpy()


class EdgeAwarePropagation:
    """A student's D kept where the image is textured and, elsewhere, replaced by the confidence-weighted
    guided filter of D (normalised convolution with the image as guide): D' = c D + (1 - c) GF(c D) / GF(c),
    c = clip(box7(dlogI/dx ^ 2) / texture^2, 0, 1)."""

    def __init__(self, student, radius: int = 16, eps: float = 1e-2, texture: float = 0.05):
        self.student, self.radius, self.eps, self.texture = student, radius, eps, texture

    def __call__(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        from models.guided_filter import box_filter
        from models.zncc_matching import guided_cost_filter

        d = torch.from_numpy(self.student(left, right))[None, None]
        g = torch.log(torch.from_numpy((left + right) / 2)[None, None] + 0.01)
        gx = F.pad(g[..., :, 1:] - g[..., :, :-1], (0, 1, 0, 0))
        c = (box_filter(gx * gx, 3) / self.texture ** 2).clamp(0, 1)
        gn = (g - g.mean()) / (g.std() + 1e-6)
        spread = guided_cost_filter(gn, c * d, self.radius, self.eps) / \
            guided_cost_filter(gn, c, self.radius, self.eps).clamp_min(1e-3)
        return (c * d + (1 - c) * spread)[0, 0].numpy()


class GuidedUpsampling:
    """dp-disparity-v2 with its x2 upsampling of D made edge-aware: a guided filter's coefficients (radius
    `radius`, eps `eps`) fitted at half resolution on the DP mean, applied with the full-resolution guide."""

    def __init__(self, radius: int = 8, eps: float = 1e-3):
        import torch

        from models.architectures import build

        self.radius, self.eps = radius, eps
        self.model = build("dp-disparity-v2").eval()
        self.model.load_state_dict(torch.load(ROOT / "models" / "weights" / "dp-disparity-v2.pt", map_location="cpu"))

    def __call__(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        from models.guided_filter import box_filter

        h, w = left.shape
        dp = np.pad(np.stack([left, right])[None], ((0, 0), (0, 0), (0, -h % 16), (0, -w % 16)), mode="edge")
        dp = torch.from_numpy(dp.astype(np.float32))
        net, r = self.model, self.radius
        with torch.no_grad():
            small = F.avg_pool2d(dp, 2)
            d = net.half_resolution(dp)[0] * 2
            g_full = dp.mean(1, keepdim=True)
            mu, sd = g_full.mean(), g_full.std() + 1e-6
            g_small, g_full = (small.mean(1, keepdim=True) - mu) / sd, (g_full - mu) / sd
            mg, md = box_filter(g_small, r), box_filter(d, r)
            a = (box_filter(g_small * d, r) - mg * md) / (box_filter(g_small * g_small, r) - mg * mg + self.eps)
            b = md - a * mg
            up = [F.interpolate(t, size=dp.shape[-2:], mode="bilinear", align_corners=False) for t in (a, b)]
            return (up[0] * g_full + up[1])[0, 0, :h, :w].numpy()


def torch_student(name: str, weights: Path | None = None):
    """D [H, W] from (left, right) by a DP student's PyTorch weights (default: the shipped ones; inputs padded
    to 16)."""
    import torch

    from models.architectures import build

    model = build(name).eval()
    model.load_state_dict(torch.load(weights or ROOT / "models" / "weights" / f"{name}.pt", map_location="cpu"))

    def disparity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        h, w = left.shape
        dp = np.pad(np.stack([left, right])[None], ((0, 0), (0, 0), (0, -h % 16), (0, -w % 16)), mode="edge")
        with torch.no_grad():
            return model(torch.from_numpy(dp.astype(np.float32)))[0, 0, :h, :w].numpy()
    return disparity


def dev_inputs(data: Path) -> dict:
    """The dev inputs: demo pairs + truth, antinous DP per protocol + GT, Pixel 4 dev captures."""
    from benchmarks.demo_truth import load_truth, read_frames
    from benchmarks.quality import Scene, load_scene, protocol_apertures
    from benchmarks.real_dp import find_pixel4
    from engine.conventions import half_aperture_centroid
    from engine.io.lightfield import synthesize_dp

    truth, _ = load_truth()
    out = {"demo": ([(l, r) for _, l, r, _ in read_frames(frames=list(DEMO_FRAMES))], truth[list(DEMO_FRAMES)])}
    views, gt = load_scene(data, Scene("hci/antinous", gt="gt_disp_lowres.pfm"))
    out["antinous"] = ({p: synthesize_dp(views, a)[:2] + (half_aperture_centroid(a),)
                        for p, a in protocol_apertures(views.shape[0]).items()}, gt)
    out["pixel4"] = find_pixel4(data / "pixel4_dp")
    return out


def score(disparity, inputs: dict) -> dict:
    from benchmarks import metrics as M
    from benchmarks.demo_truth import pearson
    from benchmarks.real_dp import rank_score

    res = {}
    pairs, truth = inputs["demo"]
    r = [pearson(disparity(left, right), g) for (left, right), g in zip(pairs, truth)]
    res["demo_pearson_mean"], res["demo_pearson_min"] = float(np.mean(r)), float(np.min(r))
    protocols, gt = inputs["antinous"]
    for protocol, (left, right, cbar) in protocols.items():
        s = M.disparity_scores(disparity(left, right) / (2 * cbar), gt)
        res[f"antinous_{protocol}_mse_x100_affine"] = s["mse_x100_affine"]
        res[f"antinous_{protocol}_badpix_affine"] = s["badpix_007_affine"]
    if inputs["pixel4"]:
        r = [rank_score(disparity(c.left, c.right), c.gt)[0] for c in inputs["pixel4"]]
        res["pixel4_dev_mean"], res["pixel4_dev_min"] = float(np.mean(r)), float(np.min(r))
    return {k: round(v, 4) for k, v in res.items()}


def variants() -> dict:
    from benchmarks.baselines.dibr_baseline import sgbm_disparity

    v1, v2 = torch_student("dp-disparity-v1"), torch_student("dp-disparity-v2")
    return {
        "sgbm": sgbm_disparity, "dp-disparity-v1": v1, "dp-disparity-v2": v2,
        "sgm-half p1=0.05 p2=0.5": SgmOverDefocusCost(p1=0.05, p2=0.5),
        "sgm-half p1=0.3 p2=3": SgmOverDefocusCost(p1=0.3, p2=3.0),
        "sgm-full 33 hyps p1=0.05 p2=0.5": SgmOverDefocusCost(scale=1, hypotheses=33, p1=0.05, p2=0.5),
        "sgm-full 33 hyps p1=0.3 p2=3": SgmOverDefocusCost(scale=1, hypotheses=33, p1=0.3, p2=3.0),
        "cross-scale then sgm p1=0.2 p2=2": SgmOverDefocusCost(p1=0.2, p2=2.0, cross_scale_first=True),
        "v2 + guided x2 upsampling r8": GuidedUpsampling(8, 1e-3),
        "v2 + guided x2 upsampling r4": GuidedUpsampling(4, 1e-2),
        "v1 + edge-aware propagation r16": EdgeAwarePropagation(v1),
        "v2 + edge-aware propagation r16": EdgeAwarePropagation(v2),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--v2-weights", type=Path, help="score only dp-disparity-v2 with these weights (e.g. from "
                    "benchmarks/dp_selfsup_experiment.py)")
    args = ap.parse_args(argv)
    if not (args.data / "hci" / "antinous").is_dir():
        print(f"no dev data under {args.data}; pass --data")
        return 2
    inputs = dev_inputs(args.data)
    rows = []
    todo = {f"dp-disparity-v2 ({args.v2_weights})": torch_student("dp-disparity-v2", args.v2_weights)} \
        if args.v2_weights else variants()
    for name, fn in todo.items():
        t = time.perf_counter()
        metrics = score(fn, inputs)
        rows.append({"name": name, "metrics": metrics})
        print(f"{name:34s} " + " ".join(f"{k}={v:.3f}" for k, v in metrics.items())
              + f"  ({time.perf_counter() - t:.0f} s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Whole-image DP matching for dp-disparity-v2: a gain-invariant defocus cost and edge-aware aggregation
across scales. Fixed weights, standard ops (ONNX opset 17).

Cost. As in models/defocus_matching.py, blurring each DP view with the other view's half-aperture kernel
makes them equal at the true D (k_R(D) * left = k_L(D) * right). Real DP views also differ in gain and
vignetting across the frame (the Pixel 4's left/right ratio runs 0.85-1.21), which an absolute difference
reads as disparity; so the cost is 1 - ZNCC of the two blurred views over a small window, which ignores a
local gain and offset.

Aggregation. A per-pixel cost cannot fill textureless regions. The cost volume is averaged down a pyramid,
each level is filtered by a guided filter of the image at that level (edges of the image stay edges of
the cost: Hosni et al., "Fast cost-volume filtering", 2013), and the levels are summed coarse to fine with
weight `coarse_weight` per level ("cross-scale cost aggregation", Zhang et al., CVPR 2014), so a flat
region takes the evidence of its textured surroundings. Winner-take-all with a parabola gives D.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.defocus_matching import FAMILIES, tap_kernels
from models.guided_filter import box_filter


def zncc_cost(a: torch.Tensor, b: torch.Tensor, radius: int, eps: float = 1e-6) -> torch.Tensor:
    """1 - zero-mean normalised cross-correlation of a and b over (2r+1)^2 windows, in [0, 2].
    a, b [N, C, H, W] -> [N, C, H, W]. eps (in squared input units) keeps flat windows at a cost near 1."""
    ma, mb = box_filter(a, radius), box_filter(b, radius)
    va = (box_filter(a * a, radius) - ma * ma).clamp_min(0.0)
    vb = (box_filter(b * b, radius) - mb * mb).clamp_min(0.0)
    cov = box_filter(a * b, radius) - ma * mb
    return 1.0 - cov * torch.rsqrt(va * vb + eps * eps)


def guided_cost_filter(guide: torch.Tensor, cost: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Guided filter of every cost slice by one guide. guide [N, 1, h, w], cost [N, J, h, w] -> [N, J, h, w]."""
    mean_g, mean_p = box_filter(guide, radius), box_filter(cost, radius)
    var_g = box_filter(guide * guide, radius) - mean_g * mean_g
    cov = box_filter(guide * cost, radius) - mean_g * mean_p
    a = cov / (var_g + eps)
    b = mean_p - a * mean_g
    return box_filter(a, radius) * guide + box_filter(b, radius)


def wta_parabola(cost: torch.Tensor, first: float, step: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Winner-take-all over hypotheses first + j * step with a parabolic sub-step refinement.
    cost [N, J, H, W] -> (D [N, 1, H, W], features [N, 3, H, W]: min cost, curvature, mean - min)."""
    j = cost.shape[1]
    idx = cost.argmin(1, keepdim=True).clamp(1, j - 2)
    c0, c1, c2 = cost.gather(1, idx - 1), cost.gather(1, idx), cost.gather(1, idx + 1)
    curv = c0 - 2 * c1 + c2
    sub = (0.5 * (c0 - c2) / curv.clamp_min(1e-6)).clamp(-1, 1)
    d = first + (idx.to(sub.dtype) + sub) * step
    return d, torch.cat([c1, curv, cost.mean(1, keepdim=True) - c1], 1)


class CrossScaleAggregation(nn.Module):
    """cost [N, J, h, w], guide [N, 1, h, w] -> aggregated cost [N, J, h, w] (levels: pyramid depth)."""

    def __init__(self, levels: int = 5, coarse_weight: float = 2.0, radius: int = 2, eps: float = 1e-3):
        super().__init__()
        self.levels, self.coarse_weight, self.radius, self.eps = levels, coarse_weight, radius, eps

    def forward(self, cost: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        costs, guides = [cost], [guide]
        for _ in range(self.levels - 1):
            costs.append(F.avg_pool2d(costs[-1], 2, ceil_mode=True, count_include_pad=False))
            guides.append(F.avg_pool2d(guides[-1], 2, ceil_mode=True, count_include_pad=False))
        agg = None
        for c, g in zip(reversed(costs), reversed(guides)):
            c = guided_cost_filter(g, c, self.radius, self.eps)
            if agg is not None:
                c = c + self.coarse_weight * F.interpolate(agg, size=c.shape[-2:], mode="bilinear",
                                                           align_corners=False)
            agg = c
        return agg


class ZnccDefocusMatching(nn.Module):
    """dp [N, 2, h, w] (any scale) -> (D [N, 1, h, w] px at that scale, features [N, 3, h, w]).

    Args:
        max_disparity: hypotheses span [-max, max] px at the input's scale, `hypotheses` of them.
        families: aperture families whose kernels are tried (the cost takes the best per hypothesis).
        window: ZNCC window half-size.
    """

    def __init__(self, max_disparity: float = 8.0, hypotheses: int = 33, families: tuple[str, ...] = ("disc",),
                 window: int = 3, levels: int = 5, coarse_weight: float = 2.0, guide_radius: int = 2,
                 guide_eps: float = 1e-3):
        super().__init__()
        hyps = np.linspace(-max_disparity, max_disparity, hypotheses)
        u_max = max(np.abs(FAMILIES[f]()[0]).max() for f in families)
        self.radius = int(np.ceil(max_disparity * u_max)) + 1
        kls, krs = zip(*(tap_kernels(hyps, FAMILIES[f](), self.radius) for f in families))
        self.register_buffer("k_for_left", torch.tensor(np.concatenate(krs), dtype=torch.float32)[:, None, None])
        self.register_buffer("k_for_right", torch.tensor(np.concatenate(kls), dtype=torch.float32)[:, None, None])
        self.families, self.num_hyps, self.window = len(families), hypotheses, window
        self.first, self.step = float(hyps[0]), float(hyps[1] - hyps[0])
        self.aggregate = CrossScaleAggregation(levels, coarse_weight, guide_radius, guide_eps)

    def forward(self, dp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(device_type=dp.device.type, enabled=False):   # variances cancel badly in FP16
            d, feats = self._match(dp.float())
        return d.to(dp.dtype), feats.to(dp.dtype)

    def cost(self, dp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-pixel cost before aggregation and its guide: dp float32 [N, 2, h, w] ->
        (cost [N, J, h, w] over hypotheses first + j * step, guide [N, 1, h, w], the normalised DP mean)."""
        n, _, h, w = dp.shape
        x = dp / (dp.mean(dim=(1, 2, 3), keepdim=True) + 0.02)
        x = F.pad(x, (self.radius, self.radius, 0, 0), mode="replicate")
        a = F.conv2d(x[:, 0:1], self.k_for_left.float())
        b = F.conv2d(x[:, 1:2], self.k_for_right.float())
        cost = zncc_cost(a, b, self.window)
        if self.families > 1:
            cost = cost.reshape(n, self.families, self.num_hyps, h, w).min(1).values
        guide = dp.mean(1, keepdim=True)
        guide = (guide - guide.mean(dim=(2, 3), keepdim=True)) / (guide.std(dim=(2, 3), keepdim=True) + 1e-6)
        return cost, guide

    def _match(self, dp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cost, guide = self.cost(dp)
        return wta_parabola(self.aggregate(cost, guide), self.first, self.step)

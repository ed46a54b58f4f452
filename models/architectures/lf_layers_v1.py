"""lf-layers-v1: the shipped LF student. rgb + DP + D -> multiplicative layered light field (``layers``
[N,L,R,3,H,W], ``planes`` [N,L]). Built to start at a good solution: at initialisation the centre view equals
the input rgb exactly and off-centre views are a layered DIBR of it; a UNet (last layers zero-initialised)
learns log-domain corrections (deblurring, occlusions).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.blocks import SmallUNet, check_dp, normalise_dp
from models.registry import STRIDE, register_model

CARD = {
    "task": "rgb + DP + D -> multiplicative layered LF (see docs/training.md), L=3 layers, rank R=12",
    "inputs": {"rgb": "float32 [N,3,H,W] in [0,1] (full-aperture image)",
               "dp": "float32 [N,2,H,W] in [0,1]",
               "disparity": "float32 [N,1,H,W], D in px"},
    "outputs": {"layers": "float32 [N,L,R,3,H,W] > 0", "planes": "float32 [N,L], D units (px)"},
    "architecture": "planes spread between the 2 % and 98 % quantiles of 8x8-averaged D (learned offsets); log-domain "
                    "layers exp(alpha_l log(rgb) + delta_lr), alpha = soft assignment of D to planes; "
                    "3-level UNet (zero-init head) predicts delta and alpha corrections",
    "max_params": 3_000_000,
    "stride": STRIDE,
}
IO_NOTES = {
    "io_normalisation": "rgb: float32 [N,3,H,W] in [0,1]; dp: float32 [N,2,H,W] in [0,1]; "
                        "disparity: float32 [N,1,H,W] px; H, W multiples of 16",
    "disparity_units": "planes: px (units of D); layers: linear intensity factors, rendered as "
                       "mean_r prod_l layers[l,r](x + b*planes[l]*u, y + b*planes[l]*v)",
}


@register_model("lf-layers-v1", task="lf", inputs=("rgb", "dp", "disparity"), outputs=("layers", "planes"),
                card=CARD, io_notes=IO_NOTES, default=True)
class LFLayersNet(nn.Module):
    """Layered LF student.  rgb [N,3,H,W], dp [N,2,H,W], disparity [N,1,H,W] ->
    layers [N, L, R, 3, H, W] (> 0), planes [N, L] (px, units of D).

    In the log domain, with g = log(rgb + eps) and a smooth base b = blur(g):
        log layers[l, r] = alpha_l (g - b) + w_l b + delta_{l,r}
    alpha = softmax_l(-(D - p_l)^2 / 2 sigma^2 + a_l) assigns detail to the plane nearest D, and w (softmax,
    initially on the middle plane) carries the smooth base, so a disocclusion shows the base instead of a
    hole. sum_l alpha_l = sum_l w_l = 1, hence with delta = 0 (the initial state, the UNet head is
    zero-initialised) the centre view prod_l layers[l, r] equals rgb + eps exactly; off-centre views are a
    layered DIBR.
    """

    def __init__(self, num_layers: int = 3, rank: int = 12, widths: tuple[int, int, int] = (32, 48, 64),
                 eps: float = 1e-3, base_blur: int = 31, seed: int = 0):
        super().__init__()
        self.num_layers, self.rank, self.eps, self.base_blur = num_layers, rank, eps, base_blur
        L = num_layers
        # Initial planes spread evenly from min to max of the (8x8-averaged) D, soft assignment sigma 0.2 of the
        # plane spacing, the smooth base on the middle plane (chosen on HCI antinous, dev: mean +- k std planes
        # miss the far background and the near object of a bimodal scene).
        spread = torch.linspace(-1.0, 1.0, L) if L > 1 else torch.zeros(1)
        self.plane_offsets = nn.Parameter(spread.clone())  # -1 = min D, +1 = max D
        spacing = 2.0 / max(L - 1, 1)
        self.log_sigma = nn.Parameter(torch.tensor(math.log(0.2 * spacing)))  # in units of the D half-range
        prior = torch.full((L,), -8.0)
        prior[L // 2] = 0.0
        self.register_buffer("base_prior", prior.view(1, L, 1, 1))
        self.unet = SmallUNet(3 + 3 + 2 + 1 + L, L * 3 * rank + 2 * L, widths)
        nn.init.zeros_(self.unet.head.weight)
        nn.init.zeros_(self.unet.head.bias)
        # A fixed random rank-mixing matrix lets the (zero-initialised) head break the symmetry between ranks.
        g = torch.Generator().manual_seed(seed)
        mix = torch.linalg.qr(torch.randn(rank, rank, generator=g))[0] + 1.0 / rank
        self.register_buffer("rank_mix", mix.contiguous())
        # The quantile grid of planes_from as a (non-persistent) buffer, not a torch.linspace in forward: a
        # traced module (the .ts export) would otherwise keep the tracing device as a constant.
        self.register_buffer("quantile_steps", torch.linspace(0.0, 1.0, 256), persistent=False)

    def planes_from(self, disparity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """disparity [N,1,H,W] -> (planes [N, L] far to near at init, D half-range [N, 1])."""
        coarse = F.avg_pool2d(disparity, 8)  # robust to isolated outliers; H, W are multiples of 16
        lo, hi = coarse.amin(dim=(2, 3)), coarse.amax(dim=(2, 3))
        # Robust range: the 2 % and 98 % quantiles of the 8x8 cells, read off a 256-step cumulative
        # histogram between min and max (comparisons and sums only, so it exports to ONNX). A near object on
        # more than 2 % of the frame stays in; a few far outliers of a real DP student's D (flat regions) go:
        # they pulled a plane to -8 px on a scene spanning [-0.5, 1.5] px, and the phone-like views at u ~ 3
        # rendered that plane 25 px off.
        steps = self.quantile_steps.to(coarse.dtype)
        grid = lo[..., None] + (hi - lo)[..., None] * steps                     # [N, 1, 256]
        cells = coarse.flatten(2)                                                # [N, 1, C]
        below = (cells[..., None] <= grid[..., None, :]).to(coarse.dtype).mean(dim=2)   # [N, 1, 256]
        lo = grid.gather(2, (below < 0.02).sum(dim=2, keepdim=True).clamp_max(255)).squeeze(2)
        hi = grid.gather(2, (below < 0.98).sum(dim=2, keepdim=True).clamp_max(255)).squeeze(2)
        half = 0.5 * (hi - lo) + 0.25
        centre = 0.5 * (hi + lo)
        return centre + (half - 0.25) * self.plane_offsets.view(1, -1), half

    def smooth(self, x: torch.Tensor) -> torch.Tensor:
        """Two box filters of size base_blur with edge replication.  [N,C,H,W] -> same."""
        k = self.base_blur
        for _ in range(2):
            x = F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)
        return x

    def forward(self, rgb: torch.Tensor, dp: torch.Tensor, disparity: torch.Tensor):
        if rgb.dim() != 4 or rgb.shape[1] != 3:
            raise ValueError(f"rgb must be [N, 3, H, W], got {tuple(rgb.shape)}")
        check_dp(dp)
        if disparity.dim() != 4 or disparity.shape[1] != 1:
            raise ValueError(f"disparity must be [N, 1, H, W], got {tuple(disparity.shape)}")
        n, _, h, w = rgb.shape
        L, R = self.num_layers, self.rank
        planes, scale = self.planes_from(disparity)
        sigma = torch.exp(self.log_sigma) * scale  # [N, 1]
        dist = (disparity - planes[..., None, None]) / sigma[..., None, None]  # [N, L, H, W]
        # Huber instead of a clamped square: far outside the plane range the nearest plane still wins, and the
        # logits stay FP16-finite.
        a = dist.abs()
        logits = -torch.where(a < 4.0, 0.5 * a * a, 4.0 * a - 8.0)
        log_rgb = torch.log(rgb.clamp(0.0, 1.0) + self.eps)
        base = self.smooth(log_rgb)
        detail = log_rgb - base
        d_norm = (disparity - planes[:, L // 2: L // 2 + 1, None, None]) / (4.0 * scale[..., None, None])
        feats = torch.cat([log_rgb / 4.0 + 1.0, detail, normalise_dp(dp), d_norm, torch.softmax(logits, 1)], 1)
        out = self.unet(feats)
        alpha = torch.softmax(logits + out[:, :L], 1)  # [N, L, H, W]
        weight = torch.softmax(self.base_prior + out[:, L:2 * L], 1)
        z = out[:, 2 * L:].reshape(n, L, 3, R, h, w)
        delta = torch.einsum("rk,nlckhw->nlrchw", self.rank_mix, z)
        log_layers = (alpha[:, :, None] * detail[:, None] + weight[:, :, None] * base[:, None])[:, :, None] + delta
        layers = torch.exp(log_layers.clamp(-12.0, 3.0))
        return layers, planes


class LFLayersExport(nn.Module):
    """Wrapper with ONNX-friendly named outputs (same semantics as LFLayersNet)."""

    def __init__(self, net: LFLayersNet):
        super().__init__()
        self.net = net

    def forward(self, rgb, dp, disparity):
        return self.net(rgb, dp, disparity)


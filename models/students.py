"""Student networks (SPEC §6), registered by name.

- ``dp-disparity-v1``: DP pair -> disparity D (px). Shared feature extractor, explicit cost volume over
  horizontal shifts at 1/2 resolution (static Pad/Slice, unrolled), a small UNet regulariser, soft-argmin
  + residual, and a full-resolution refinement.
- ``lf-layers-v1``: rgb + DP + D -> multiplicative layered light field (``layers`` [N,L,R,3,H,W],
  ``planes`` [N,L]). Built to start at a good solution: at initialisation the centre view equals the input
  rgb exactly and off-centre views are a layered DIBR of it; a UNet (last layers zero-initialised) learns
  log-domain corrections (deblurring, occlusions).

Inputs H, W must be multiples of ``STRIDE``; the runtime pads. No torch in the runtime: this module is for
training and export only.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 16
VERSION = "1"


def _conv(cin: int, cout: int, stride: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1)]
    if act:
        layers.append(nn.LeakyReLU(0.1))
    return nn.Sequential(*layers)


def _check_dp(dp: torch.Tensor) -> None:
    if dp.dim() != 4 or dp.shape[1] != 2:
        raise ValueError(f"dp must be [N, 2, H, W], got {tuple(dp.shape)}")


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class SmallUNet(nn.Module):
    """Three-level UNet without normalisation.  [N, cin, H, W] -> [N, cout, H, W] (H, W divisible by 4)."""

    def __init__(self, cin: int, cout: int, widths: tuple[int, int, int] = (32, 48, 64)):
        super().__init__()
        w0, w1, w2 = widths
        self.enc0 = nn.Sequential(_conv(cin, w0), _conv(w0, w0))
        self.enc1 = nn.Sequential(_conv(w0, w1, 2), _conv(w1, w1))
        self.enc2 = nn.Sequential(_conv(w1, w2, 2), _conv(w2, w2), _conv(w2, w2))
        self.dec1 = nn.Sequential(_conv(w2 + w1, w1), _conv(w1, w1))
        self.dec0 = nn.Sequential(_conv(w1 + w0, w0), _conv(w0, w0))
        self.head = nn.Conv2d(w0, cout, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        d1 = self.dec1(torch.cat([_up(e2, e1), e1], 1))
        d0 = self.dec0(torch.cat([_up(d1, e0), e0], 1))
        return self.head(d0)


def _normalise_dp(dp: torch.Tensor) -> torch.Tensor:
    """Per-image zero-mean, unit-contrast DP (exposure and gain invariance).  [N,2,H,W] -> same."""
    mean = dp.mean(dim=(1, 2, 3), keepdim=True)
    std = (dp - mean).pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    return (dp - mean) / (std + 0.02)


class DPDisparityNet(nn.Module):
    """DP pair -> disparity.  dp [N, 2, H, W] in [0, 1] -> disparity [N, 1, H, W] (px, D = x_left - x_right).

    The cost volume correlates left features at x with right features at x - d (d in half-res px) for
    d in [-max_shift, max_shift], i.e. D in [-2 max_shift, 2 max_shift] at full resolution.
    """

    def __init__(self, max_shift: int = 12, feat: int = 32, groups: int = 4,
                 widths: tuple[int, int, int] = (64, 96, 128), both_features: bool = False):
        super().__init__()
        self.max_shift, self.groups, self.both_features = max_shift, groups, both_features
        self.feat_full = nn.Sequential(_conv(1, 16), _conv(16, 16))
        self.feat_half = nn.Sequential(_conv(16, feat, 2), _conv(feat, feat), nn.Conv2d(feat, feat, 3, 1, 1))
        shifts = 2 * max_shift + 1
        # both_features: the regulariser also sees the right features (defocus asymmetry cues).
        self.regulariser = SmallUNet(groups * shifts + feat * (2 if both_features else 1), shifts + 1, widths)
        self.refine = nn.Sequential(_conv(1 + 16 + 2, 32), _conv(32, 32), nn.Conv2d(32, 1, 3, 1, 1))
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)
        self.register_buffer("shift_values", 2.0 * torch.arange(-max_shift, max_shift + 1).float().view(1, -1, 1, 1))

    def cost_volume(self, fl: torch.Tensor, fr: torch.Tensor) -> torch.Tensor:
        """Group-wise correlation.  fl, fr [N, C, h, w] -> [N, groups * (2S+1), h, w]."""
        n, c, h, w = fl.shape
        s = self.max_shift
        padded = F.pad(fr, (s, s, 0, 0), mode="replicate")
        costs = []
        for d in range(-s, s + 1):
            end = -(s + d) if s + d > 0 else None  # static slice: width-independent for ONNX
            shifted = padded[:, :, :, s - d: end]  # fr(x - d)
            corr = (fl * shifted).reshape(n, self.groups, c // self.groups, h, w).mean(2)
            costs.append(corr)
        return torch.cat(costs, 1)

    def forward(self, dp: torch.Tensor) -> torch.Tensor:
        _check_dp(dp)
        n = dp.shape[0]
        x = _normalise_dp(dp)
        both = torch.cat([x[:, 0:1], x[:, 1:2]], 0)  # left and right share the extractor
        f_full = self.feat_full(both)
        f_half = self.feat_half(f_full)
        fl, fr = f_half[:n], f_half[n:]
        volume = self.cost_volume(fl, fr)
        out = self.regulariser(torch.cat([volume, fl, fr] if self.both_features else [volume, fl], 1))
        prob = torch.softmax(out[:, :-1], dim=1)
        d_half = (prob * self.shift_values).sum(1, keepdim=True) + out[:, -1:]
        d_full = _up(d_half, dp)
        res = self.refine(torch.cat([d_full / 8.0, f_full[:n], x], 1))
        return d_full + res


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

    def planes_from(self, disparity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """disparity [N,1,H,W] -> (planes [N, L] far to near at init, D half-range [N, 1])."""
        coarse = F.avg_pool2d(disparity, 8)  # robust to isolated outliers; H, W are multiples of 16
        lo, hi = coarse.amin(dim=(2, 3)), coarse.amax(dim=(2, 3))
        # Robust range: the 2 % and 98 % quantiles of the 8x8 cells, read off a 256-step cumulative
        # histogram between min and max (comparisons and sums only, so it exports to ONNX). A near object on
        # more than 2 % of the frame stays in; a few far outliers of a real DP student's D (flat regions) go:
        # they pulled a plane to -8 px on a scene spanning [-0.5, 1.5] px, and the phone-like views at u ~ 3
        # rendered that plane 25 px off.
        steps = torch.linspace(0.0, 1.0, 256, device=coarse.device, dtype=coarse.dtype)
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
        _check_dp(dp)
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
        feats = torch.cat([log_rgb / 4.0 + 1.0, detail, _normalise_dp(dp), d_norm, torch.softmax(logits, 1)], 1)
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


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


MODELS: dict[str, dict] = {
    "dp-disparity-v1": {
        "factory": DPDisparityNet,
        "inputs": ["dp"],
        "outputs": ["disparity"],
        "card": {
            "task": "DP pair -> disparity D (px, D = x_left - x_right, larger D nearer)",
            "inputs": {"dp": "float32 [N,2,H,W], left/right linear intensity in [0,1]"},
            "outputs": {"disparity": "float32 [N,1,H,W], px at input resolution"},
            "architecture": "shared conv features, group-correlation cost volume at 1/2 res over "
                            "D in [-24, 24] px, 3-level UNet regulariser, soft-argmin + residual, "
                            "full-res refinement; no normalisation layers",
            "max_params": 1_500_000,
            "stride": STRIDE,
        },
    },
    "lf-layers-v1": {
        "factory": LFLayersNet,
        "inputs": ["rgb", "dp", "disparity"],
        "outputs": ["layers", "planes"],
        "card": {
            "task": "rgb + DP + D -> multiplicative layered LF (SPEC §6), L=3 layers, rank R=12",
            "inputs": {"rgb": "float32 [N,3,H,W] in [0,1] (full-aperture image)",
                       "dp": "float32 [N,2,H,W] in [0,1]",
                       "disparity": "float32 [N,1,H,W], D in px"},
            "outputs": {"layers": "float32 [N,L,R,3,H,W] > 0", "planes": "float32 [N,L], D units (px)"},
            "architecture": "planes spread between the 2 % and 98 % quantiles of 8x8-averaged D (learned offsets); log-domain layers "
                            "exp(alpha_l log(rgb) + delta_lr), alpha = soft assignment of D to planes; "
                            "3-level UNet (zero-init head) predicts delta and alpha corrections",
            "max_params": 3_000_000,
            "stride": STRIDE,
        },
    },
}


def build(name: str, **cfg) -> nn.Module:
    """Instantiate a registered student by name (``MODELS`` keys); ``cfg`` goes to its constructor."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    factory: Callable[..., nn.Module] = MODELS[name]["factory"]
    return factory(**cfg)


def model_card(name: str) -> dict:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return dict(MODELS[name]["card"], name=name, version=VERSION)


def _register_defocus_student() -> None:
    """dp-disparity-v1 is the defocus-matching student; the purely learned cost volume stays available."""
    from .defocus_matching import DPDefocusNet

    MODELS["dp-learned-cv-v0"] = dict(MODELS["dp-disparity-v1"])
    MODELS["dp-disparity-v1"] = dict(
        MODELS["dp-learned-cv-v0"], factory=DPDefocusNet,
        card=dict(MODELS["dp-learned-cv-v0"]["card"],
                  architecture="fixed defocus-aware DP matching (k_R*left = k_L*right for the half-aperture "
                               "kernels of 4 aperture families, D in [-16, 16] px, 15x15 window, WTA + parabola) "
                               "+ a 3-level UNet refinement with zero-initialised head + a fixed texture-gated "
                               "guided filter (radius 32 px, eps 1e-3, at 1/4 res; gate = 7x7 contrast / 0.1) "
                               "that smooths D where the DP image is flat; no normalisation layers"))


_register_defocus_student()

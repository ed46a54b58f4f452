"""Guided filtering of a disparity map by the DP image (He et al., TPAMI 2013; fast variant: He & Sun 2015).

The full-aperture DP views of a strongly defocused region (HCI antinous' wall: D about -13 px) carry little
texture, so the per-pixel matching estimate there is noisy by a few px while its mean is right. A guided
filter averages it over a large window except across intensity edges of the guide, where D usually jumps.
Pure standard ops (average pooling, bilinear resize): exports to ONNX opset 17 and runs under CUDA graphs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1)^2 window, edge-replicated borders.  [N, C, H, W] -> [N, C, H, W]"""
    if radius <= 0:
        return x
    k = 2 * radius + 1
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    return F.avg_pool2d(F.avg_pool2d(x, (1, k), 1), (k, 1), 1)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float, scale: int = 1) -> torch.Tensor:
    """Edge-preserving smoothing of src, locally an affine function of guide.

    guide [N, 1, H, W], src [N, C, H, W] -> [N, C, H, W]. radius: window half-size in full-resolution px;
    eps: regularisation in guide units squared (larger: smoother across weak edges); scale: compute the
    coefficients at 1/scale resolution (the fast guided filter; H, W divisible by scale), scale=1 is the
    exact filter.
    """
    if guide.dim() != 4 or guide.shape[1] != 1 or src.dim() != 4 or src.shape[-2:] != guide.shape[-2:]:
        raise ValueError(f"guide must be [N,1,H,W] and src [N,C,H,W] of the same size, got "
                         f"{tuple(guide.shape)} and {tuple(src.shape)}")
    g, p = (F.avg_pool2d(guide, scale), F.avg_pool2d(src, scale)) if scale > 1 else (guide, src)
    r = max(1, radius // scale)
    mean_g, mean_p = box_filter(g, r), box_filter(p, r)
    var_g = box_filter(g * g, r) - mean_g * mean_g
    cov_gp = box_filter(g * p, r) - mean_g * mean_p
    a = cov_gp / (var_g + eps)
    b = mean_p - a * mean_g
    a, b = box_filter(a, r), box_filter(b, r)
    if scale > 1:
        a = F.interpolate(a, size=guide.shape[-2:], mode="bilinear", align_corners=False)
        b = F.interpolate(b, size=guide.shape[-2:], mode="bilinear", align_corners=False)
    return a * guide + b


def local_contrast(guide: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Standard deviation of guide over the (2r+1)^2 window.  [N, 1, H, W] -> [N, 1, H, W]"""
    guide = guide - guide.mean(dim=(2, 3), keepdim=True)   # E[g^2] - E[g]^2 cancels less around zero
    mean = box_filter(guide, radius)
    return (box_filter(guide * guide, radius) - mean * mean).clamp_min(0.0).sqrt()


def dp_guide(dp: torch.Tensor) -> torch.Tensor:
    """Mean of the DP views over its global mean (exposure-normalised).  [N, 2, H, W] -> [N, 1, H, W]"""
    guide = dp.mean(1, keepdim=True)
    return guide / (guide.mean(dim=(2, 3), keepdim=True) + 0.02)


class DPGuidedSmoothing(nn.Module):
    """Smooth a disparity map guided by the mean of the DP views (exposure-normalised), optionally only where
    the DP image is flat.

    dp [N, 2, H, W] in [0, 1], disparity [N, 1, H, W] -> [N, 1, H, W]. texture_threshold > 0 gates the filter:
    weight = local contrast of the guide / texture_threshold, clipped to [0, 1], and the result is
    weight * disparity + (1 - weight) * filtered. Computed in FP32 even under autocast and inside the FP16
    export (variances of a normalised image cancel badly in FP16).
    """

    def __init__(self, radius: int = 32, eps: float = 1e-3, scale: int = 4):
        super().__init__()
        self.radius, self.eps, self.scale = radius, eps, scale

    def forward(self, dp: torch.Tensor, disparity: torch.Tensor, texture_threshold: float = 0.0) -> torch.Tensor:
        with torch.autocast(device_type=dp.device.type, enabled=False):
            guide, d = dp_guide(dp.float()), disparity.float()
            out = guided_filter(guide, d, self.radius, self.eps, self.scale)
            if texture_threshold > 0:
                weight = (local_contrast(guide) / texture_threshold).clamp(0.0, 1.0)
                out = weight * d + (1.0 - weight) * out
        return out.to(disparity.dtype)

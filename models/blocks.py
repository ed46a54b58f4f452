"""Building blocks shared by the student architectures (models/architectures/)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_act(cin: int, cout: int, stride: int = 1, act: bool = True) -> nn.Sequential:
    """3x3 conv (padding 1), then LeakyReLU(0.1) unless act=False."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1)]
    if act:
        layers.append(nn.LeakyReLU(0.1))
    return nn.Sequential(*layers)


def check_dp(dp: torch.Tensor) -> None:
    if dp.dim() != 4 or dp.shape[1] != 2:
        raise ValueError(f"dp must be [N, 2, H, W], got {tuple(dp.shape)}")


def upsample_like(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of x [N,C,h,w] to like's H, W -> [N,C,H,W]."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def normalise_dp(dp: torch.Tensor) -> torch.Tensor:
    """Per-image zero-mean, unit-contrast DP (exposure and gain invariance).  [N,2,H,W] -> same."""
    mean = dp.mean(dim=(1, 2, 3), keepdim=True)
    std = (dp - mean).pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    return (dp - mean) / (std + 0.02)


class SmallUNet(nn.Module):
    """Three-level UNet without normalisation.  [N, cin, H, W] -> [N, cout, H, W] (H, W divisible by 4)."""

    def __init__(self, cin: int, cout: int, widths: tuple[int, int, int] = (32, 48, 64)):
        super().__init__()
        w0, w1, w2 = widths
        self.enc0 = nn.Sequential(conv_act(cin, w0), conv_act(w0, w0))
        self.enc1 = nn.Sequential(conv_act(w0, w1, 2), conv_act(w1, w1))
        self.enc2 = nn.Sequential(conv_act(w1, w2, 2), conv_act(w2, w2), conv_act(w2, w2))
        self.dec1 = nn.Sequential(conv_act(w2 + w1, w1), conv_act(w1, w1))
        self.dec0 = nn.Sequential(conv_act(w1 + w0, w0), conv_act(w0, w0))
        self.head = nn.Conv2d(w0, cout, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        d1 = self.dec1(torch.cat([upsample_like(e2, e1), e1], 1))
        d0 = self.dec0(torch.cat([upsample_like(d1, e0), e0], 1))
        return self.head(d0)

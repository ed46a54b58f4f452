"""dp-disparity-v1: the shipped DP student. Fixed defocus-aware DP matching (models/defocus_matching.py), a
small UNet refinement, and a fixed texture-gated guided filter (models/guided_filter.py)."""
from __future__ import annotations

import torch
from torch import nn

from models.architectures.dp_io import CARD as DP_CARD
from models.architectures.dp_io import INPUTS, IO_NOTES, OUTPUTS
from models.blocks import SmallUNet, check_dp, normalise_dp
from models.defocus_matching import DefocusCostVolume
from models.guided_filter import DPGuidedSmoothing
from models.registry import register_model

ARCHITECTURE = ("fixed defocus-aware DP matching (k_R*left = k_L*right for the half-aperture kernels of 4 aperture "
                "families, D in [-16, 16] px, 15x15 window, WTA + parabola) + a 3-level UNet refinement with "
                "zero-initialised head + a fixed texture-gated guided filter (radius 32 px, eps 1e-3, at 1/4 res; "
                "gate = 7x7 contrast / 0.1) that smooths D where the DP image is flat; no normalisation layers")


@register_model("dp-disparity-v1", task="dp", inputs=INPUTS, outputs=OUTPUTS, io_notes=IO_NOTES,
                card=dict(DP_CARD, architecture=ARCHITECTURE), default=True)
class DPDefocusNet(nn.Module):
    """DP-disparity student: defocus-aware cost volume (fixed), a small UNet refinement, and a texture-gated
    guided filter (fixed).

    dp [N, 2, H, W] in [0, 1] -> disparity [N, 1, H, W] (px). The UNet (zero-initialised head) refines the
    matching estimate d0 from d0, the matching features and the normalised DP. The texture gate then keeps the
    refined D where the DP image is textured (sharp at object outlines, where the rendered views need it) and
    takes its guided filter where it is flat (a defocused, texture-poor region's matching is noisy by a few px
    while its mean is right, and a wrong D there costs the views little); see models/guided_filter.py.

    `self.matching.impl` picks how the matching runs ("conv", "matmul", "cuda"; same results).

    Args:
        smooth_radius, smooth_eps, smooth_scale: the guided filter (smooth_radius=0: no filter, the first
            shipped student).
        texture_threshold: local contrast (std of the normalised DP mean over 7 x 7) at which the unfiltered
            estimate takes over fully (0: the filtered one everywhere).
    """

    def __init__(self, max_disparity: float = 16.0, window: int = 15, widths: tuple[int, int, int] = (24, 32, 48),
                 smooth_radius: int = 32, smooth_eps: float = 1e-3, smooth_scale: int = 4,
                 texture_threshold: float = 0.1):
        super().__init__()
        self.matching = DefocusCostVolume(max_disparity, 1.0, window)
        self.refine = SmallUNet(1 + 3 + 2, 1, widths)
        nn.init.zeros_(self.refine.head.weight)
        nn.init.zeros_(self.refine.head.bias)
        self.smooth = DPGuidedSmoothing(smooth_radius, smooth_eps, smooth_scale) if smooth_radius > 0 else None
        self.texture_threshold = texture_threshold

    def forward(self, dp: torch.Tensor) -> torch.Tensor:
        check_dp(dp)
        d0, feats = self.matching(dp)
        x = torch.cat([d0 / 8.0, feats.clamp(-10.0, 10.0), normalise_dp(dp)], 1)
        out = d0 + 4.0 * self.refine(x)
        return out if self.smooth is None else self.smooth(dp, out, self.texture_threshold)

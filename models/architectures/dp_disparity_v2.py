"""dp-disparity-v2: whole-image DP matching (models/zncc_matching.py) at half resolution, a small UNet
refinement there, and a bilinear upsampling of D to the input's size."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.architectures.dp_io import CARD as DP_CARD
from models.architectures.dp_io import INPUTS, IO_NOTES, OUTPUTS
from models.blocks import SmallUNet, check_dp, normalise_dp
from models.registry import register_model
from models.zncc_matching import ZnccDefocusMatching

ARCHITECTURE = ("at 1/2 resolution: fixed gain-invariant defocus matching (1 - ZNCC of k_R*left and k_L*right, "
                "disc aperture, 17 hypotheses over D in [-16, 16] px, 7x7 window), cross-scale aggregation "
                "(5 levels, each guided-filtered by the image, coarse weight 2), WTA + parabola; a 3-level UNet "
                "refinement with zero-initialised head; bilinear upsampling x2; no normalisation layers")


@register_model("dp-disparity-v2", task="dp", inputs=INPUTS, outputs=OUTPUTS, io_notes=IO_NOTES,
                card=dict(DP_CARD, architecture=ARCHITECTURE), shipped=True)
class DPWholeImageNet(nn.Module):
    """DP-disparity student that aggregates matching evidence over the whole image.

    dp [N, 2, H, W] in [0, 1] -> disparity [N, 1, H, W] (px at the input's resolution). H, W multiples of 16.
    Untrained (zero head) it is the fixed matcher; the UNet learns corrections from D0, the matching
    features and the normalised DP, all at half resolution.
    """

    def __init__(self, max_disparity: float = 16.0, hypotheses: int = 17, widths: tuple[int, int, int] = (24, 32, 48),
                 levels: int = 5, coarse_weight: float = 2.0):
        super().__init__()
        self.scale = 2
        self.matching = ZnccDefocusMatching(max_disparity / self.scale, hypotheses, levels=levels,
                                            coarse_weight=coarse_weight)
        self.refine = SmallUNet(1 + 3 + 2, 1, widths)
        nn.init.zeros_(self.refine.head.weight)
        nn.init.zeros_(self.refine.head.bias)

    def half_resolution(self, dp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """dp [N, 2, H, W] -> (refined D, matched D0), both [N, 1, H/2, W/2] in px at half resolution."""
        small = F.avg_pool2d(dp, self.scale)
        d0, feats = self.matching(small)
        x = torch.cat([d0 / 4.0, feats.clamp(-10.0, 10.0), normalise_dp(small)], 1)
        return d0 + 2.0 * self.refine(x), d0

    def forward(self, dp: torch.Tensor) -> torch.Tensor:
        check_dp(dp)
        d = self.half_resolution(dp)[0] * self.scale
        return F.interpolate(d, size=dp.shape[-2:], mode="bilinear", align_corners=False)

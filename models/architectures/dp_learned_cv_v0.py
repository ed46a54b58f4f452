"""dp-learned-cv-v0: the first, fully learned DP student (kept for comparison, not shipped).

Shared feature extractor, explicit group-correlation cost volume over horizontal shifts at 1/2 resolution
(static Pad/Slice, unrolled), a small UNet regulariser, soft-argmin + residual, and a full-resolution
refinement.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.architectures.dp_io import CARD as DP_CARD
from models.architectures.dp_io import INPUTS, IO_NOTES, OUTPUTS
from models.blocks import SmallUNet, check_dp, conv_act, normalise_dp, upsample_like
from models.registry import register_model


@register_model("dp-learned-cv-v0", task="dp", inputs=INPUTS, outputs=OUTPUTS,
                io_notes=IO_NOTES,
                card=dict(DP_CARD, architecture="shared conv features, group-correlation cost volume at 1/2 res "
                          "over D in [-24, 24] px, 3-level UNet regulariser, soft-argmin + residual, full-res "
                          "refinement; no normalisation layers"))
class DPDisparityNet(nn.Module):
    """DP pair -> disparity.  dp [N, 2, H, W] in [0, 1] -> disparity [N, 1, H, W] (px, D = x_left - x_right).

    The cost volume correlates left features at x with right features at x - d (d in half-res px) for
    d in [-max_shift, max_shift], i.e. D in [-2 max_shift, 2 max_shift] at full resolution.
    """

    def __init__(self, max_shift: int = 12, feat: int = 32, groups: int = 4,
                 widths: tuple[int, int, int] = (64, 96, 128), both_features: bool = False):
        super().__init__()
        self.max_shift, self.groups, self.both_features = max_shift, groups, both_features
        self.feat_full = nn.Sequential(conv_act(1, 16), conv_act(16, 16))
        self.feat_half = nn.Sequential(conv_act(16, feat, 2), conv_act(feat, feat), nn.Conv2d(feat, feat, 3, 1, 1))
        shifts = 2 * max_shift + 1
        # both_features: the regulariser also sees the right features (defocus asymmetry cues).
        self.regulariser = SmallUNet(groups * shifts + feat * (2 if both_features else 1), shifts + 1, widths)
        self.refine = nn.Sequential(conv_act(1 + 16 + 2, 32), conv_act(32, 32), nn.Conv2d(32, 1, 3, 1, 1))
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
        check_dp(dp)
        n = dp.shape[0]
        x = normalise_dp(dp)
        both = torch.cat([x[:, 0:1], x[:, 1:2]], 0)  # left and right share the extractor
        f_full = self.feat_full(both)
        f_half = self.feat_half(f_full)
        fl, fr = f_half[:n], f_half[n:]
        volume = self.cost_volume(fl, fr)
        out = self.regulariser(torch.cat([volume, fl, fr] if self.both_features else [volume, fl], 1))
        prob = torch.softmax(out[:, :-1], dim=1)
        d_half = (prob * self.shift_values).sum(1, keepdim=True) + out[:, -1:]
        d_full = upsample_like(d_half, dp)
        res = self.refine(torch.cat([d_full / 8.0, f_full[:n], x], 1))
        return d_full + res


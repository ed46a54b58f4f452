"""The paper's LF network as published (Garg et al., ICCP 2024), in torch, for timing. Untrained weights.

Published description: a CvT encoder (Wu et al. 2021, "CvT: Introducing Convolutions to Vision
Transformers") with 3 stages of widths 64/192/384 and depths 1/3/14, a convolutional decoder to a multilayer
representation of 3 layers x rank 12 (``layers`` [N, 3, 12, 3, H, W]), and an AdaBins-style mini-ViT head
that predicts the 3 plane depths (``planes`` [N, 3]); input rgb + the two DP planes (5 channels); about
11.6 M parameters and 19.5 GMACs at 256x192.

What the description leaves open was set so that both totals match (tests/test_baselines.py):
- CvT stages as in CvT-13 (token embedding 7x7/s4, 3x3/s2, 3x3/s2; heads 1/3/6; depth-wise conv
  projections, key/value stride 2) but with head width 32 (attention width = dim/2) and MLP ratio 1. The
  published widths and depths at CvT-13's head width 64 and MLP ratio 4 alone would hold ~27 M parameters.
- A U-Net decoder (features at 1/16, 1/8, 1/4 upsampled with skips, then 1/2 and full resolution, the
  input concatenated at full resolution), widths DECODER_WIDTHS.
- Mini-ViT as in AdaBins (patch 16 conv embedding, learned positional encoding, post-norm transformer
  encoder layers, regressor MLP on the first token), on the 1/4-resolution decoder features with patch 4
  (one token per 16x16 input pixels, as AdaBins), 2 layers of width 128, feed-forward 256; the 3 outputs become
  normalised bin widths whose cumulative centres are the plane disparities in [-MAX_DISP, MAX_DISP].
Module is torch-only (training/benchmark extra); the runtime never imports it.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

LAYERS = 3
RANK = 12
IN_CHANNELS = 5
STAGE_DIMS = (64, 192, 384)
STAGE_DEPTHS = (1, 3, 14)
STAGE_HEADS = (1, 3, 6)
HEAD_DIM = 32
MLP_RATIO = 1.0
KV_STRIDE = 2
DECODER_WIDTHS = (128, 96, 112, 96)  # at 1/8, 1/4, 1/2, 1/1
VIT_DIM = 128
VIT_LAYERS = 2
VIT_FF = 256
VIT_PATCH = 4  # on the 1/4-resolution decoder features: one token per 16x16 input pixels
MAX_DISP = 4.0

PUBLISHED_PARAMS = 11.6e6
PUBLISHED_GMACS_256x192 = 19.5


class ConvEmbed(nn.Module):
    """CvT convolutional token embedding: strided conv + LayerNorm over channels.  [N,C,H,W] -> [N,D,H/s,W/s]"""

    def __init__(self, cin: int, dim: int, kernel: int, stride: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, kernel, stride, kernel // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.proj(x)
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _conv_projection(dim: int, stride: int) -> nn.Sequential:
    """CvT's convolutional projection: depth-wise 3x3 conv (stride 1 for q, KV_STRIDE for k/v) + BatchNorm."""
    return nn.Sequential(nn.Conv2d(dim, dim, 3, stride, 1, groups=dim, bias=False), nn.BatchNorm2d(dim))


class ConvAttention(nn.Module):
    """Multi-head attention with convolutional projections.  x [N,D,H,W] -> [N,D,H,W]"""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, inner = heads, heads * HEAD_DIM
        self.conv_q = _conv_projection(dim, 1)
        self.conv_k = _conv_projection(dim, KV_STRIDE)
        self.conv_v = _conv_projection(dim, KV_STRIDE)
        self.q, self.k, self.v = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.out = nn.Linear(inner, dim)

    def _tokens(self, x, conv, linear):
        t = linear(conv(x).flatten(2).transpose(1, 2))  # [N, T, inner]
        return t.reshape(t.shape[0], t.shape[1], self.heads, HEAD_DIM).transpose(1, 2)

    def forward(self, x):
        n, d, h, w = x.shape
        q = self._tokens(x, self.conv_q, self.q)
        k = self._tokens(x, self.conv_k, self.k)
        v = self._tokens(x, self.conv_v, self.v)
        # fused attention (flash / memory-efficient kernels on a GPU): the fastest form of the same maths
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, h * w, self.heads * HEAD_DIM)
        return self.out(y).transpose(1, 2).reshape(n, d, h, w)


class CvTBlock(nn.Module):
    """Pre-norm transformer block with convolutional-projection attention.  [N,D,H,W] -> same"""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        hidden = int(dim * MLP_RATIO)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = ConvAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    @staticmethod
    def _ln(norm, x):
        return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward(self, x):
        x = x + self.attn(self._ln(self.norm1, x))
        return x + self.mlp(self._ln(self.norm2, x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class CvTEncoder(nn.Module):
    """Three CvT stages.  [N,5,H,W] -> features at 1/4, 1/8, 1/16 with STAGE_DIMS channels."""

    def __init__(self):
        super().__init__()
        embeds, stages, cin = [], [], IN_CHANNELS
        for i, (dim, depth, heads) in enumerate(zip(STAGE_DIMS, STAGE_DEPTHS, STAGE_HEADS)):
            embeds.append(ConvEmbed(cin, dim, 7 if i == 0 else 3, 4 if i == 0 else 2))
            stages.append(nn.Sequential(*[CvTBlock(dim, heads) for _ in range(depth)]))
            cin = dim
        self.embeds, self.stages = nn.ModuleList(embeds), nn.ModuleList(stages)

    def forward(self, x):
        feats = []
        for embed, stage in zip(self.embeds, self.stages):
            x = stage(embed(x))
            feats.append(x)
        return feats


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """Bilinear x2 upsampling, concat skip, two 3x3 conv-BN-ReLU."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(_conv_bn_relu(cin + cskip, cout), _conv_bn_relu(cout, cout))

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.body(torch.cat([x, skip], dim=1))


class MiniViT(nn.Module):
    """AdaBins mini-ViT: patch embedding + transformer encoder + regressor on the first token.

    features [N,C,H,W] -> plane disparities [N, LAYERS], sorted ascending, in [-MAX_DISP, MAX_DISP].
    """

    def __init__(self, cin: int):
        super().__init__()
        self.embed = nn.Conv2d(cin, VIT_DIM, VIT_PATCH, VIT_PATCH)
        # AdaBins learns 500 positions for one input size; a 12x16 grid resized to the token grid serves any size.
        self.pos = nn.Parameter(torch.rand(1, VIT_DIM, 12, 16))
        layer = nn.TransformerEncoderLayer(VIT_DIM, 4, dim_feedforward=VIT_FF, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, VIT_LAYERS, enable_nested_tensor=False)
        self.regressor = nn.Sequential(
            nn.Linear(VIT_DIM, 256), nn.LeakyReLU(), nn.Linear(256, 256), nn.LeakyReLU(), nn.Linear(256, LAYERS)
        )

    def forward(self, x):
        t = self.embed(x)
        pos = F.interpolate(self.pos, size=t.shape[-2:], mode="bilinear", align_corners=False)
        t = self.encoder((t + pos).flatten(2).transpose(1, 2))  # [N, T, E]
        widths = torch.relu(self.regressor(t[:, 0])) + 0.1
        widths = widths / widths.sum(dim=1, keepdim=True)
        centres = torch.cumsum(widths, dim=1) - 0.5 * widths
        return (2.0 * centres - 1.0) * MAX_DISP


class PaperLFNet(nn.Module):
    """rgb [N,3,H,W], dp [N,2,H,W] -> layers [N,3,12,3,H,W] (non-negative), planes [N,3].

    H and W must be multiples of 16.
    """

    def __init__(self):
        super().__init__()
        d1, d2, d3 = STAGE_DIMS
        w8, w4, w2, w1 = DECODER_WIDTHS
        self.encoder = CvTEncoder()
        self.lateral16 = nn.Conv2d(d3, w8, 1)  # bottleneck before the first up-block
        self.up8 = UpBlock(w8, d2, w8)
        self.up4 = UpBlock(w8, d1, w4)
        self.up2 = nn.Sequential(_conv_bn_relu(w4, w2), _conv_bn_relu(w2, w2))
        self.up1 = UpBlock(w2, IN_CHANNELS, w1)
        self.head = nn.Conv2d(w1, LAYERS * RANK * 3, 3, 1, 1)
        self.vit = MiniViT(w4)

    def forward(self, rgb, dp):
        x = torch.cat([rgb, dp], dim=1)
        n, _, h, w = x.shape
        f4, f8, f16 = self.encoder(x)
        y4 = self.up4(self.up8(self.lateral16(f16), f8), f4)
        y = self.up2(F.interpolate(y4, scale_factor=2.0, mode="bilinear", align_corners=False))
        y = self.up1(y, x)
        layers = torch.sigmoid(self.head(y)).reshape(n, LAYERS, RANK, 3, h, w)
        return layers, self.vit(y4)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_gmacs(model: nn.Module, height: int = 192, width: int = 256) -> float:
    """GMACs of one forward pass at height x width (FlopCounterMode flops / 2)."""
    import copy

    from torch.utils.flop_counter import FlopCounterMode

    model = copy.deepcopy(model).to("meta")   # shapes only: any size is counted instantly
    rgb, dp = torch.rand(1, 3, height, width, device="meta"), torch.rand(1, 2, height, width, device="meta")
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(rgb, dp)
    return counter.get_total_flops() / 2e9


def build(eval_mode: bool = True) -> PaperLFNet:
    torch.manual_seed(0)
    model = PaperLFNet()
    return model.eval() if eval_mode else model

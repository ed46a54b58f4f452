"""Differentiable torch version of the layered LF renderer (kernels.render_layers semantics).

view_(u,v)(x, y, c) = mean_r prod_l layers[l, r, c](x + b*planes[l]*u, y + b*planes[l]*v),
bilinear sampling with border clamp (grid_sample, align_corners=True, padding_mode="border").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def render_layers_torch(layers: torch.Tensor, planes: torch.Tensor, positions: torch.Tensor,
                        baseline: float = 1.0) -> torch.Tensor:
    """Render views of a batch of layered light fields.

    Args:
        layers: [N, L, R, 3, H, W] (or [L, R, 3, H, W] for a single image).
        planes: [N, L] (or [L]), disparity of each layer in px.
        positions: [P, 2] shared by the batch, or [N, P, 2]; (u, v) per view.
        baseline: scales the positions.
    Returns:
        [N, P, 3, H, W] (or [P, 3, H, W] for unbatched input).
    """
    single = layers.dim() == 5
    if single:
        layers, planes = layers[None], planes[None]
        if positions.dim() == 2:
            positions = positions[None]
    if layers.dim() != 6 or layers.shape[3] != 3:
        raise ValueError(f"layers must be [N, L, R, 3, H, W], got {tuple(layers.shape)}")
    n, L, R, _, h, w = layers.shape
    if planes.shape != (n, L):
        raise ValueError(f"planes must be [N, L] = {(n, L)}, got {tuple(planes.shape)}")
    if positions.dim() == 2:
        positions = positions[None].expand(n, -1, -1)
    if positions.dim() != 3 or positions.shape[0] != n or positions.shape[2] != 2:
        raise ValueError(f"positions must be [P, 2] or [N, P, 2], got {tuple(positions.shape)}")
    p = positions.shape[1]
    positions = positions.to(layers.dtype) * baseline
    ys = torch.arange(h, dtype=layers.dtype, device=layers.device)
    xs = torch.arange(w, dtype=layers.dtype, device=layers.device)
    # Normalised coordinates for align_corners=True: -1 at pixel 0, +1 at pixel W-1.
    sx = 2.0 / max(w - 1, 1)
    sy = 2.0 / max(h - 1, 1)
    out = None
    for l in range(L):
        shift = planes[:, l, None, None] * positions  # [N, P, 2]
        gx = (xs.view(1, 1, 1, w) + shift[..., 0, None, None]) * sx - 1.0  # [N, P, 1, W]
        gy = (ys.view(1, 1, h, 1) + shift[..., 1, None, None]) * sy - 1.0  # [N, P, H, 1]
        grid = torch.stack([gx.expand(n, p, h, w), gy.expand(n, p, h, w)], -1).reshape(n * p, h, w, 2)
        src = layers[:, l].reshape(n, 1, R * 3, h, w).expand(n, p, R * 3, h, w).reshape(n * p, R * 3, h, w)
        sampled = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=True)
        out = sampled if out is None else out * sampled
    views = out.reshape(n, p, R, 3, h, w).mean(2)
    return views[0] if single else views

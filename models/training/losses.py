"""Training losses of the students: label L1 (+ gradient L1), the DP render loss (warp the RGB with D to
the GT views), the LF reconstruction loss and its geometric / temporal consistency terms."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from models.render_torch import render_layers_torch
from models.training.config import DP_LABEL_WEIGHT


def gradient_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """L1 between horizontal and vertical finite differences (optionally masked).  [..., H, W] tensors."""
    dx = ((pred[..., :, 1:] - pred[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])).abs()
    dy = ((pred[..., 1:, :] - pred[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])).abs()
    if mask is None:
        return dx.mean() + dy.mean()
    mx = mask[..., :, 1:] * mask[..., :, :-1]
    my = mask[..., 1:, :] * mask[..., :-1, :]
    return (dx * mx).sum() / mx.sum().clamp(min=1) + (dy * my).sum() / my.sum().clamp(min=1)


def dp_loss(model, batch: dict) -> torch.Tensor:
    """L1 on D + 0.5 x gradient L1, over the pixels whose label is trusted."""
    return _label_loss(model(batch["dp"]), batch["disparity"], batch["valid"])


def _label_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    l1 = ((pred - target).abs() * valid).sum() / valid.sum().clamp(min=1)
    return l1 + 0.5 * gradient_l1(pred, target, valid)


def backward_warp(rgb: torch.Tensor, disparity: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """views(x, y) = rgb(x + D u, y + D v), bilinear, border clamp.  rgb [N,3,H,W], D [N,1,H,W],
    positions [N,P,2] -> [N,P,3,H,W]"""
    n, _, h, w = rgb.shape
    p = positions.shape[1]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=rgb.dtype, device=rgb.device),
                            torch.arange(w, dtype=rgb.dtype, device=rgb.device), indexing="ij")
    x = xs + disparity * positions[:, :, 0, None, None]          # [N,P,H,W]
    y = ys + disparity * positions[:, :, 1, None, None]
    grid = torch.stack([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], -1).reshape(n * p, h, w, 2)
    src = rgb[:, None].expand(n, p, 3, h, w).reshape(n * p, 3, h, w)
    return F.grid_sample(src, grid, align_corners=True, padding_mode="border").reshape(n, p, 3, h, w)


def dp_render_loss(model, batch: dict, label_weight: float = DP_LABEL_WEIGHT) -> torch.Tensor:
    """Implicit distillation: the views the blurred RGB warps to with D must match the sharp GT views,
    plus label_weight x L1 on D (so textureless regions still learn the label)."""
    return _render_loss(model(batch["dp"]), batch, label_weight)


def _render_loss(pred: torch.Tensor, batch: dict, label_weight: float = DP_LABEL_WEIGHT) -> torch.Tensor:
    views = backward_warp(batch["rgb"], pred, batch["positions"])
    valid = batch["valid"]
    label = ((pred - batch["disparity"]).abs() * valid).sum() / valid.sum().clamp(min=1)
    return 10.0 * (views - batch["views"]).abs().mean() + label_weight * label


def dp_mixed_loss(model, batch: dict, kind: str = "l1", label_weight: float = DP_LABEL_WEIGHT) -> torch.Tensor:
    """DP loss of a batch that may hold real captures (batch["real"], rows after the synthetic ones): one
    forward pass; "l1": dp_loss over all rows; "render": the render loss on the synthetic rows and the label
    loss (L1 + 0.5 gradient L1 on the teacher's D) on the real rows, weighted by their row counts."""
    if "real" not in batch:
        return dp_render_loss(model, batch, label_weight) if kind == "render" else dp_loss(model, batch)
    pred = model(batch["dp"])
    if kind != "render":
        return _label_loss(pred, batch["disparity"], batch["valid"])
    n = pred.shape[0]
    n_syn = int((batch["real"] == 0).sum())
    loss = pred.new_zeros(())
    if n_syn:
        syn = {k: batch[k][:n_syn] for k in ("rgb", "disparity", "valid")}
        loss = loss + (n_syn / n) * _render_loss(pred[:n_syn], dict(syn, positions=batch["positions"],
                                                                    views=batch["views"]), label_weight)
    if n_syn < n:
        loss = loss + ((n - n_syn) / n) * _label_loss(pred[n_syn:], batch["disparity"][n_syn:],
                                                      batch["valid"][n_syn:])
    return loss


def augment_disparity(d: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Imitate a DP student's disparity: blur (box, 1-7 px), global gain/offset error, noise.  [N,1,H,W]"""
    n = d.shape[0]
    k = int(torch.randint(0, 4, (1,), generator=generator)) * 2 + 1
    if k > 1:
        d = F.avg_pool2d(F.pad(d, (k // 2,) * 4, mode="replicate"), k, stride=1)
    gain = (1.0 + 0.05 * torch.randn(n, 1, 1, 1, generator=generator)).to(d.device)
    offset = (0.2 * torch.randn(n, 1, 1, 1, generator=generator)).to(d.device)
    return d * gain + offset + 0.1 * torch.randn(d.shape, generator=generator).to(d.device)


def lf_loss(model, batch: dict, generator: torch.Generator, geo: float = 0.0, temporal: float = 0.0) -> torch.Tensor:
    """LF reconstruction (L1 + gradient L1 on the views at random (u, v)), plus optionally
    geo x lf_geometric_loss (views consistent with the label D) and, on clips (batch["next_*"]),
    temporal x lf_temporal_loss (the views change between frames as the GT views do)."""
    views = _render_lf(model, batch, generator)
    target = batch["views"]
    loss = F.l1_loss(views, target) + gradient_l1(views, target)
    if geo > 0:
        loss = loss + geo * lf_geometric_loss(views, batch["disparity"], batch["valid"], batch["positions"])
    if temporal > 0:
        nxt = {k[5:]: v for k, v in batch.items() if k.startswith("next_")}
        views_next = _render_lf(model, dict(nxt, positions=batch["positions"]), generator)
        loss = loss + temporal * lf_temporal_loss(views, views_next, target, nxt["views"])
    return loss


def _render_lf(model, batch: dict, generator: torch.Generator) -> torch.Tensor:
    # the LF student's input imitates a DP student's D: dense (the teacher's label where it is trusted, the
    # GT elsewhere) and perturbed
    label = torch.where(batch["valid"] > 0, batch["disparity"], batch["gt_disparity"])
    disparity = augment_disparity(label, generator)
    layers, planes = model(batch["rgb"], batch["dp"], disparity)
    return render_layers_torch(layers, planes, batch["positions"])


def occlusion_free(disparity: torch.Tensor, reach: float) -> torch.Tensor:
    """1 where D varies by less than 1 px over a (2 reach + 1)-px window (no occlusion boundary near), else 0.
    [N,1,H,W] -> [N,1,H,W]"""
    k = 2 * int(math.ceil(reach)) + 1
    hi = F.max_pool2d(disparity, k, 1, k // 2)
    lo = -F.max_pool2d(-disparity, k, 1, k // 2)
    return (hi - lo < 1.0).to(disparity.dtype)


def lf_geometric_loss(views: torch.Tensor, disparity: torch.Tensor, valid: torch.Tensor,
                      positions: torch.Tensor) -> torch.Tensor:
    """Geometric consistency with a (teacher) disparity: every rendered view, warped back to the centre with
    D, must show the same image. views [N,P,3,H,W] at positions [N,P,2], D and valid [N,1,H,W] -> scalar.

    view_u(x - D(x) u) = centre(x) away from occlusions; the loss is the L1 between each view's warp and the
    mean of all warps, over trusted pixels with no occlusion boundary within the largest shift and at least
    that shift away from the image border (where the renderers clamp).
    """
    back = backward_warp_views(views, disparity, -positions)                   # [N,P,3,H,W]
    reach = float((disparity.abs().amax() * positions.abs().amax()).detach()) + 1.0
    border = torch.zeros_like(disparity)
    b = int(math.ceil(reach))
    border[..., b:-b, b:-b] = 1.0
    mask = (valid * border * occlusion_free(disparity, reach))[:, None]        # [N,1,1,H,W]
    err = (back - back.mean(1, keepdim=True)).abs() * mask
    return err.sum() / (mask.sum() * views.shape[1] * views.shape[2]).clamp(min=1)


def backward_warp_views(views: torch.Tensor, disparity: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """out[:, p](x, y) = views[:, p](x + D u_p, y + D v_p).  views [N,P,3,H,W], D [N,1,H,W], positions [N,P,2]
    -> [N,P,3,H,W] (bilinear, border clamp)"""
    n, p, c, h, w = views.shape
    flat = views.reshape(n * p, c, h, w)
    d = disparity[:, None].expand(n, p, 1, h, w).reshape(n * p, 1, h, w)
    return backward_warp(flat, d, positions.reshape(n * p, 1, 2)).reshape(n, p, c, h, w)


def lf_temporal_loss(views: torch.Tensor, views_next: torch.Tensor, target: torch.Tensor,
                     target_next: torch.Tensor) -> torch.Tensor:
    """Temporal consistency on a clip: the change of the rendered views between two frames must equal the
    change of the GT views (what the content did), so per-frame errors that come and go (flicker) cost twice.
    All [N,P,3,H,W] -> scalar."""
    return ((views_next - views) - (target_next - target)).abs().mean()

"""Validation during training (synthetic fixed batch; agreement with the teacher on real crops) and the dev
evaluation on an HCI-style light field (`evaluate_lightfield`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.render_torch import render_layers_torch


@torch.no_grad()
def validate(model, task: str, val: dict) -> dict:
    model.eval()
    val = to_device(val, next(model.parameters()).device)
    if task == "dp":
        pred = model(val["dp"])
        err = pred - val["gt_disparity"]
        out = {"val_l1_px": float(err.abs().mean()), "val_mse_px2": float(err.pow(2).mean())}
    else:
        layers, planes = model(val["rgb"], val["dp"], val["gt_disparity"])
        views = render_layers_torch(layers, planes, val["positions"]).clamp(0, 1)
        mse = (views - val["views"]).pow(2).mean(dim=(2, 3, 4))
        copy = (val["rgb"][:, None] - val["views"]).pow(2).mean(dim=(2, 3, 4))
        out = {"val_psnr": float((-10 * torch.log10(mse)).mean()),
               "val_copy_psnr": float((-10 * torch.log10(copy)).mean())}
    model.train()
    return out


def to_device(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


@torch.no_grad()
def validate_all(model, task: str, val: dict, real_val: dict | None) -> dict:
    out = validate(model, task, val)
    if real_val is not None:   # agreement with the teacher on real crops (training frames: not a held-out metric)
        model.eval()
        real_val = to_device(real_val, next(model.parameters()).device)
        err = (model(real_val["dp"]) - real_val["disparity"]).abs() * real_val["valid"]
        out["real_teacher_l1_px"] = float(err.sum() / real_val["valid"].sum().clamp(min=1))
        model.train()
    return out


def affine_fit_mse(pred: np.ndarray, gt: np.ndarray, border: int = 15) -> tuple[float, float]:
    """MSE after the least-squares affine fit a*pred + b ~ gt, with a border crop.  -> (mse_fit, mse_raw)"""
    p = pred[border:-border, border:-border].ravel().astype(np.float64)
    g = gt[border:-border, border:-border].ravel().astype(np.float64)
    a, b = np.linalg.lstsq(np.stack([p, np.ones_like(p)], 1), g, rcond=None)[0]
    return float(np.mean((a * p + b - g) ** 2)), float(np.mean((p - g) ** 2))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(-10.0 * np.log10(np.mean((np.clip(a, 0, 1) - b) ** 2)))


@torch.no_grad()
def evaluate_lightfield(folder, dp_model=None, lf_model=None, use_gt_for_lf: bool = False) -> dict:
    """Dev evaluation on an HCI-style 9x9 LF with DP synthesised over the full aperture (A = 9).

    Disparity: MSE x 100 in HCI units (d per view step, D = 2 c-bar d) after an affine fit, 15 px border.
    LF: mean PSNR over the 81 views (and over the 80 off-centre ones) at u, v = k / (2 c-bar), next to the
    copy baseline (rgb copied to every view).
    """
    from engine.conventions import half_aperture_centroid
    from engine.io.lightfield import load_light_field, synthesize_dp
    from engine.io.pfm import read_pfm

    views = load_light_field(folder).views.astype(np.float32) / np.float32(255.0)
    gt_path = Path(folder) / "gt_disp_lowres.pfm"
    gt_d = read_pfm(gt_path) if gt_path.exists() else None
    k = views.shape[0]
    cbar = half_aperture_centroid(k)
    left, right, rgb = synthesize_dp(views, k)
    out: dict = {"scene": Path(folder).name}
    dp_t = torch.from_numpy(np.stack([left, right]))[None]
    rgb_t = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
    gt_D = None if gt_d is None else 2.0 * cbar * gt_d
    D = None
    if dp_model is not None:
        dp_model.eval()
        D = dp_model(dp_t)[0, 0].numpy()
        if gt_D is not None:
            fit, raw = affine_fit_mse(D / (2.0 * cbar), gt_d)
            out["disp_mse100_affine"] = round(100 * fit, 3)
            out["disp_mse100_raw"] = round(100 * raw, 3)
    offs = np.arange(k) - (k - 1) / 2.0
    us = offs / (2.0 * cbar)
    vv, uu = np.meshgrid(us, us, indexing="ij")
    positions = torch.from_numpy(np.stack([uu.ravel(), vv.ravel()], -1).astype(np.float32))
    target = views.reshape(k * k, *views.shape[2:])
    centre = (k * k) // 2
    copy = [_psnr(rgb, t) for t in target]
    out["copy_psnr"] = round(float(np.mean(copy)), 3)
    out["copy_psnr_offcentre"] = round(float(np.mean(np.delete(copy, centre))), 3)
    if lf_model is not None:
        lf_model.eval()
        sources = {}
        if D is not None and not use_gt_for_lf:
            sources["student_D"] = D
        if gt_D is not None:
            sources["gt_D"] = gt_D
        for tag, disp in sources.items():
            layers, planes = lf_model(rgb_t, dp_t, torch.from_numpy(disp.astype(np.float32))[None, None])
            psnrs = []
            for chunk in positions.split(9):
                rendered = render_layers_torch(layers, planes, chunk)[0].permute(0, 2, 3, 1).numpy()
                psnrs.extend(_psnr(r, t) for r, t in zip(rendered, target[len(psnrs):len(psnrs) + len(chunk)]))
            out[f"lf_psnr_{tag}"] = round(float(np.mean(psnrs)), 3)
            out[f"lf_psnr_offcentre_{tag}"] = round(float(np.mean(np.delete(psnrs, centre))), 3)
    return out

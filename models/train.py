"""Training recipes for the students (`dplf train dp|lf`), on synthetic data rendered on the fly.

Python API:
    train(TrainConfig(task="dp", minutes=30, seed=0)) -> dict (metrics, paths)
    evaluate_lightfield(folder, dp_model=..., lf_model=...) -> dict   (dev evaluation on HCI-style LFs)

Data: models.synthetic scenes (mix of aperture="disc" and "lf-grid", max |D| from ~3 to 18 px, sensor noise)
kept in a small buffer that is refreshed every step and reused with flips (a flip is an exact symmetry of
the model: horizontal = swap left/right + u -> -u, vertical = v -> -v, D unchanged). For the DP student,
`dpmv=DIR` mixes in crops of real 3-view DP captures in the dpMV layout (models.dpmv; teacher labels from
SGBM on the rectified A/B/C views), `dpmv_ratio` of each batch.
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.render_torch import render_layers_torch
from export.onnx_export import state_hash
from models.students import build, count_parameters, model_card

MODEL_FOR_TASK = {"dp": "dp-disparity-v1", "lf": "lf-layers-v1"}
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


#: default weight of the L1 on the label D in the DP render loss (the shipped recipe)
DP_LABEL_WEIGHT = 0.05


@dataclass
class TrainConfig:
    task: str = "dp"                     # "dp" or "lf"
    minutes: float = 30.0                # wall-clock budget (stops at whichever of minutes/steps comes first)
    steps: int = 1_000_000
    seed: int = 0
    teacher: str = "gt"                  # "gt" (synthetic GT D) or "sgbm" (models.teacher on the 3-view rig)
    out: str = str(WEIGHTS_DIR)
    batch: int = 4
    size: int = 0                        # crop size; 0 = 128 for dp, 96 for lf
    lr: float = 0.0                      # 0 = 1e-3 for dp, 5e-4 for lf
    buffer: int = 64                     # samples kept in memory
    refresh: int = 2                     # new samples rendered per step
    views_per_sample: int = 3            # lf: GT views rendered per sample (random (u, v))
    max_disparity: tuple = (3.0, 18.0)   # a scene's SceneConfig.max_disparity is drawn uniformly in this range
    log_every: int = 25
    val_every: int = 200
    threads: int = 1
    export: bool = True
    eval_data: str = ""                  # folder of an HCI-style LF for the final dev evaluation (optional)
    dp_weights: str = ""                 # lf: DP student weights used for the dev evaluation's disparity
    name: str = ""                       # defaults to the registry name of the task's model
    keep_last: bool = False              # also save the last state dict as <name>.last.pt
    dp_loss: str = "l1"                  # dp: "l1" on D, or "render" (warp the RGB with D to random views)
    dp_label_weight: float = DP_LABEL_WEIGHT  # dp, render loss: weight of the L1 on the label D
    dpmv: str = ""                       # dp: real 3-view DP captures (a dpMV root or a folder of roots; models.dpmv)
    dpmv_ratio: float = 0.5              # dp: share of each batch drawn from the real captures
    synthetic: str = "v1"                # "v1" (layered scenes, disc / LF-grid apertures) or "v2" (realistic_config)
    max_u: float = 1.2                   # training views at |u|, |v| <= max_u (> 1: extrapolated baselines)
    device: str = "cpu"                  # "cpu" or "cuda" (the GPU recipe); weights are always saved for the CPU
    workers: int = 0                     # >0: render synthetic samples in that many processes (models.sample_pool)
    init: str = ""                       # start from these weights (.pt) instead of the registry's initialisation
    lf_geo: float = 0.0                  # lf: weight of geometric consistency of the rendered views with the label D
    lf_temporal: float = 0.0             # lf: weight of temporal consistency on 2-frame clips (renders clips)
    model_cfg: dict = field(default_factory=dict)

    @property
    def clips(self) -> bool:
        """Training samples are 2-frame clips (the LF temporal loss needs them)."""
        return self.task == "lf" and self.lf_temporal > 0

    def resolved(self) -> "TrainConfig":
        if self.task not in MODEL_FOR_TASK:
            raise ValueError(f"task must be one of {sorted(MODEL_FOR_TASK)}, got {self.task!r}")
        if self.dp_loss not in ("l1", "render"):
            raise ValueError(f"dp_loss must be 'l1' or 'render', got {self.dp_loss!r}")
        if self.synthetic not in ("v1", "v2"):
            raise ValueError(f"synthetic must be 'v1' or 'v2', got {self.synthetic!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.lf_geo < 0 or self.lf_temporal < 0:
            raise ValueError(f"lf_geo and lf_temporal are loss weights >= 0, got {self.lf_geo}, {self.lf_temporal}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.teacher not in ("gt", "sgbm"):
            raise ValueError(f"teacher must be 'gt' or 'sgbm', got {self.teacher!r}")
        if not 0.0 <= self.dpmv_ratio <= 1.0:
            raise ValueError(f"dpmv_ratio must be in [0, 1] (share of each batch from real captures), "
                             f"got {self.dpmv_ratio}")
        c = TrainConfig(**asdict(self))
        c.size = c.size or (128 if c.task == "dp" else 96)
        c.lr = c.lr or (1e-3 if c.task == "dp" else 5e-4)
        c.name = c.name or MODEL_FOR_TASK[c.task]
        if c.size % 16:
            raise ValueError(f"size must be a multiple of 16, got {c.size}")
        return c


# ----------------------------------------------------------------------------------------------- data
def _scene_config(rng: np.random.Generator, max_disparity: tuple = (3.0, 18.0)):
    from models.synthetic import SceneConfig

    return SceneConfig(
        max_disparity=float(rng.uniform(*max_disparity)),
        aperture=str(rng.choice(["disc", "lf-grid"])),
        aperture_views=int(rng.choice([9, 9, 3, 4])),  # full-aperture grids and the phone-like protocol
        noise=float(rng.uniform(0.002, 0.02)),
        bit_depth=8,
    )


def _view_positions(rng: np.random.Generator, count: int, max_u: float = 1.2) -> np.ndarray:
    """(u, v) in [-max_u, max_u]^2 with more mass off-centre (|u| ~ max_u sqrt(U)).  -> float32 [count, 2]

    max_u > 1 trains extrapolation beyond the aperture: the phone-like protocol asks for views at about
    3x the DP baseline (u up to ~3 on HCI)."""
    mag = max_u * np.sqrt(rng.uniform(0.0, 1.0, (count, 2)))
    return (mag * rng.choice([-1.0, 1.0], (count, 2))).astype(np.float32)


def render_training_sample(seed: int, size: int, task: str, teacher: str = "gt", views: int = 3,
                           max_disparity: tuple = (3.0, 18.0), with_views: bool = False,
                           synthetic: str = "v1", max_u: float = 1.2, clip: bool = False) -> dict:
    """One synthetic training sample as float32 CHW arrays: dp [2,H,W], rgb [3,H,W], disparity [1,H,W]
    (the label: GT or SGBM teacher), valid [1,H,W] (label trusted), gt_disparity [1,H,W], views [P,3,H,W], positions [P,2].
    clip=True: a 2-frame clip (camera pan and object motion); the second frame's arrays under "next_<key>"
    (same positions)."""
    from models.synthetic import render_clip, render_sample

    rng = np.random.default_rng([seed, 11])
    if synthetic == "v2":   # photos, curved/thin geometry, Pixel 4 optics, both protocols (docs/synthetic.md)
        from models.synthetic import realistic_config

        cfg = realistic_config(rng)
    else:
        cfg = _scene_config(rng, max_disparity)
    positions = _view_positions(rng, views, max_u) if task == "lf" or with_views else None
    baseline = 2.0 if teacher == "sgbm" else None
    if clip:
        frames = render_clip(seed, 2, size, size, positions=positions, cfg=cfg, stereo_baseline=baseline)
        out = _sample_arrays(frames[0], teacher)
        out.update({f"next_{k}": v for k, v in _sample_arrays(frames[1], teacher).items() if k != "positions"})
        return out
    return _sample_arrays(render_sample(seed, size, size, positions=positions, cfg=cfg, stereo_baseline=baseline),
                          teacher)


def _sample_arrays(s, teacher: str) -> dict:
    label, valid = s.disparity, np.ones_like(s.disparity)
    if teacher == "sgbm":
        from models.teacher import sgbm_teacher

        label, valid = sgbm_teacher(s.stereo, 2.0, d_range=(-20.0, 20.0), return_valid=True)
        label = np.asarray(label, np.float32).reshape(s.disparity.shape)
        valid = np.asarray(valid, np.float32).reshape(s.disparity.shape)
    return {
        "dp": np.stack([s.left, s.right]).astype(np.float32),
        "rgb": s.rgb.transpose(2, 0, 1).astype(np.float32),
        "disparity": label[None].astype(np.float32),
        "valid": valid[None].astype(np.float32),
        "gt_disparity": s.disparity[None].astype(np.float32),
        "views": s.views.transpose(0, 3, 1, 2).astype(np.float32),
        "positions": s.positions.astype(np.float32),
    }


def flip_sample(sample: dict, horizontal: bool, vertical: bool) -> dict:
    """Exact symmetries: horizontal flip swaps left/right and negates u; vertical flip negates v.
    Keys absent from a sample (views/positions of a real capture) are skipped; non-arrays pass through."""
    out = dict(sample)
    names = ("dp", "rgb", "disparity", "valid", "gt_disparity", "views")
    images = [k for k in names + tuple(f"next_{n}" for n in names) if k in out]
    if horizontal:
        for k in images:
            out[k] = out[k][..., ::-1]
        for k in ("dp", "next_dp"):
            if k in out:
                out[k] = out[k][::-1]
        if "positions" in out:
            out["positions"] = out["positions"] * np.array([-1.0, 1.0], np.float32)
    if vertical:
        for k in images:
            out[k] = out[k][..., ::-1, :]
        if "positions" in out:
            out["positions"] = out["positions"] * np.array([1.0, -1.0], np.float32)
    # real captures (models.dpmv) have no views/positions and carry a non-array "meta" entry
    return {k: np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for k, v in out.items()}


class SampleBuffer:
    """Ring buffer of rendered samples; deterministic given the seed.

    With `real` (a models.dpmv.DpmvStream) a second ring holds crops of real captures, and each batch takes
    a share cfg.dpmv_ratio of its rows from it (stochastic rounding); see batch()."""

    def __init__(self, cfg: TrainConfig, real=None):
        self.cfg = cfg
        self.rng = np.random.default_rng([cfg.seed, 3])
        self.next_seed = cfg.seed * 10_000_000
        self.items: list[dict] = []
        self.slot = 0
        self.real = real
        self.real_items: list[dict] = []
        self.real_slot = 0
        self.real_rng = np.random.default_rng([cfg.seed, 5])
        self.pool = None
        if cfg.workers:
            from functools import partial

            from models.sample_pool import SamplePool

            fn = partial(render_training_sample, size=cfg.size, task=cfg.task, teacher=cfg.teacher,
                         views=cfg.views_per_sample, max_disparity=tuple(cfg.max_disparity),
                         with_views=cfg.dp_loss == "render", synthetic=cfg.synthetic, max_u=cfg.max_u,
                         clip=cfg.clips)
            self.pool = SamplePool(fn, cfg.workers, self.next_seed + 1, in_flight=4 * cfg.workers)
        self._ready: list[dict] = []

    def _render(self) -> dict:
        if self.pool is not None:   # finished worker samples; wait for one only when none is ready
            if not self._ready:
                self._ready = self.pool.take(min_count=1)
            return self._ready.pop()
        self.next_seed += 1
        return render_training_sample(self.next_seed, self.cfg.size, self.cfg.task, self.cfg.teacher,
                                      self.cfg.views_per_sample, tuple(self.cfg.max_disparity),
                                      with_views=self.cfg.dp_loss == "render", synthetic=self.cfg.synthetic,
                                      max_u=self.cfg.max_u, clip=self.cfg.clips)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def refresh(self, count: int) -> None:
        if self.real is not None:
            # real crops are cheap once a frame is prepared; fewer synthetic renders when most rows are real
            for _ in range(count):
                if len(self.real_items) < self.cfg.buffer:
                    self.real_items.append(self.real.sample())
                else:
                    self.real_items[self.real_slot] = self.real.sample()
                    self.real_slot = (self.real_slot + 1) % self.cfg.buffer
            count = 0 if self.cfg.dpmv_ratio >= 1.0 else max(1, round(count * (1.0 - self.cfg.dpmv_ratio)))
        for _ in range(count):
            if len(self.items) < self.cfg.buffer:
                self.items.append(self._render())
            else:
                self.items[self.slot] = self._render()
                self.slot = (self.slot + 1) % self.cfg.buffer

    def _pick(self, items: list[dict], n: int, rng: np.random.Generator) -> list[dict]:
        idx = rng.integers(0, len(items), n)
        flips = rng.integers(0, 2, (n, 2))
        return [flip_sample(items[i], bool(fh), bool(fv)) for i, (fh, fv) in zip(idx, flips)]

    def batch(self, n: int) -> dict[str, torch.Tensor]:
        """Synthetic rows first, then real rows; with real data the dict also has "real" [N] (1.0 = a real
        crop) and "views"/"positions" only for the synthetic rows (real captures have no GT views)."""
        if self.real is None:
            picked = self._pick(self.items, n, self.rng)
            return {k: torch.from_numpy(np.stack([p[k] for p in picked])) for k in picked[0]}
        share = n * self.cfg.dpmv_ratio
        n_real = min(n, int(share) + int(self.real_rng.random() < share - int(share)))
        n_real = n if not self.items else n_real
        syn = self._pick(self.items, n - n_real, self.rng) if n_real < n else []
        real = self._pick(self.real_items, n_real, self.real_rng) if n_real else []
        rows = syn + real
        out = {k: torch.from_numpy(np.stack([p[k] for p in rows]))
               for k in ("dp", "rgb", "disparity", "valid", "gt_disparity")}
        for k in ("views", "positions"):
            if syn and k in syn[0]:
                out[k] = torch.from_numpy(np.stack([p[k] for p in syn]))
        out["real"] = torch.tensor([0.0] * len(syn) + [1.0] * len(real))
        return out


def fixed_batch(seed: int, n: int, size: int, task: str, teacher: str = "gt", views: int = 3,
                synthetic: str = "v1", max_u: float = 1.2) -> dict:
    samples = [render_training_sample(seed + i, size, task, teacher, views, synthetic=synthetic, max_u=max_u)
               for i in range(n)]
    return {k: torch.from_numpy(np.stack([s[k] for s in samples])) for k in samples[0]}


# --------------------------------------------------------------------------------------------- losses
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


# ------------------------------------------------------------------------------------------ training
def _lr_at(cfg: TrainConfig, step: int, elapsed: float) -> float:
    # A step budget gives a bit-reproducible schedule; a time budget (the default) depends on the machine.
    if cfg.steps < 1_000_000:
        progress = min(1.0, step / max(cfg.steps, 1))
    else:
        progress = min(1.0, elapsed / max(cfg.minutes * 60.0, 1e-6))
    warm = min(1.0, (step + 1) / 50.0)
    return cfg.lr * warm * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def validate(model, task: str, val: dict) -> dict:
    model.eval()
    val = _to_device(val, next(model.parameters()).device)
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


def _to_device(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def train(cfg: TrainConfig, log=print) -> dict:
    """Train one student; writes <out>/<name>.pt (best on synthetic validation), <name>.md, <name>.onnx
    (+ .fp16.onnx) and, with keep_last, <name>.last.pt."""
    cfg = cfg.resolved()
    torch.set_num_threads(max(1, cfg.threads))
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    out_dir = Path(cfg.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build(MODEL_FOR_TASK[cfg.task], **cfg.model_cfg)
    if cfg.init:
        model.load_state_dict(torch.load(cfg.init, map_location="cpu", weights_only=True))
    device = torch.device(cfg.device)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    val = fixed_batch(900_000_000 + cfg.seed, 8, cfg.size, cfg.task, "gt", cfg.views_per_sample,
                      cfg.synthetic, cfg.max_u if cfg.task == "lf" else 1.2)
    real, real_val = _real_data(cfg, log)
    buffer = SampleBuffer(cfg, real)
    buffer.refresh(min(cfg.buffer, 4 * cfg.batch))
    best_key = "val_l1_px" if cfg.task == "dp" else "val_psnr"
    best, best_metrics, history = None, {}, []
    start = time.time()
    step, running = 0, 0.0
    log(f"[train {cfg.name}] params={count_parameters(model)} cfg={json.dumps(asdict(cfg))}")
    log(f"[train {cfg.name}] step 0 {json.dumps(_validate_all(model, cfg.task, val, real_val))}")
    while step < cfg.steps and time.time() - start < cfg.minutes * 60.0:
        buffer.refresh(cfg.refresh)
        batch = _to_device(buffer.batch(cfg.batch), device)
        for g in opt.param_groups:
            g["lr"] = _lr_at(cfg, step, time.time() - start)
        if cfg.task == "lf":
            loss = lf_loss(model, batch, gen, cfg.lf_geo, cfg.lf_temporal)
        else:
            loss = dp_mixed_loss(model, batch, cfg.dp_loss, cfg.dp_label_weight)
        running += float(loss.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % cfg.log_every == 0:
            log(f"[train {cfg.name}] step {step} loss {running / cfg.log_every:.4f} "
                f"lr {opt.param_groups[0]['lr']:.2e} t {time.time() - start:.0f}s")
            running = 0.0
        if step % cfg.val_every == 0:
            metrics = _validate_all(model, cfg.task, val, real_val)
            history.append({"step": step, **metrics})
            log(f"[train {cfg.name}] step {step} {json.dumps(metrics)}")
            better = best is None or (metrics[best_key] < best_metrics[best_key] if cfg.task == "dp"
                                      else metrics[best_key] > best_metrics[best_key])
            if better:
                best = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                best_metrics = dict(metrics, step=step)
                torch.save(best, out_dir / f"{cfg.name}.pt")
    elapsed = time.time() - start
    buffer.close()
    final = _validate_all(model, cfg.task, val, real_val)
    model.cpu()
    history.append({"step": step, **final})
    if cfg.keep_last:
        torch.save(model.state_dict(), out_dir / f"{cfg.name}.last.pt")
    if best is None or (final[best_key] < best_metrics[best_key] if cfg.task == "dp"
                        else final[best_key] > best_metrics[best_key]):
        best, best_metrics = model.state_dict(), dict(final, step=step)
        torch.save(best, out_dir / f"{cfg.name}.pt")
    model.load_state_dict(best)
    model.eval()
    result = {"name": cfg.name, "steps": step, "seconds": round(elapsed, 1), "best": best_metrics,
              "final": final, "params": count_parameters(model), "training_hash": state_hash(model),
              "weights": str(out_dir / f"{cfg.name}.pt")}
    if real is not None:
        result["dpmv"] = real.summary()
    log(f"[train {cfg.name}] done {json.dumps(result)}")
    if cfg.eval_data:
        result["dev_eval"] = _dev_eval(cfg, model, out_dir, log)
    if cfg.export:
        from export.onnx_export import export_model

        info = export_model(model, cfg.name, out_dir / f"{cfg.name}.onnx")
        result["onnx"] = info
    write_model_card(cfg, result, out_dir / f"{cfg.name}.md")
    return result


def _real_data(cfg: TrainConfig, log):
    """(models.dpmv.DpmvStream or None, fixed batch of 4 real crops for the teacher-agreement metric)."""
    if not cfg.dpmv:
        return None, None
    if cfg.task != "dp":
        log(f"[train {cfg.name}] dpmv={cfg.dpmv!r} ignored: the {cfg.task} student trains on GT views, which "
            f"real 3-view captures do not have (only `dplf train dp` uses --dpmv)")
        return None, None
    if cfg.dpmv_ratio <= 0:
        log(f"[train {cfg.name}] dpmv={cfg.dpmv!r} ignored: dpmv_ratio is 0")
        return None, None
    from models.dpmv import DpmvStream

    real = DpmvStream(cfg.dpmv, cfg.size, seed=cfg.seed, log=lambda s: log(f"[train {cfg.name}] {s}"))
    log(f"[train {cfg.name}] dpmv: {len(real.captures)} frame(s) from {cfg.dpmv}, {cfg.dpmv_ratio:.0%} of each batch")
    rows = [real.sample() for _ in range(4)]
    return real, {k: torch.from_numpy(np.stack([r[k] for r in rows])) for k in ("dp", "disparity", "valid")}


@torch.no_grad()
def _validate_all(model, task: str, val: dict, real_val: dict | None) -> dict:
    out = validate(model, task, val)
    if real_val is not None:   # agreement with the teacher on real crops (training frames: not a held-out metric)
        model.eval()
        real_val = _to_device(real_val, next(model.parameters()).device)
        err = (model(real_val["dp"]) - real_val["disparity"]).abs() * real_val["valid"]
        out["real_teacher_l1_px"] = float(err.sum() / real_val["valid"].sum().clamp(min=1))
        model.train()
    return out


def _dev_eval(cfg: TrainConfig, model, out_dir: Path, log) -> dict:
    if cfg.task == "dp":
        res = evaluate_lightfield(cfg.eval_data, dp_model=model)
    else:
        dp_model = None
        dp_path = Path(cfg.dp_weights) if cfg.dp_weights else out_dir / f"{MODEL_FOR_TASK['dp']}.pt"
        if dp_path.exists():
            dp_model = build(MODEL_FOR_TASK["dp"])
            dp_model.load_state_dict(torch.load(dp_path, map_location="cpu"))
        res = evaluate_lightfield(cfg.eval_data, dp_model=dp_model, lf_model=model)
    log(f"[train {cfg.name}] dev eval {json.dumps(res)}")
    return res


def write_model_card(cfg: TrainConfig, result: dict, path: Path) -> None:
    card = model_card(cfg.name if cfg.name in MODEL_FOR_TASK.values() else MODEL_FOR_TASK[cfg.task])
    cmd = (f"dplf train {cfg.task} --minutes {cfg.minutes:g} --seed {cfg.seed} --teacher {cfg.teacher}"
           f" --size {cfg.size} --batch {cfg.batch} --lr {cfg.lr:g} --threads {cfg.threads}"
           + (f" --steps {cfg.steps}" if cfg.steps < 1_000_000 else "")
           + (f" --dp-loss {cfg.dp_loss}" if cfg.task == "dp" and cfg.dp_loss != "l1" else "")
           + (f" --dp-label-weight {cfg.dp_label_weight:g}" if cfg.task == "dp" and cfg.dp_loss == "render"
              and cfg.dp_label_weight != DP_LABEL_WEIGHT else "")
           + (f" --dpmv {cfg.dpmv} --dpmv-ratio {cfg.dpmv_ratio:g}" if "dpmv" in result else "")
           + (f" --synthetic {cfg.synthetic}" if cfg.synthetic != "v1" else "")
           + (f" --max-u {cfg.max_u:g}" if cfg.max_u != 1.2 else "")
           + (f" --buffer {cfg.buffer} --refresh {cfg.refresh}" if (cfg.buffer, cfg.refresh) != (64, 2) else "")
           + (f" --init {cfg.init}" if cfg.init else "")
           + (f" --lf-geo {cfg.lf_geo:g}" if cfg.task == "lf" and cfg.lf_geo else "")
           + (f" --lf-temporal {cfg.lf_temporal:g}" if cfg.task == "lf" and cfg.lf_temporal else "")
           + (f" --device {cfg.device} --workers {cfg.workers}" if cfg.device != "cpu" or cfg.workers else ""))
    where = (f"{torch.cuda.get_device_name()} (cuda)" if cfg.device == "cuda" and torch.cuda.is_available()
             else f"{platform.processor() or platform.machine()} CPU")
    lines = [
        f"# {cfg.name} (version {card['version']})", "",
        f"- Task: {card['task']}",
        f"- Architecture: {card['architecture']}",
        f"- Parameters: {result['params']:,}",
        f"- Inputs: {json.dumps(card['inputs'])}",
        f"- Outputs: {json.dumps(card['outputs'])}",
        f"- H, W multiples of {card['stride']} (the runtime pads)",
        ("- Training data: models.synthetic v2 scenes rendered on the fly (realistic_config: photos + procedural "
         "textures, curved and thin geometry, Pixel 4 / disc / LF-grid DP optics, both protocols, exposure/WB "
         "jitter, 8-14 bit; docs/synthetic.md), " if cfg.synthetic == "v2" else
         "- Training data: models.synthetic scenes rendered on the fly (layered textured planes, occlusions, "
         "thin-lens DP; aperture 'disc' and 'lf-grid' (9x9, 9x9, 3x3, 4x4 grids) mixed; max |D| 3-18 px; noise "
         "0.002-0.02; 8 bit), ")
        + f"{cfg.size}x{cfg.size} crops, batch {cfg.batch}, flips; labels: {cfg.teacher}"
        + (f"; started from {cfg.init}" if cfg.init else ""),
        f"- Command: `{cmd}`",
        f"- Seed: {cfg.seed}; steps: {result['steps']}; time: {result['seconds']:.0f} s on "
        f"{where}, {cfg.threads} thread(s)" + (f", {cfg.workers} sample workers" if cfg.workers else "")
        + f", torch {torch.__version__}",
        f"- Training hash (sha256 of the state dict): `{result['training_hash']}`",
        f"- Synthetic validation (8 fixed scenes): best {json.dumps(result['best'])}",
    ]
    if "dpmv" in result:
        r = result["dpmv"]
        cal = {"file": "calibration.json", "self": "self-calibrated per frame against the fixed DP matching",
               "file+self": "calibration.json or self-calibrated per frame"}.get(r["calibration"], r["calibration"])
        lines.append(f"- Real data (dpMV layout): `{r['path']}`: {r['frames']} frame(s) in {r['roots']} root(s), "
                     f"{r['frames_used']} used ({r['frames_failed']} refused), {cfg.dpmv_ratio:.0%} of each batch; "
                     f"labels: SGBM teacher on rectified A/B/C, D = gain * t + offset ({cal}"
                     + (f"; median gain {r['gain_median']}, offset {r['offset_median']}" if "gain_median" in r else "")
                     + ")" + (f"; final agreement with the teacher on real crops {result['final']['real_teacher_l1_px']:.3f} px"
                              if "real_teacher_l1_px" in result.get("final", {}) else ""))
    if "dev_eval" in result:
        lines.append(f"- Dev evaluation (HCI antinous, full aperture A=9): {json.dumps(result['dev_eval'])}")
    if "onnx" in result:
        o = result["onnx"]
        lines.append(f"- ONNX: opset {o.get('opset')}, max |ORT - torch| = {o.get('max_abs_err')}, "
                     f"GMACs/MP = {o.get('gmacs_per_megapixel')}, fp16: {o.get('fp16_path') or o.get('fp16_note')}")
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------- dev evaluation
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


# ---------------------------------------------------------------------------------------------- CLI
def train_command(
    task: str,
    minutes: float = 30.0,
    steps: int = 1_000_000,
    seed: int = 0,
    teacher: str = "gt",
    out: str = str(WEIGHTS_DIR),
    batch: int = 4,
    size: int = 0,
    lr: float = 0.0,
    threads: int = 1,
    export: bool = True,
    eval_data: str = "",
    dp_weights: str = "",
    dp_loss: str = "l1",
    dpmv: str = "",
    dpmv_ratio: float = 0.5,
    synthetic: str = "v1",
    max_u: float = 1.2,
    device: str = "cpu",
    workers: int = 0,
    init: str = "",
    buffer: int = 64,
    refresh: int = 2,
    lf_geo: float = 0.0,
    lf_temporal: float = 0.0,
    dp_label_weight: float = DP_LABEL_WEIGHT,
):
    """Train a student (task: dp | lf) on synthetic data, and for dp optionally real 3-view DP captures in
    the dpMV layout (--dpmv ROOT_OR_FOLDER, --dpmv-ratio share of each batch); writes weights, model card
    and ONNX to --out."""
    import typer

    try:
        cfg = TrainConfig(task=task, minutes=minutes, steps=steps, seed=seed, teacher=teacher, out=out,
                          batch=batch, size=size, lr=lr, threads=threads, export=export,
                          eval_data=eval_data, dp_weights=dp_weights, dp_loss=dp_loss,
                          dpmv=dpmv, dpmv_ratio=dpmv_ratio, device=device, workers=workers, init=init, synthetic=synthetic, max_u=max_u,
                          buffer=buffer, refresh=refresh, lf_geo=lf_geo, lf_temporal=lf_temporal,
                          dp_label_weight=dp_label_weight).resolved()
        if cfg.dpmv and cfg.task == "dp":
            from models.dpmv import find_captures

            find_captures(cfg.dpmv)     # fail before training starts, with the layout error
    except ValueError as exc:
        typer.echo(f"dplf train: {exc}", err=True)
        raise typer.Exit(2)
    result = train(cfg, log=lambda s: print(s, flush=True))
    typer.echo(json.dumps({k: v for k, v in result.items() if k != "onnx"}))


def main(argv: list[str] | None = None) -> None:
    import typer

    app = typer.Typer(add_completion=False)
    app.command()(train_command)
    app(args=argv if argv is not None else sys.argv[1:], standalone_mode=True)


if __name__ == "__main__":
    main()

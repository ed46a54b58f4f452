"""Training samples: synthetic scenes rendered on the fly (models.synthetic; mix of aperture "disc" and
"lf-grid", max |D| from ~3 to 18 px, sensor noise), their exact flip symmetries, and the ring buffer that
serves batches (refreshed every step, reused with flips; with real dpMV crops mixed in, models.dpmv).

A flip is an exact symmetry of the model: horizontal = swap left/right + u -> -u, vertical = v -> -v,
D unchanged.
"""
from __future__ import annotations

import numpy as np
import torch

from models.training.config import TrainConfig


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

"""The optimisation loop of `dplf train`: builds the task's registered default model, trains it on the
sample ring, keeps the best state dict on synthetic validation, then writes <name>.pt, the model card and
(models.onnx) the ONNX files."""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from models.architectures import build, count_parameters, default_model
from models.hashing import state_hash
from models.onnx import export_model
from models.training.card import write_model_card
from models.training.config import TrainConfig
from models.training.evaluation import evaluate_lightfield, to_device, validate_all
from models.training.losses import dp_mixed_loss, lf_loss
from models.training.samples import SampleBuffer, fixed_batch


def _lr_at(cfg: TrainConfig, step: int, elapsed: float) -> float:
    # A step budget gives a bit-reproducible schedule; a time budget (the default) depends on the machine.
    if cfg.steps < 1_000_000:
        progress = min(1.0, step / max(cfg.steps, 1))
    else:
        progress = min(1.0, elapsed / max(cfg.minutes * 60.0, 1e-6))
    warm = min(1.0, (step + 1) / 50.0)
    return cfg.lr * warm * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


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
    model = build(cfg.model, **cfg.model_cfg)
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
    log(f"[train {cfg.name}] step 0 {json.dumps(validate_all(model, cfg.task, val, real_val))}")
    while step < cfg.steps and time.time() - start < cfg.minutes * 60.0:
        buffer.refresh(cfg.refresh)
        batch = to_device(buffer.batch(cfg.batch), device)
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
            metrics = validate_all(model, cfg.task, val, real_val)
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
    final = validate_all(model, cfg.task, val, real_val)
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


def _dev_eval(cfg: TrainConfig, model, out_dir: Path, log) -> dict:
    if cfg.task == "dp":
        res = evaluate_lightfield(cfg.eval_data, dp_model=model)
    else:
        dp_model = None
        dp_path = Path(cfg.dp_weights) if cfg.dp_weights else out_dir / f"{default_model('dp')}.pt"
        if dp_path.exists():
            dp_model = build(default_model("dp"))
            dp_model.load_state_dict(torch.load(dp_path, map_location="cpu"))
        res = evaluate_lightfield(cfg.eval_data, dp_model=dp_model, lf_model=model)
    log(f"[train {cfg.name}] dev eval {json.dumps(res)}")
    return res

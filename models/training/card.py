"""The model card (<name>.md) written next to trained weights: task, architecture, command, data, metrics."""
from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from models.architectures import default_model, model_card
from models.training.config import DP_LABEL_WEIGHT, TrainConfig


def write_model_card(cfg: TrainConfig, result: dict, path: Path) -> None:
    card = model_card(cfg.model or default_model(cfg.task))   # the architecture train() built
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

"""`dplf train dp|lf`: the typer command (found through the dplf.commands entry point). Importable without
torch: training modules are imported when the command runs."""
from __future__ import annotations

import json
import sys

from models import WEIGHTS_DIR
from models.training.config import DP_LABEL_WEIGHT, TrainConfig


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
    model: str = "",
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
                          dp_label_weight=dp_label_weight, model=model).resolved()
        if cfg.dpmv and cfg.task == "dp":
            from models.dpmv import find_captures

            find_captures(cfg.dpmv)     # fail before training starts, with the layout error
    except ValueError as exc:
        typer.echo(f"dplf train: {exc}", err=True)
        raise typer.Exit(2)
    from models.training.loop import train

    result = train(cfg, log=lambda s: print(s, flush=True))
    typer.echo(json.dumps({k: v for k, v in result.items() if k != "onnx"}))


def main(argv: list[str] | None = None) -> None:
    import typer

    app = typer.Typer(add_completion=False)
    app.command()(train_command)
    app(args=argv if argv is not None else sys.argv[1:], standalone_mode=True)


if __name__ == "__main__":
    main()

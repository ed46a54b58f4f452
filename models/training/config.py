"""TrainConfig: every option of `dplf train`, with defaults and validation (resolved()). torch-free."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from models import WEIGHTS_DIR

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
    model: str = ""                      # registered architecture to train; defaults to the task's default
    name: str = ""                       # file stem of the weights; defaults to the model's name
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
        from models.architectures import default_model, list_models, tasks  # torch: only once a config is resolved

        if self.task not in tasks():
            raise ValueError(f"task must be one of {tasks()}, got {self.task!r}")
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
        c.model = c.model or default_model(c.task)
        if c.model not in list_models(c.task):
            raise ValueError(f"model must be one of the registered {c.task} models ({', '.join(list_models(c.task))}), "
                             f"got {c.model!r}")
        c.name = c.name or c.model
        if c.size % 16:
            raise ValueError(f"size must be a multiple of 16, got {c.size}")
        return c

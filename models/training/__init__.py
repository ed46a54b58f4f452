"""Training recipes for the students (`dplf train dp|lf`), on synthetic data rendered on the fly.

    from models.training.config import TrainConfig
    from models.training.loop import train
    train(TrainConfig(task="dp", minutes=30, seed=0)) -> dict (metrics, paths)

config (TrainConfig), samples (synthetic samples, flips, the batch ring), losses, evaluation (validation and
the HCI dev evaluation), card (the model card), loop (the optimisation loop), cli (`dplf train`, torch-free
at import). Nothing here is imported by this package's __init__, so `models.training.cli` stays torch-free.
"""

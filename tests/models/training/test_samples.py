"""Training samples (models/training/samples.py): flips are exact symmetries."""
import numpy as np
import torch

from models.training.samples import flip_sample

torch.set_num_threads(1)


def test_flip_is_an_exact_symmetry_of_the_sample_layout():
    sample = {"dp": np.random.rand(2, 4, 5).astype(np.float32), "rgb": np.random.rand(3, 4, 5).astype(np.float32),
              "disparity": np.random.rand(1, 4, 5).astype(np.float32), "valid": np.ones((1, 4, 5), np.float32),
              "gt_disparity": np.random.rand(1, 4, 5).astype(np.float32),
              "views": np.random.rand(2, 3, 4, 5).astype(np.float32),
              "positions": np.array([[0.5, -0.25], [-1.0, 1.0]], np.float32)}
    f = flip_sample(sample, True, False)
    np.testing.assert_array_equal(f["dp"][0], sample["dp"][1][:, ::-1])  # new left = mirrored right
    np.testing.assert_array_equal(f["disparity"], sample["disparity"][..., ::-1])  # D keeps its sign
    np.testing.assert_array_equal(f["positions"][:, 0], -sample["positions"][:, 0])
    g = flip_sample(sample, False, True)
    np.testing.assert_array_equal(g["dp"], sample["dp"][:, ::-1])
    np.testing.assert_array_equal(g["positions"][:, 1], -sample["positions"][:, 1])
    back = flip_sample(flip_sample(sample, True, True), True, True)
    for k in sample:
        np.testing.assert_array_equal(back[k], sample[k])

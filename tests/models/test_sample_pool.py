"""models.sample_pool: worker processes render exactly the samples the single-process path renders."""
import functools

from models.sample_pool import SamplePool
from models.training.samples import render_training_sample


def test_pool_renders_the_same_samples_as_the_main_process():
    fn = functools.partial(render_training_sample, size=32, task="dp")
    with SamplePool(fn, workers=2, first_seed=100, in_flight=4) as pool:
        got = []
        while len(got) < 4:
            got += pool.take(min_count=1)
    direct = {fn(s)["dp"].tobytes() for s in range(100, 100 + 12)}   # in-flight seeds run ahead of takes
    assert all(g["dp"].tobytes() in direct for g in got)
    assert len({g["dp"].tobytes() for g in got}) == len(got)

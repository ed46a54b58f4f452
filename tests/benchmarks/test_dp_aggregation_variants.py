"""The SGM experiment's aggregation (benchmarks/dp_aggregation_variants.py) on analytic cost volumes."""
import numpy as np

from benchmarks.dp_aggregation_variants import sgm_aggregate


def test_sgm_carries_a_confident_column_across_a_flat_row():
    cost = np.full((5, 3, 20), 0.5, np.float32)
    cost[:, :, 0] = np.array([1, 1, 1, 0, 1], np.float32)[:, None]   # only column 0 has evidence: j = 3
    agg = sgm_aggregate(cost, np.zeros((3, 20), np.float32), p1=0.05, p2=0.5)
    assert (agg.argmin(0) == 3).all()
    assert (cost[:, :, 1:].argmin(0) == 0).all()       # the raw cost alone has no preference there


def reference_sgm(cost, guide, p1, p2):
    """Hirschmueller's path recursion written out per pixel, vectorised over hypotheses."""
    n_j, h, w = cost.shape
    out = np.zeros_like(cost, dtype=np.float64)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        ys = range(h) if dy >= 0 else range(h - 1, -1, -1)
        xs = range(w) if dx >= 0 else range(w - 1, -1, -1)
        path = np.zeros_like(out)
        for y in ys:
            for x in xs:
                yp, xp = y - dy, x - dx
                if not (0 <= yp < h and 0 <= xp < w):
                    path[:, y, x] = cost[:, y, x]
                    continue
                prev = path[:, yp, xp]
                m = prev.min()
                big_p = max(p2 / (1 + 10 * abs(guide[y, x] - guide[yp, xp])), p1 + 1e-3)
                near = np.minimum(np.r_[np.inf, prev[:-1]], np.r_[prev[1:], np.inf]) + p1
                path[:, y, x] = cost[:, y, x] + np.minimum(np.minimum(prev, near), m + big_p) - m
        out += path
    return out


def test_sgm_matches_the_written_out_recursion():
    rng = np.random.default_rng(0)
    cost = rng.random((7, 6, 9)).astype(np.float32)
    guide = rng.random((6, 9)).astype(np.float32)
    np.testing.assert_allclose(sgm_aggregate(cost, guide, 0.1, 0.8), reference_sgm(cost, guide, 0.1, 0.8),
                               rtol=1e-5, atol=1e-5)


def test_an_intensity_edge_stops_the_propagation():
    cost = np.full((5, 1, 40), 0.5, np.float32)
    cost[:, :, 0] = np.array([1, 1, 1, 0, 1], np.float32)[:, None]
    cost[:, :, -1] = np.array([1, 0, 1, 1, 1], np.float32)[:, None]
    guide = np.zeros((1, 40), np.float32)
    guide[:, 20:] = 10.0                                   # a strong edge halfway
    d = sgm_aggregate(cost, guide, p1=0.05, p2=2.0).argmin(0)[0]
    assert (d[:15] == 3).all() and (d[25:] == 1).all()

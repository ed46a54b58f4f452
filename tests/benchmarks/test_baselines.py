"""Baselines: the paper's LF network (size, cost, shapes, ONNX export) and the classical SGBM+DIBR / copy rows."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.baselines.dibr_baseline import (SgbmDibr, copy_views, dibr_views, sgbm_disparity, to_u8,
                                                _remap_views)
from benchmarks.common import synthetic_frame

torch = pytest.importorskip("torch")
from benchmarks.baselines import paper_lf  # noqa: E402


@pytest.fixture(scope="module")
def paper_model():
    torch.set_num_threads(1)
    return paper_lf.build()


def test_paper_params_match_published(paper_model):
    params = paper_lf.count_params(paper_model)
    assert abs(params / paper_lf.PUBLISHED_PARAMS - 1) < 0.05, params


def test_paper_gmacs_match_published_at_256x192(paper_model):
    gmacs = paper_lf.count_gmacs(paper_model, 192, 256)
    assert abs(gmacs / paper_lf.PUBLISHED_GMACS_256x192 - 1) < 0.05, gmacs


def test_paper_architecture_is_the_published_one(paper_model):
    enc = paper_model.encoder
    assert [len(s) for s in enc.stages] == [1, 3, 14]
    assert [e.proj.out_channels for e in enc.embeds] == [64, 192, 384]
    assert enc.embeds[0].proj.in_channels == 5


def test_paper_output_shapes_and_ranges(paper_model):
    rgb, dp = torch.rand(2, 3, 64, 96), torch.rand(2, 2, 64, 96)
    with torch.no_grad():
        layers, planes = paper_model(rgb, dp)
    assert layers.shape == (2, 3, 12, 3, 64, 96)
    assert planes.shape == (2, 3)
    assert float(layers.min()) >= 0.0
    assert torch.all(planes[:, 1:] >= planes[:, :-1])  # sorted plane disparities
    assert float(planes.abs().max()) <= paper_lf.MAX_DISP


def test_paper_gmacs_scale_with_pixels(paper_model):
    small, big = paper_lf.count_gmacs(paper_model, 96, 128), paper_lf.count_gmacs(paper_model, 192, 256)
    assert 3.5 < big / small < 4.5  # dense network: ~linear in pixels (attention adds a little)


def test_paper_onnx_export_matches_torch(paper_model, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from benchmarks.speed import export_paper_onnx

    path = tmp_path / "paper.onnx"
    params, _ = export_paper_onnx(path, 48, 64)
    assert params == paper_lf.count_params(paper_model)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rgb = np.random.default_rng(1).random((1, 3, 48, 64), dtype=np.float32)
    dp = np.random.default_rng(2).random((1, 2, 48, 64), dtype=np.float32)
    layers, planes = sess.run(None, {"rgb": rgb, "dp": dp})
    with torch.no_grad():
        ref_layers, ref_planes = paper_lf.build()(torch.from_numpy(rgb), torch.from_numpy(dp))
    np.testing.assert_allclose(layers, ref_layers.numpy(), atol=1e-4)
    np.testing.assert_allclose(planes, ref_planes.numpy(), atol=1e-4)


# ---- classical baselines ---------------------------------------------------------------------------------
def _textured_pair(disparity: float, h=96, w=160, seed=0):
    """left/right with right(x) = left(x + D): a point at x_l sits at x_r = x_l - D (D = x_left - x_right)."""
    import cv2

    _, _, rgb = synthetic_frame(h, w + 40, seed=seed)
    tex = rgb.mean(-1)
    m = np.float32([[1, 0, disparity], [0, 1, 0]])
    right = cv2.warpAffine(tex, m, (w + 40, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT)
    return tex[:, 20:-20].copy(), right[:, 20:-20].copy()


@pytest.mark.parametrize("true_d", [3.0, -2.5, 0.75])
def test_sgbm_recovers_signed_uniform_disparity(true_d):
    left, right = _textured_pair(true_d)
    d = sgbm_disparity(left, right, max_disparity=8.0)
    assert d.shape == left.shape and d.dtype == np.float32
    assert abs(float(np.median(d[10:-10, 20:-20])) - true_d) < 0.25


def test_sgbm_rejects_mismatched_pair():
    with pytest.raises(ValueError, match="left/right"):
        sgbm_disparity(np.zeros((8, 8)), np.zeros((8, 9)))


def test_dibr_views_follow_spec_convention():
    # view(u, v)(x, y) = rgb(x + b*D*u, y + b*D*v): a uniform D is a pure translation of the centre image.
    _, _, rgb = synthetic_frame(64, 96)
    d = np.full((64, 96), 2.0, np.float32)
    pos = np.float32([[0.0, 0.0], [1.0, 0.0], [0.0, -1.0]])
    for views in (dibr_views(rgb, d, pos, 1.5), _remap_views(rgb, d, pos, 1.5)):
        np.testing.assert_allclose(views[0], rgb, atol=1e-5)
        np.testing.assert_allclose(views[1][:, 10:-10], rgb[:, 13:-7], atol=1e-4)   # x + 3
        np.testing.assert_allclose(views[2][10:-10], rgb[7:-13], atol=1e-4)         # y - 3


def test_copy_and_sgbm_dibr_shapes():
    left, right, rgb = synthetic_frame(48, 64)
    assert copy_views(to_u8(rgb), 5).shape == (5, 5, 48, 64, 3)
    base = SgbmDibr(views=3)
    d, views = base(left, right, rgb)
    assert d.shape == (48, 64) and views.shape == (3, 3, 48, 64, 3)
    assert set(base.timings) == {"disparity", "render", "total"}
    np.testing.assert_allclose(views[1, 1], rgb, atol=1e-5)  # centre view is the input image

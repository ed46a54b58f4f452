"""engine.Pipeline against an independent composition of its parts, plus bad-input handling."""
import sys

import numpy as np
import onnxruntime as ort
import pytest

from engine import Pipeline
from engine.backends import BackendUnavailable
from engine.conventions import grid_positions
from engine.model_store import ModelStore
from kernels.render_layers import render_layers_reference
from models.synthetic import SceneConfig, render_sample


@pytest.fixture(scope="module")
def sample():
    return render_sample(3, height=45, width=61, cfg=SceneConfig(max_disparity=4.0))  # odd sizes on purpose


@pytest.fixture(scope="module")
def pipe():
    return Pipeline(backend="ort-cpu", views=3, baseline=1.0, renderer="layers", dtype=np.float32)


def _edge_pad(a, h, w):
    return np.pad(a, [(0, 0)] * (a.ndim - 2) + [(0, h - a.shape[-2]), (0, w - a.shape[-1])], mode="edge")


def test_pipeline_matches_manual_composition(sample, pipe):
    """Pad -> ONNX students -> crop -> reference renderer, done by hand, equals Pipeline's output."""
    h, w = sample.left.shape
    hp, wp = -(-h // 16) * 16, -(-w // 16) * 16
    dp = _edge_pad(np.stack([sample.left, sample.right])[None], hp, wp).astype(np.float32)
    rgb = _edge_pad(sample.rgb.transpose(2, 0, 1)[None], hp, wp).astype(np.float32)
    store = ModelStore()
    dsess = ort.InferenceSession(str(store.path(store.default("dp").name)), providers=["CPUExecutionProvider"])
    disp = dsess.run(None, {"dp": dp})[0]
    lsess = ort.InferenceSession(str(store.path(store.default("lf").name)), providers=["CPUExecutionProvider"])
    feeds = {"rgb": rgb, "dp": dp, "disparity": disp}
    layers, planes = lsess.run(["layers", "planes"], {i.name: feeds[i.name] for i in lsess.get_inputs()})
    ref_views = render_layers_reference(np.ascontiguousarray(layers[0, ..., :h, :w]), planes[0],
                                        grid_positions(3, 1.0).reshape(-1, 2), 1.0)

    out = pipe(sample.left, sample.right, sample.rgb)
    assert out.disparity.shape == (h, w)
    np.testing.assert_allclose(out.disparity, disp[0, 0, :h, :w], atol=1e-4)
    assert out.views.shape == (3, 3, h, w, 3)
    np.testing.assert_allclose(out.views.reshape(9, h, w, 3), ref_views, atol=2e-4)
    assert set(out.timings) >= {"preprocess", "disparity", "lf", "render", "total"}


def test_render_reuses_layers(sample, pipe):
    out = pipe(sample.left, sample.right, sample.rgb).copy()
    again = out.render(grid_positions(3, 1.0).reshape(-1, 2), baseline=1.0)
    np.testing.assert_allclose(again.reshape(out.views.shape), out.views, atol=1e-6)


def test_uint8_and_uint16_inputs_agree_with_float(sample, pipe):
    ref = pipe(sample.left, sample.right, sample.rgb).copy()
    u16 = lambda a: np.round(a * 65535).astype(np.uint16)  # noqa: E731
    out = pipe(u16(sample.left), u16(sample.right), np.round(sample.rgb * 255).astype(np.uint8))
    assert np.abs(out.disparity - ref.disparity).mean() < 0.05


def test_dibr_renderer_centre_view_is_the_rgb(sample):
    pipe = Pipeline(backend="ort-cpu", views=3, renderer="dibr", dtype=np.float32)
    out = pipe(sample.left, sample.right, sample.rgb)
    np.testing.assert_allclose(out.views[1, 1], sample.rgb, atol=1e-5)


@pytest.mark.parametrize("args, match", [
    ((np.zeros((32, 32), np.float32), np.zeros((32, 40), np.float32)), "differ in size"),
    ((np.zeros((32, 32, 3), np.float32), np.zeros((32, 32, 3), np.float32)), "2-D"),
    ((np.full((32, 32), np.nan, np.float32), np.zeros((32, 32), np.float32)), "NaN"),
    ((np.zeros((32, 32), np.int32), np.zeros((32, 32), np.int32)), "dtype"),
    ((np.full((32, 32), 3.0, np.float32), np.zeros((32, 32), np.float32)), r"\[0, 1\]"),
])
def test_bad_inputs_raise_one_clear_line(pipe, args, match):
    with pytest.raises(ValueError, match=match) as err:
        pipe(*args)
    assert "\n" not in str(err.value)


def test_unknown_and_unavailable_backends():
    with pytest.raises(ValueError, match="unknown backend"):
        Pipeline(backend="tpu")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(BackendUnavailable, match="ort-cuda"):
            Pipeline(backend="ort-cuda")


def test_info_names_backend_and_models(pipe):
    info = pipe.info()
    assert info["backend"] == "ort-cpu" and info["backends"]["ort-cpu"]["ok"]
    store = ModelStore()
    assert set(info["models"]) == {store.default("dp").name, store.default("lf").name}
    assert all(len(m["sha256"]) == 64 for m in info["models"].values())


def test_runtime_does_not_import_torch():
    import subprocess

    code = ("import sys, numpy as np; from engine import Pipeline; import engine.cli, engine.run; "
            "p = Pipeline(backend='ort-cpu', views=2); p(np.random.rand(32, 32).astype('f4'), "
            "np.random.rand(32, 32).astype('f4')); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_views_are_uint8_by_default_and_match_the_float_views(sample):
    """uint8 is the default view dtype (written directly by the renderer); it is the float views rounded,
    up to one level where 255 * v lies within float rounding of k + 1/2."""
    u8 = Pipeline(backend="ort-cpu", views=3)(sample.left, sample.right, sample.rgb).copy()
    f32 = Pipeline(backend="ort-cpu", views=3, dtype=np.float32)(sample.left, sample.right, sample.rgb)
    assert u8.views.dtype == np.uint8 and f32.views.dtype == np.float32
    diff = np.abs(u8.views.astype(np.int16) - np.clip(np.rint(f32.views * 255), 0, 255).astype(np.int16))
    assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3
    assert u8.render(grid_positions(3, 1.0).reshape(-1, 2)).dtype == np.uint8
    again = u8.render(grid_positions(3, 1.0).reshape(-1, 2), dtype=np.float32)
    np.testing.assert_allclose(again.reshape(f32.views.shape), f32.views, atol=1e-6)


@pytest.mark.parametrize("renderer,views,expect", [("layers", 3, "render_layers"), ("dibr", 3, "dibr"),
                                                    ("layers", 0, None)])
def test_cpu_kernel_warm_up_at_construction(monkeypatch, renderer, views, expect):
    """The CPU renderer that will run is compiled (or loaded from numba's cache) in __init__, never in a frame."""
    import kernels.dibr
    import kernels.render_layers

    calls = []
    monkeypatch.setattr(kernels.dibr, "warm_up", lambda *a: calls.append("dibr"))
    monkeypatch.setattr(kernels.render_layers, "warm_up", lambda *a: calls.append("render_layers"))
    Pipeline(backend="ort-cpu", views=views, renderer=renderer)
    assert calls == ([expect] if expect else [])


def test_dibr_deblur_is_dibr_of_the_deblurred_rgb(sample):
    """renderer="dibr-deblur": the student's D, kernels.deblur on the RGB with it, then the same DIBR."""
    from kernels.deblur import deblur
    from kernels.dibr import dibr_warp, render_disparity

    pipe = Pipeline(backend="ort-cpu", views=3, renderer="dibr-deblur", dtype=np.float32, deblur_iterations=2)
    out = pipe(sample.left, sample.right, sample.rgb)
    sharp = deblur(sample.rgb.astype(np.float32), out.disparity, 2, 0.9, method="numpy")
    np.testing.assert_allclose(out.rgb, sharp, atol=1e-6)
    want = dibr_warp(sharp, render_disparity(out.disparity), grid_positions(3).reshape(-1, 2), 1.0)
    np.testing.assert_allclose(out.views.reshape(want.shape), want, atol=1e-5)
    assert "deblur" in out.timings and not np.allclose(out.rgb, sample.rgb, atol=1e-3)
    assert pipe.info()["deblur"] == {"iterations": 2, "radius": 0.9}
    plain = Pipeline(backend="ort-cpu", views=3, renderer="dibr", dtype=np.float32)(sample.left, sample.right,
                                                                                      sample.rgb)
    np.testing.assert_array_equal(plain.disparity, out.disparity)       # same D, only the warped image differs
    np.testing.assert_allclose(plain.views.reshape(want.shape), dibr_warp(sample.rgb.astype(np.float32),
                               render_disparity(plain.disparity), grid_positions(3).reshape(-1, 2), 1.0), atol=1e-5)
    with pytest.raises(ValueError, match="deblur_iterations"):
        Pipeline(backend="ort-cpu", views=3, renderer="dibr-deblur", deblur_iterations=-1)


def test_dibr_dp_warps_every_view_from_the_dp_halves(sample):
    """renderer="dibr-dp": the re-lit DP halves, each deblurred with a (R/2, R) box, warped from u = -/+ 1/2 with
    the median D; the centre column (u = 0, inside the halves) blends both; the RGB itself is not sharpened."""
    from kernels.deblur import deblur
    from kernels.dibr import dibr_warp, render_disparity
    from kernels.dp_views import half_aperture_rgb

    pipe = Pipeline(backend="ort-cpu", views=3, renderer="dibr-dp", dtype=np.float32, deblur_iterations=2)
    out = pipe(sample.left, sample.right, sample.rgb)
    rgb = sample.rgb.astype(np.float32)
    halves = half_aperture_rgb(rgb, sample.left.astype(np.float32), sample.right.astype(np.float32))
    for i in range(2):
        np.testing.assert_allclose(out.halves[i], deblur(halves[i], out.disparity, 2, (0.45, 0.9), method="numpy"),
                                   atol=1e-6)
    np.testing.assert_array_equal(out.rgb, rgb)
    views = out.views.reshape(9, *out.views.shape[2:])
    pos = grid_positions(3).reshape(-1, 2)
    d = render_disparity(out.disparity)
    assert not np.array_equal(d, out.disparity)      # the sample's D has outliers the median removes
    np.testing.assert_allclose(views[[0, 3, 6]], dibr_warp(out.halves[0], d, pos[[0, 3, 6]] + [0.5, 0], 1.0), atol=1e-5)
    np.testing.assert_allclose(views[[2, 5, 8]], dibr_warp(out.halves[1], d, pos[[2, 5, 8]] - [0.5, 0], 1.0), atol=1e-5)
    mean = (dibr_warp(out.halves[0], d, pos[[1, 4, 7]] + [0.5, 0], 1.0) +
            dibr_warp(out.halves[1], d, pos[[1, 4, 7]] - [0.5, 0], 1.0)) / 2
    np.testing.assert_allclose(views[[1, 4, 7]], mean, atol=1e-5)
    np.testing.assert_allclose(out.render(pos[:2]), views[:2], atol=1e-6)     # re-rendering uses the halves too
    assert pipe.info()["deblur"] == {"iterations": 2, "radius": 0.9}

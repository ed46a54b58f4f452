"""benchmarks/flicker_variants.py: its D filters and its dibr-dp rendering against the engine's."""
import numpy as np

from benchmarks.flicker_variants import TemporalEma, guided, render


def test_guided_filter_keeps_a_constant_and_an_edge_the_guide_shares():
    guide = np.zeros((32, 40), np.float32)
    guide[:, 20:] = 1.0
    np.testing.assert_allclose(guided(guide, np.full((32, 40), 3.0, np.float32)), 3.0, atol=1e-5)
    d = guide * 4.0
    out = guided(guide, d)
    assert np.abs(out - d).max() < 0.05     # a box filter of the same radius would spread the step by 4 px


def test_temporal_ema_averages_with_the_moved_previous_frame_where_they_agree():
    scene = np.random.default_rng(0).random((130, 140)).astype(np.float32)
    d_scene = np.tile(np.linspace(-2, 2, 140, dtype=np.float32), (130, 1))
    window = lambda a, y, x: a[y:y + 100, x:x + 100]  # noqa: E731
    ema = TemporalEma(compensate=True, delta_i=np.inf)   # phase correlation is sub-pixel: grey may not agree
    first = ema(window(d_scene, 0, 0) + 0.1, window(scene, 0, 0))
    np.testing.assert_array_equal(first, window(d_scene, 0, 0) + 0.1)   # nothing before the first frame
    second = ema(window(d_scene, 3, 5) - 0.1, window(scene, 3, 5))     # the window moved by (3, 5), D by -0.2
    # frame 1 moved into frame 2's coordinates is first[3:, 5:]: the average undoes the frame-wide D change
    np.testing.assert_allclose(second[:-3, :-5], d_scene[3:100, 5:100], atol=0.01)
    still = TemporalEma(compensate=False, delta_i=np.inf)
    still(first, window(scene, 0, 0))
    assert np.abs(still(window(d_scene, 3, 5) - 0.1, window(scene, 3, 5)) - window(d_scene, 3, 5)).mean() > 0.05
    jump = TemporalEma(compensate=True, delta_i=np.inf)
    jump(first, window(scene, 0, 0))
    np.testing.assert_array_equal(jump(window(d_scene, 3, 5) + 1.0, window(scene, 3, 5)),
                                  window(d_scene, 3, 5) + 1.0)    # |dD| >= 0.5 px: a real change, not blended


def test_dibr_dp_render_is_the_engine_s_with_the_d_it_is_given():
    """The benchmark's dibr-dp is the Pipeline's when handed the D the Pipeline warps with."""
    from engine import Pipeline
    from engine.conventions import grid_positions
    from kernels.dibr import render_disparity
    from models.synthetic import SceneConfig, render_sample

    sample = render_sample(4, height=40, width=56, cfg=SceneConfig(max_disparity=4.0))
    out = Pipeline(backend="ort-cpu", views=3, renderer="dibr-dp")(sample.left, sample.right, sample.rgb)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    got = render("dibr-dp", f32(sample.left), f32(sample.right), f32(sample.rgb), out.disparity,
                 render_disparity(out.disparity), grid_positions(3).reshape(-1, 2), 1.0, 0.9)
    np.testing.assert_array_equal(got, out.views.reshape(got.shape))

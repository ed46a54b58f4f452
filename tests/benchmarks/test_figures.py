"""benchmarks/figures.py on small synthetic arrays; quality.py's stereo-teacher row (units of D) and pictures."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from benchmarks import figures as F


def _lut_index(colour: np.ndarray, cmap: int) -> int:
    """Index of the colour-map entry nearest to an RGB colour."""
    lut = F.colormap_lut(cmap).astype(np.int64)
    return int(np.argmin(((lut - colour.astype(np.int64)) ** 2).sum(1)))


# ---- per-view PSNR heat-map ------------------------------------------------------------------------------
def test_heatmap_has_one_cell_per_view_and_the_right_size():
    psnr = np.array([[30.0, 31.5, 33.0, 34.5], [26.0, np.inf, 38.0, 39.0], [20.0, 27.5, 29.0, 45.0]])
    cell, lines = 40, ["scene / full / dplf", "mean 31 dB, worst 26 dB"]
    img = F.psnr_heatmap(psnr, 25.0, 40.0, lines, cell=cell, centre=(1, 1))
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    top = F.title_height(len(lines))
    assert img.shape[0] >= top + F.HEAT_TOP + 3 * cell and img.shape[1] > F.HEAT_LEFT + 4 * cell
    lut = F.colormap_lut(F.PSNR_CMAP)
    for v in range(3):
        for u in range(4):
            y0, y1, x0, x1 = F.heatmap_cell_box(v, u, cell, len(lines))
            want = lut[F.scale_index(psnr[v, u], 25.0, 40.0)]
            for y, x in ((y0 + 2, x0 + 2), (y0 + 2, x1 - 2), (y1 - 2, x0 + 2), (y1 - 2, x1 - 2)):
                assert (img[y, x] == want).all(), (v, u, y, x)
            assert (img[y0, x0 + cell // 2] == F.BG).all()         # separator line above each cell
    # exactly 3 x 4 cells: background right of the last column and below the last row
    y0, _, x0, _ = F.heatmap_cell_box(0, 4, cell, len(lines))
    assert (img[y0 + 2, x0 + 2] == F.BG).all()
    y0, _, x0, _ = F.heatmap_cell_box(3, 0, cell, len(lines))
    assert (img[y0 + 2, x0 + 2] == F.BG).all()
    # out-of-scale values saturate: 45 dB and inf take the top colour, 20 dB the bottom one
    assert (img[F.heatmap_cell_box(2, 3, cell, 2)[0] + 2, F.heatmap_cell_box(2, 3, cell, 2)[2] + 2] == lut[255]).all()
    assert (img[F.heatmap_cell_box(2, 0, cell, 2)[0] + 2, F.heatmap_cell_box(2, 0, cell, 2)[2] + 2] == lut[0]).all()


def test_heatmap_cell_colour_is_monotonic_in_psnr():
    values = np.linspace(24.0, 42.0, 10)
    img = F.psnr_heatmap(values[None, :], 24.0, 42.0, ["t"], cell=36)
    idx = []
    for u in range(values.size):
        y0, _, x0, _ = F.heatmap_cell_box(0, u, 36, 1)
        idx.append(_lut_index(img[y0 + 2, x0 + 2], F.PSNR_CMAP))
    assert idx[0] == 0 and idx[-1] == 255
    assert all(b > a for a, b in zip(idx, idx[1:])), idx
    # the scale is fixed: the same dB value gets the same colour in another method's map
    other = F.psnr_heatmap(np.array([[values[3], 30.0]]), 24.0, 42.0, ["other method"], cell=36)
    y0, _, x0, _ = F.heatmap_cell_box(0, 0, 36, 1)
    assert _lut_index(other[y0 + 2, x0 + 2], F.PSNR_CMAP) == idx[3]


# ---- disparity / error maps ------------------------------------------------------------------------------
def test_error_map_is_zero_coloured_where_prediction_equals_gt():
    rng = np.random.default_rng(0)
    h, w, b = 64, 80, 15
    gt = cv2.GaussianBlur(rng.uniform(-2, 2, (h, w)), (0, 0), 3).astype(np.float32)
    # an affine copy of the GT (gain 2, offset 1): the metric's fit undoes it; the border, which the fit and the
    # metrics leave out, is wrong
    pred = 2.0 * gt + 1.0
    pred[:b] += 5.0
    err, gain, offset = F.abs_error_after_fit(pred, gt, b)
    assert gain == pytest.approx(0.5) and offset == pytest.approx(-0.5)
    assert np.abs(err[b:-b, b:-b]).max() < 1e-6 and err[:b].min() > 1.0
    panel = F.colour_panel(err, 0.0, 1.0, F.ERR_CMAP, "|error|", "px", border=b)
    zero = F.colormap_lut(F.ERR_CMAP)[0]
    top = F.title_height(1)
    inner = panel[top + b + 1:top + h - b - 1, b + 1:w - b - 1]
    assert (inner == zero).all()
    assert not (panel[top:top + b, :w] == zero).all(-1).any()     # the (wrong, dimmed) border is not zero-coloured
    # the full figure: prediction, GT and error panels with colour bars; the error panel's interior is zero-coloured
    fig = F.disparity_figure(pred, gt, (-2.0, 2.0), ["title"], border=b)
    assert fig.dtype == np.uint8 and fig.shape[1] > 3 * w
    assert (fig == zero).all(-1).sum() >= inner.shape[0] * inner.shape[1]
    alone = F.disparity_figure(pred, None, (-3.0, 5.0), ["no GT"])
    assert alone.shape[1] < fig.shape[1]


def test_colorbar_is_labelled_and_ordered():
    bar = F.colorbar(0.0, 1.0, 120, F.ERR_CMAP, "px", ticks=[0.0, 0.07, 0.5, 1.0])
    assert bar.shape[0] == 120 and bar.dtype == np.uint8
    column = bar[18:114, 2 + 7]                                   # the bar's middle column, top to bottom
    idx = [_lut_index(c, F.ERR_CMAP) for c in column]
    assert idx[0] == 255 and idx[-1] == 0 and all(b <= a for a, b in zip(idx, idx[1:]))
    assert (bar[:, 30:] != F.BG).any()                            # tick labels drawn right of the bar


# ---- contact sheet ---------------------------------------------------------------------------------------
def _views(nv=3, nu=4, h=40, w=60, seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    views = np.empty((nv, nu, h, w, 3), np.uint8)
    for v in range(nv):
        for u in range(nu):   # every view distinct: a per-view brightness ramp
            views[v, u] = np.clip(base * 180 + 10 * (v * nu + u), 0, 255).astype(np.uint8)
    return views


def test_contact_sheet_tiles_views_in_order():
    views = _views()
    sheet = F.contact_sheet(views, max_width=130, sep=2)
    scale, th, tw = F.contact_sheet_geometry(3, 4, 40, 60, 130, 2)
    assert scale < 1 and sheet.shape == (2 + 3 * (th + 2), 2 + 4 * (tw + 2), 3) and sheet.shape[1] <= 130
    for v in range(3):
        for u in range(4):
            y0, y1, x0, x1 = F.contact_sheet_tile_box(v, u, th, tw, 2)
            want = cv2.resize(views[v, u], (tw, th), interpolation=cv2.INTER_AREA)
            assert np.array_equal(sheet[y0:y1, x0:x1], want), (v, u)
            assert (sheet[y0 - 2:y0, x0:x1] == 255).all() and (sheet[y0:y1, x0 - 2:x0] == 255).all()
    full = F.contact_sheet(views, max_width=2000)                 # fits: no downscaling
    y0, y1, x0, x1 = F.contact_sheet_tile_box(2, 1, 40, 60)
    assert np.array_equal(full[y0:y1, x0:x1], views[2, 1])


def test_save_png_round_trip(tmp_path):
    img = F.add_title(_views()[0, 0], ["a title"])
    path = F.save_png(tmp_path / "sub" / "x.png", img)
    back = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
    assert np.array_equal(back, img)


# ---- the stereo teacher on a light field (units of D) ----------------------------------------------------
def _constant_disparity_lf(k, d, h=64, w=96, seed=0):
    """A textured plane seen by a K x K LF, I[r, c](x, y) = T(x + d (c - ctr), y + d (r - ctr)) (the HCI
    convention; SPEC §2 with D = 2 c-bar d). uint8 [K, K, H, W, 3]."""
    rng = np.random.default_rng(seed)
    m = 40
    tex = cv2.GaussianBlur(rng.random((h + 2 * m, w + 2 * m, 3)).astype(np.float32), (0, 0), 1.2)
    tex = 0.5 + 0.15 * (tex - tex.mean()) / tex.std()
    ctr = (k - 1) / 2
    views = np.empty((k, k, h, w, 3), np.uint8)
    for r in range(k):
        for c in range(k):
            a = np.float32([[1, 0, m + d * (c - ctr)], [0, 1, m + d * (r - ctr)]])
            v = cv2.warpAffine(tex, a, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
            views[r, c] = np.clip(np.rint(v * 255), 0, 255)
    return views


@pytest.mark.parametrize("k, d", [(5, 1.0), (9, -0.6), (7, 1.7), (6, 0.8), (10, -0.5)])
def test_teacher_recovers_d_in_both_protocols(k, d):
    from benchmarks import quality
    from engine.conventions import half_aperture_centroid

    views = _constant_disparity_lf(k, d)
    for protocol, a in quality.protocol_apertures(k).items():
        expected = 2.0 * half_aperture_centroid(a) * d
        got = quality.teacher_disparity(views, a)[10:-10, 10:-10]
        assert abs(float(np.median(got)) - expected) < 0.3, (protocol, expected, np.median(got))
        assert float(np.abs(got - expected).mean()) < 0.3, protocol
    # the rig's order matters: mirroring the LF's columns (u -> -u) measures -D
    mirrored = quality.teacher_disparity(np.ascontiguousarray(views[:, ::-1]), k)[10:-10, 10:-10]
    assert abs(float(np.median(mirrored)) + 2.0 * half_aperture_centroid(k) * d) < 0.3


def test_teacher_rig_uses_the_centre_row():
    from benchmarks import quality

    assert quality.teacher_rig(9) == (4, 4, 4) and quality.teacher_rig(7) == (3, 3, 3)
    assert quality.teacher_rig(10) == (4, 4, 4)                  # even K: centred half a step up-left
    with pytest.raises(ValueError, match="3x3"):
        quality.teacher_rig(2)


def test_teacher_row_figures_and_report_check(tmp_path):
    """Teacher row with disparity metrics on both protocols, pictures written and listed, nothing of §9 missing."""
    from benchmarks import quality

    views = _constant_disparity_lf(5, 1.0, h=64, w=80)
    gt = np.full((64, 80), 1.0, np.float32)
    sink = quality.FigureSink(tmp_path / "figs", tmp_path, sheets="all")
    rows = quality.evaluate_scene(views, gt, "plane", None, log=lambda m: None, figures=sink)
    by = {(r["protocol"], r["name"]): r for r in rows}
    for protocol in ("full", "phone"):
        t = by[(protocol, quality.TEACHER)]
        assert t["metrics"]["disp_mse_x100"] < 1.0 and t["kind"] == "baseline"
        # DIBR of the same (defocused) RGB as the GT-disparity oracle: as good as the oracle, better than copy
        assert t["metrics"]["psnr_mean"] > by[(protocol, "oracle-dibr")]["metrics"]["psnr_mean"] - 0.3
        assert t["metrics"]["psnr_mean"] > by[(protocol, "copy")]["metrics"]["psnr_mean"] + 2
        assert t["teacher"]["views"] == [[2, 0], [2, 2], [2, 4]]
        assert "psnr_centre" in t["metrics"]
    for a in (5, 3):
        rows += quality.temporal_stability(views, gt, 3, 48, None, a, log=lambda m: None, teacher=True)
    assert quality.report_gaps(rows) == []
    assert quality.report_gaps([r for r in rows if r["name"] != quality.TEACHER or r["scene"] != "temporal"])
    names = {p.split("/")[-1] for p in sink.paths}
    assert all((tmp_path / p).is_file() for p in sink.paths) and len(names) == len(sink.paths)
    for protocol in ("full", "phone"):
        for method in ("copy", "sgbm-dibr", quality.TEACHER, "oracle-dibr"):
            assert f"plane_{protocol}_{method}_psnr.png" in names
        assert f"plane_{protocol}_{quality.TEACHER}_disparity.png" in names
        assert f"plane_{protocol}_oracle-dibr_disparity.png" not in names   # the oracle's D is the GT
    assert "plane_gt_views.png" in names


# ---- the quick run on real data --------------------------------------------------------------------------
@pytest.mark.data
def test_quick_run_writes_readable_figures(data_dir, tmp_path):
    from benchmarks import quality

    out = tmp_path / "q.json"
    assert quality.main(["--quick", "--json", str(out), "--data", str(data_dir)]) == 0
    doc = json.loads(out.read_text())
    assert doc["figures"] and doc["report_missing"] == []
    assert all(p.startswith("q-figures/") for p in doc["figures"])
    for rel in doc["figures"]:
        img = cv2.imread(str(tmp_path / rel), cv2.IMREAD_COLOR)
        assert img is not None and img.ndim == 3 and min(img.shape[:2]) > 20, rel
    names = {p.split("/")[-1] for p in doc["figures"]}
    assert "hci-antinous_gt_views.png" in names
    for protocol in ("full", "phone"):
        assert f"hci-antinous_{protocol}_{quality.TEACHER}_disparity.png" in names
        assert f"hci-antinous_{protocol}_sgbm-dibr_psnr.png" in names
    teacher = [r for r in doc["rows"] if r["name"] == quality.TEACHER]
    assert {(r["scene"], r["protocol"]) for r in teacher} >= {("hci/antinous", "full"), ("hci/antinous", "phone"),
                                                              ("temporal", "full"), ("temporal", "phone")}
    lf = [r for r in teacher if r["scene"] != "temporal"]
    # one set of three images: the two protocols' teacher D agree once in GT units (d = D / 2 c-bar)
    assert lf[0]["metrics"]["disp_mse_x100"] == pytest.approx(lf[1]["metrics"]["disp_mse_x100"], rel=1e-3)
    for r in doc["rows"]:
        if r["scene"] != "temporal":
            assert all(f in doc["figures"] for f in r["figures"])

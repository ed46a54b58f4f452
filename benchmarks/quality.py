"""Quality benchmark on real light fields with DP synthesised from them (docs/benchmarks.md).

    python benchmarks/quality.py                      # dev scenes: hci/antinous, lytro/illum_2067 (inner 7x7),
                                                      # lytro/lytro1_IMG_0001 (10x10); both protocols
    python benchmarks/quality.py --quick              # one small crop of hci/antinous (for tests)
    python benchmarks/quality.py --json benchmarks/results/quality-cpu-DATE.json   # + ...-DATE-figures/*.png
    python benchmarks/quality.py --holdout            # ACCEPTANCE ONLY: the holdout scenes instead
    python benchmarks/quality.py --demo-only          # only the demo sample vs its ground truth (no data folder)

Per scene and protocol (full aperture A = K; phone-like A = 3 for odd K, 4 for even K): DP is synthesised
from the central A x A views (engine.io.lightfield.synthesize_dp) and every method renders the K x K grid at
the GT views' positions u = k / (2 c-bar) (views = K, baseline = max|k| / (2 c-bar)). LF PSNR/SSIM are
per view on uint8, mean and worst over all views but the centre one. Methods: `dplf` (engine.Pipeline with
its default renderer: the DP student's disparity + DIBR), `dplf-deblur` (the same D, the RGB first sharpened by
kernels/deblur.py, renderer "dibr-deblur"), `dplf-dp` (the same D; views left / right of the centre column
warped from the sharpened left / right DP half, renderer "dibr-dp"), `dplf-layers` (the LF student + layered
renderer),
`copy` (full-aperture RGB in every view),
`sgbm-dibr` (OpenCV SGBM on the DP pair + DIBR), `teacher-sgbm-3view` (models.teacher.sgbm_teacher, the
training teacher, on three real views of the LF's centre row, in D units, + DIBR: it sees wider-baseline
views than the DP students ever do) and, on HCI, `oracle-dibr` (DIBR with the GT disparity, D = 2 c-bar d) and
`oracle-sharp-dibr` (DIBR of the sharp centre view of the LF with the GT disparity, odd K: what a renderer that
undid the defocus could reach; the gap between the two oracles is the defocus of the full-aperture RGB).
Disparity metrics on HCI in the GT's units (d = D / (2 c-bar)), raw and after the affine fit. Temporal
stability: a video made by sliding a crop window over HCI antinous by known integer steps; flicker = mean |difference| of consecutive outputs after undoing the motion (uint8 levels for views, pixels
of D for disparity); the inputs are exact crops, so a perfectly shift-equivariant method scores 0.
Real DP (benchmarks/real_dp.py): the Pixel 4 captures (dev 001-006; --holdout: 015), Spearman rank correlation
of |D - D0| with the defocus-map GT for dplf's D and OpenCV SGBM's (`--dp-model NAME` picks the DP student).

Pictures (benchmarks/figures.py), written next to the JSON (`<json>-figures/`, or `--figures DIR`): per scene
and protocol a per-view PSNR heat-map for every method (one dB scale per scene), disparity / GT / |error|
maps for the methods that estimate disparity, and contact sheets of the rendered views (dplf, dplf-layers;
`--sheets all` adds the baselines) and of the ground-truth LF. The JSON lists them under "figures".

Demo sample (benchmarks/demo_truth.py; rows with scene "demo"): the DP student and SGBM on every frame of
samples/demo.dp against the ground truth shipped beside it (samples/demo_gt.npz): Pearson correlation per frame,
its mean and minimum, and the mean absolute error after an affine fit. `--no-demo` skips it.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import demo_truth
from benchmarks import metrics as M
from benchmarks.common import DEFAULT_DATA, device_string, fmt, host_info, print_table, write_json
from benchmarks.teacher_views import (TEACHER, TEACHER_PAIR_REACH_PX, sgbm_settings,  # noqa: F401
                                     teacher_disparity, teacher_rig)
from benchmarks.real_dp import real_dp_rows, summary
from benchmarks.quality_figures import FigureSink, psnr_scale, slug  # noqa: F401 - part of this script's API
from benchmarks.temporal import DPLF_RENDERERS, SHARP_ORACLE, crop_offsets, temporal_stability  # noqa: F401


@dataclass(frozen=True)
class Scene:
    path: str                  # relative to the data folder
    inner: int | None = None   # use only the central inner x inner views
    gt: str | None = None      # GT disparity file (HCI), per view step


DEV_SCENES = (Scene("hci/antinous", gt="gt_disp_lowres.pfm"),
              Scene("lytro/illum_2067", inner=7),   # its corner views are vignetted
              Scene("lytro/lytro1_IMG_0001"))
HOLDOUT_SCENES = (Scene("hci/backgammon", gt="gt_disp_lowres.pfm"), Scene("lytro/lytro1_IMG_0002"))
HOLDOUT_NAMES = ("backgammon", "lytro1_IMG_0002", "015")
TEMPORAL_SCENE = Scene("hci/antinous", gt="gt_disp_lowres.pfm")


def is_holdout(path: str) -> bool:
    return any(name in path for name in HOLDOUT_NAMES)


# ---- inputs ----------------------------------------------------------------------------------------------
def load_scene(data: Path, scene: Scene, crop: int | None = None, cache: dict | None = None):
    """(views uint8 [K, K, H, W, 3], gt d [H, W] or None). crop: keep a central crop x crop window.
    cache: a dict that keeps the uncropped scene between calls (the temporal video reuses a scene)."""
    from engine.io.lightfield import load_light_field

    key = (str(data), scene.path, scene.inner, scene.gt)
    if cache is not None and key in cache:
        views, gt = cache[key]
    else:
        views = load_light_field(data / scene.path).views
        if scene.inner:
            lo = (views.shape[0] - scene.inner) // 2
            views = views[lo:lo + scene.inner, lo:lo + scene.inner]
        gt = None
        if scene.gt:
            from engine.io.pfm import read_pfm

            gt = read_pfm(data / scene.path / scene.gt).astype(np.float32)
        if cache is not None:
            cache[key] = (views, gt)
    if crop:
        h, w = views.shape[2:4]
        y0, x0 = (h - crop) // 2, (w - crop) // 2
        views = views[:, :, y0:y0 + crop, x0:x0 + crop]
        gt = None if gt is None else gt[y0:y0 + crop, x0:x0 + crop]
    return np.ascontiguousarray(views), gt


def protocol_apertures(grid: int) -> dict[str, int]:
    from engine.conventions import phone_like_aperture

    return {"full": grid, "phone": phone_like_aperture(grid)}


# ---- methods: each returns (views uint8 [K, K, H, W, 3], D [H, W] or None, ms) ----------------------------
class DplfRunner:
    """engine.Pipeline instances, cached per (renderer, views, baseline)."""

    def __init__(self, backend: str = "ort-cpu", threads: int | None = None, models_dir=None,
                 dp_model: str | None = None, deblur_iterations: int | None = None):
        self.backend, self.threads, self.models_dir, self._pipes = backend, threads, models_dir, {}
        self.dp_model = dp_model
        self.deblur_iterations = deblur_iterations   # None: the Pipeline's default (dibr-deblur, dibr-dp)
        self.error: str | None = None
        self.info: dict | None = None

    def pipe(self, renderer: str, views: int, baseline: float):
        key = (renderer, views, round(baseline, 6))
        if key not in self._pipes:
            from engine import Pipeline

            extra = {"deblur_iterations": self.deblur_iterations} \
                if self.deblur_iterations is not None and renderer in ("dibr-deblur", "dibr-dp") else {}
            self._pipes[key] = Pipeline(backend=self.backend, views=views, baseline=baseline, renderer=renderer,
                                        dtype=np.uint8, threads=self.threads, models_dir=self.models_dir,
                                        dp_model=self.dp_model, **extra)
            self.info = self.info or self._pipes[key].info()
        return self._pipes[key]

    def __call__(self, renderer, left, right, rgb, views, baseline):
        out = self.pipe(renderer, views, baseline)(left, right, rgb)
        return out.views.copy(), out.disparity.copy(), out.timings.get("total")

    def disparity(self, left, right):
        """D only (no views): the real-DP section's dplf method."""
        return self.pipe("dibr", 0, 1.0)(left, right).disparity.copy()

    def available(self) -> bool:
        if self.error is None:
            try:
                self.pipe("dibr", 1, 1.0)
            except Exception as exc:  # noqa: BLE001 - missing engine/weights: skip the dplf rows, say why
                self.error = f"{type(exc).__name__}: {exc}"
        return self.error is None


def _timed(fn, *args):
    t = time.perf_counter()
    res = fn(*args)
    return res, (time.perf_counter() - t) * 1e3


def run_baselines(left, right, rgb, k: int, baseline: float, aperture: int, gt_d, cbar: float,
                  views_u8: np.ndarray | None = None) -> dict:
    """The baselines' (views uint8 [K, K, H, W, 3], D [H, W] or None, ms) by name. views_u8: the real LF (for the
    stereo teacher; no teacher row without it)."""
    from benchmarks.baselines.dibr_baseline import copy_views, dibr_views, sgbm_disparity, to_u8
    from engine.conventions import grid_positions

    pos = grid_positions(k, 1.0).reshape(-1, 2)
    shape = (k, k) + rgb.shape
    out = {}
    t = time.perf_counter()
    out["copy"] = (np.ascontiguousarray(copy_views(to_u8(rgb), k)), None, (time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    d = sgbm_disparity(left, right, **sgbm_settings(aperture))
    out["sgbm-dibr"] = (to_u8(dibr_views(rgb, d, pos, baseline)).reshape(shape), d, (time.perf_counter() - t) * 1e3)
    if views_u8 is not None and k >= 3:
        t = time.perf_counter()
        d = teacher_disparity(views_u8, aperture)
        out[TEACHER] = (to_u8(dibr_views(rgb, d, pos, baseline)).reshape(shape), d, (time.perf_counter() - t) * 1e3)
    if gt_d is not None:
        d = (2.0 * cbar * gt_d).astype(np.float32)
        t = time.perf_counter()
        out["oracle-dibr"] = (to_u8(dibr_views(rgb, d, pos, baseline)).reshape(shape), d,
                              (time.perf_counter() - t) * 1e3)
        if views_u8 is not None and k % 2:
            t = time.perf_counter()
            out[SHARP_ORACLE] = (to_u8(dibr_views(views_u8[k // 2, k // 2], d, pos, baseline)).reshape(shape), d,
                                 (time.perf_counter() - t) * 1e3)
    return out


def evaluate_scene(views_u8, gt_d, name: str, dplf: DplfRunner | None, log=print,
                   figures: FigureSink | None = None) -> list[dict]:
    """Every method on one scene, both protocols. Returns rows (the benchmark JSON row shape + scene/protocol keys).
    figures: where to draw this scene's pictures (rows then list theirs under "figures")."""
    from engine.conventions import half_aperture_centroid
    from engine.io.lightfield import synthesize_dp

    k = views_u8.shape[0]
    h, w = views_u8.shape[2:4]
    rows = []
    disparities = {}   # (protocol, method) -> D [H, W], for the pictures (small: one map per method)
    for protocol, a in protocol_apertures(k).items():
        cbar = half_aperture_centroid(a)
        baseline = ((k - 1) / 2.0) / (2.0 * cbar)
        left, right, rgb = synthesize_dp(views_u8, a)
        results = run_baselines(left, right, rgb, k, baseline, a, gt_d, cbar, views_u8=views_u8)
        if dplf is not None and dplf.available():
            for renderer, label in DPLF_RENDERERS:
                try:
                    results[label] = dplf(renderer, left, right, rgb, k, baseline)
                except Exception as exc:  # noqa: BLE001 - e.g. LF model missing: keep the other rows
                    log(f"  {label} skipped on {name}/{protocol}: {type(exc).__name__}: {exc}")
        for method in list(results):
            pred, d, ms = results.pop(method)   # free each method's K x K views once scored and drawn
            metrics = {k_: v for k_, v in M.lf_scores(pred, views_u8).items()}
            if k % 2:   # the centre view, left out of mean/worst, on its own (reported per view)
                metrics["psnr_centre"] = metrics["psnr_per_view"][k // 2][k // 2]
                metrics["ssim_centre"] = metrics["ssim_per_view"][k // 2][k // 2]
            if gt_d is not None and d is not None:
                metrics.update({f"disp_{k_}": v for k_, v in M.disparity_scores(d / (2.0 * cbar), gt_d).items()})
            kind = "dplf" if method.startswith("dplf") else "baseline"
            backend = (dplf.info or {}).get("backend", "ort-cpu") if kind == "dplf" else "opencv-cpu"
            precision = (dplf.info or {}).get("precision", "fp32") if kind == "dplf" else "fp32"
            row = {"name": method, "kind": kind, "backend": backend, "precision": precision,
                   "height": h, "width": w, "views": k, "fps": None if not ms else round(1e3 / ms, 3),
                   "latency_ms": {"p50": None if ms is None else round(ms, 2), "p95": None, "p99": None},
                   "params": None, "gmacs": None, "scene": name, "protocol": protocol, "aperture": a,
                   "baseline": round(baseline, 4), "metrics": metrics}
            if method == TEACHER:
                r_, c_, m_ = teacher_rig(k)
                row["teacher"] = {"views": [[r_, c_ - m_], [r_, c_], [r_, c_ + m_]],
                                  "baseline_u": round(float(m_ / (2.0 * cbar)), 4),
                                  "pair_reach_px": TEACHER_PAIR_REACH_PX}
            if figures is not None:
                row["figures"] = []
                if figures.wants_sheet(method):
                    row["figures"].append(figures.views_sheet(name, row, pred))
                same = [m_ for (p_, m_), d_ in disparities.items() if p_ == protocol and d is not None
                        and np.array_equal(d_, d)]
                if d is not None and not method.startswith("oracle") and not same:   # the oracles' D is the GT;
                    disparities[(protocol, method)] = d                      # dplf-layers shares dplf's D
            rows.append(row)
            del pred
        log(f"  {name}/{protocol} (A={a}): " + ", ".join(
            f"{r['name']} {r['metrics']['psnr_mean']:.2f} dB" for r in rows if r["protocol"] == protocol))
    if figures is not None:
        figures.scene_figures(name, views_u8, gt_d, rows, disparities)
    return rows


# ---- driver ----------------------------------------------------------------------------------------------
def run(data: Path, scenes, crop: int | None, temporal_frames: int, temporal_crop: int, dplf: DplfRunner | None,
        log=print, figures: FigureSink | None = None) -> tuple[list[dict], list[str]]:
    rows, notes, cache = [], [], {}
    for scene in scenes:
        if not (data / scene.path).is_dir():
            notes.append(f"{scene.path} skipped: not found under {data}")
            continue
        views, gt = load_scene(data, scene, crop, cache if scene.path == TEMPORAL_SCENE.path else None)
        name = scene.path + (f" (inner {scene.inner}x{scene.inner})" if scene.inner else "")
        log(f"{name}: {views.shape[0]}x{views.shape[1]} views of {views.shape[2]}x{views.shape[3]}")
        rows += evaluate_scene(views, gt, name, dplf, log, figures=figures)
    if temporal_frames >= 2 and (data / TEMPORAL_SCENE.path).is_dir():
        views, gt = load_scene(data, TEMPORAL_SCENE, cache=cache)
        cache.clear()
        for a in protocol_apertures(views.shape[0]).values():
            rows += temporal_stability(views, gt, temporal_frames, temporal_crop, dplf, a, log, teacher=True)
    if dplf is not None and not dplf.available():
        notes.append(f"dplf rows skipped: {dplf.error}")
    return rows, notes


def print_rows(rows: list[dict]) -> None:
    lf = [r for r in rows if r["scene"] not in ("temporal", demo_truth.SCENE)]
    cols = ["scene", "protocol", "name", "PSNR mean", "PSNR worst", "SSIM mean", "SSIM worst",
            "MSEx100", "BadPix.07", "MSEx100 aff", "BadPix.07 aff"]
    table = [[r["scene"], f"{r['protocol']} A={r['aperture']}", r["name"], fmt(m["psnr_mean"], 2),
              fmt(m["psnr_worst"], 2), fmt(m["ssim_mean"], 4), fmt(m["ssim_worst"], 4),
              fmt(m.get("disp_mse_x100"), 2), fmt(m.get("disp_badpix_007"), 1),
              fmt(m.get("disp_mse_x100_affine"), 2), fmt(m.get("disp_badpix_007_affine"), 1)]
             for r in lf for m in [r["metrics"]]]
    print_table("LF quality (uint8 views; mean/worst exclude the centre view) and HCI disparity", cols, table)
    tmp = [r for r in rows if r["scene"] == "temporal"]
    if tmp:
        cols = ["protocol", "name", "frames", "crop", "centre view", "corner view", "disparity px"]
        table = [[f"{r['protocol']} A={r['aperture']}", r["name"], r["frames"], r["height"],
                  fmt(r["metrics"]["flicker_centre"], 3), fmt(r["metrics"]["flicker_corner"], 3),
                  fmt(r["metrics"].get("flicker_disparity_px"), 4)] for r in tmp]
        print_table("temporal flicker (mean |frame difference| after undoing the crop motion; GT = 0)", cols, table)


LF_KEYS = ("psnr_mean", "psnr_worst", "ssim_mean", "ssim_worst", "psnr_per_view", "ssim_per_view")
DISP_KEYS = ("disp_mse_x100", "disp_badpix_007", "disp_mse_x100_affine", "disp_badpix_007_affine")
FLICKER_KEYS = ("flicker_centre", "flicker_corner")


def report_gaps(rows: list[dict], temporal: bool = True) -> list[str]:
    """What the quality benchmark must report that `rows` lack (empty when complete): per scene and method both
    protocols; LF PSNR/SSIM per view, mean and worst; on scenes with GT, every disparity-estimating method's
    MSEx100 and BadPix0.07 raw and affine-fitted; with temporal=True, flicker rows for every method on both
    protocols (views, and disparity for the methods that estimate it)."""
    gaps = []
    lf = [r for r in rows if r["scene"] not in ("temporal", demo_truth.SCENE)]
    with_gt = {r["scene"] for r in lf if r["name"] == "oracle-dibr"}
    protocols = {}
    for r in lf:
        protocols.setdefault((r["scene"], r["name"]), set()).add(r["protocol"])
        missing = [k for k in LF_KEYS if k not in r["metrics"]]
        if r["scene"] in with_gt and r["name"] != "copy":
            missing += [k for k in DISP_KEYS if k not in r["metrics"]]
        if missing:
            gaps.append(f"{r['scene']}/{r['protocol']}/{r['name']}: no {', '.join(missing)}")
    gaps += [f"{sc}/{name}: protocols {sorted(p)} (need full and phone)" for (sc, name), p in protocols.items()
             if p != {"full", "phone"}]
    if temporal:
        tmp = {(r["protocol"], r["name"]): r["metrics"] for r in rows if r["scene"] == "temporal"}
        for name in sorted({r["name"] for r in lf}):
            for protocol in ("full", "phone"):
                m = tmp.get((protocol, name))
                need = FLICKER_KEYS + (() if name == "copy" else ("flicker_disparity_px",))
                if m is None or any(k not in m for k in need):
                    gaps.append(f"temporal/{protocol}/{name}: no flicker row (or it lacks {', '.join(need)})")
    return gaps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--scenes", default=None, help="comma list of dev scene paths (default: all dev scenes)")
    ap.add_argument("--quick", action="store_true", help="one small crop of hci/antinous and a 4-frame video")
    ap.add_argument("--holdout", action="store_true", help="evaluate the HOLDOUT scenes instead (acceptance only)")
    ap.add_argument("--temporal-frames", type=int, default=8)
    ap.add_argument("--temporal-crop", type=int, default=384)
    ap.add_argument("--backend", default="ort-cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-dplf", action="store_true", help="baselines only")
    ap.add_argument("--models-dir", default=None, help="ONNX models folder (default: the bundled models/weights)")
    ap.add_argument("--deblur-iterations", type=int, default=None,
                    help="Richardson-Lucy iterations of the dplf-deblur / dplf-dp rows (default: the Pipeline's, 3)")
    ap.add_argument("--dp-model", default=None, help="DP-disparity model name from the weights index (default: "
                                                     "the index's default)")
    ap.add_argument("--no-real-dp", action="store_true", help="skip the real DP captures (pixel4_dp)")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo sample vs its ground truth")
    ap.add_argument("--demo-only", action="store_true", help="only the demo sample (needs no data folder)")
    ap.add_argument("--demo-frames", type=int, default=0, help="first N demo frames (default 0: all; --quick: 2)")
    ap.add_argument("--json", default=None, help="write the results as JSON to this file")
    ap.add_argument("--figures", default=None,
                    help="folder for the PNG pictures (default with --json: <json path without .json>-figures/; "
                         "none without --json or --figures)")
    ap.add_argument("--sheets", default="dplf", choices=sorted(FigureSink.SHEET_METHODS),
                    help="contact sheets of rendered views for: dplf (dplf, dplf-layers), all (+ baselines), none")
    ap.add_argument("--sheet-width", type=int, default=2000, help="maximum contact sheet width, px")
    args = ap.parse_args(argv)
    scenes, crop = (HOLDOUT_SCENES if args.holdout else DEV_SCENES), None
    if args.scenes:
        wanted = [s.strip().strip("/") for s in args.scenes.split(",")]
        if any(is_holdout(s) for s in wanted) and not args.holdout:
            print("error: --scenes names a holdout scene; holdouts are for acceptance runs with --holdout only",
                  file=sys.stderr)
            return 2
        scenes = [s for s in scenes if s.path in wanted]
        if not scenes:
            print(f"error: --scenes {args.scenes} matches none of the known scenes", file=sys.stderr)
            return 2
    if args.no_demo and args.demo_only:
        print("error: --no-demo and --demo-only exclude each other", file=sys.stderr)
        return 2
    if args.demo_only:
        scenes = []
    elif not args.data.is_dir():   # after the holdout check: that refusal must not depend on the data being here
        print(f"error: data folder {args.data} not found; pass --data", file=sys.stderr)
        return 2
    if args.quick:
        scenes, crop = ([] if args.demo_only else [DEV_SCENES[0]]), 128
        args.temporal_frames, args.temporal_crop = 4, 96
        args.demo_frames = args.demo_frames or 2
    dplf = None if args.no_dplf else DplfRunner(args.backend, args.threads, args.models_dir, args.dp_model,
                                                args.deblur_iterations)
    sink = None
    if args.figures or args.json:
        folder = Path(args.figures) if args.figures else Path(re.sub(r"\.json$", "", str(args.json)) + "-figures")
        sink = FigureSink(folder, Path(args.json).resolve().parent if args.json else None, args.sheets,
                          args.sheet_width)
    temporal_frames = args.temporal_frames if not (args.holdout or args.demo_only) else 0
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    rows, notes = run(args.data, scenes, crop, temporal_frames, args.temporal_crop, dplf, log=log, figures=sink)
    gaps = report_gaps(rows, temporal=temporal_frames >= 2)
    real_summary = None
    if not (args.quick or args.no_real_dp or args.demo_only):
        real_rows, real_notes = real_dp_rows(args.data, dplf.disparity if dplf is not None and dplf.available() else None,
                                             args.holdout, log=log)
        real_summary = summary(real_rows)
        rows, notes = rows + real_rows, notes + real_notes
    if not args.no_demo:
        frames = list(range(args.demo_frames)) if args.demo_frames > 0 else None
        try:
            use_dplf = dplf is not None and dplf.available()   # missing weights: the SGBM row still runs
            rows += demo_truth.evaluate_demo(frames=frames, backend=args.backend if use_dplf else None,
                                             threads=args.threads, models_dir=args.models_dir,
                                             dp_model=args.dp_model, log=log)
        except (FileNotFoundError, ValueError) as exc:
            notes.append(f"demo rows skipped: {exc}")
        gaps += demo_truth.demo_gaps(rows, want_dplf=dplf is not None)
    notes += [f"missing from the report: {g}" for g in gaps]
    if scenes or temporal_frames >= 2:
        print_rows([r for r in rows if r.get("protocol") != "real-dp"])
    demo_truth.print_demo(rows)
    if real_summary:
        print("real DP (pixel4_dp), Spearman of |D - D0| with the defocus GT: " + "; ".join(
            f"{k} mean {v['mean']:.3f} min {v['min']:.3f} wins over sgbm {v['wins_over_sgbm']}/{v['captures']}"
            for k, v in real_summary.items()))
    for n in notes:
        print(f"  note: {n}")
    if sink is not None:
        print(f"wrote {len(sink.paths)} figures to {sink.folder}")
    if args.json:
        write_json(args.json, device_string(args.backend), host_info(args.threads), rows, notes=notes,
                   split="holdout" if args.holdout else "dev",
                   dplf=(dplf.info if dplf is not None else None), report_missing=gaps, real_dp=real_summary,
                   figures=(sink.paths if sink is not None else []),
                   teacher={"name": TEACHER, "pair_reach_px": TEACHER_PAIR_REACH_PX,
                            "rig": "views [row, ctr - m], [row, ctr], [row, ctr + m] of the centre row, m = (K-1)//2 "
                                   "(even K: row = ctr = K/2 - 1, m = K/2 - 1); baseline_u s = m / (2 c-bar)"},
                   settings={"quick": args.quick, "crop": crop, "temporal_frames": args.temporal_frames,
                             "temporal_crop": args.temporal_crop,
                             "ssim": "11x11 Gaussian sigma 1.5, per RGB channel, averaged; 5-px border dropped",
                             "disparity_border": M.HCI_BORDER, "dp_model": args.dp_model,
                             "demo": None if args.no_demo else {
                                 "file": str(demo_truth.DEMO.relative_to(demo_truth.ROOT)),
                                 "ground_truth": str(demo_truth.gt_path().relative_to(demo_truth.ROOT)),
                                 "frames": args.demo_frames or "all", "border": demo_truth.DEMO_BORDER}})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

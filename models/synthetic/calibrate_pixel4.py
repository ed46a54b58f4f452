"""Measure the Pixel 4 dual-pixel calibration and fit the synthetic engine's DP optics model to it.

    python -m models.synthetic.calibrate_pixel4                       # table: measured | model | ideal
    python -m models.synthetic.calibrate_pixel4 --json fit.json --data ../shared/data/pixel4_dp/calibration

Data (Xin et al., ICCV 2021; evaluation only, not copied into the repo): blur_kernels_left/right.npy
(48 x 61 x 61 float32, each summing to 1: PSFs at a 6 x 8 grid of frame positions, taken here to be the block
centres of a 6 x 8 tiling of the 1512 x 2016 frame, index = 8 * row + col), white_sheet_left/right.png (16-bit
flat fields, black level 1024).

What it measures:
- white sheets: the common (lens) falloff (L + R) / 2 and the left share of the light s = L / (L + R) across
  the width (a deg-4 log-polynomial and a cubic in xn are fitted; the engine stores them in optics.PIXEL4);
- kernels: per position, a soft-edged disc fitted to the energy-weighted full PSF (radius, centre), the DP
  shift (centroid of left minus right), and a logistic split w_L(t) = 1 / (1 + exp((t - t0) / tau)) fitted to
  the left share of each PSF pixel (t = x offset / radius); tau(xn) (quadratic) and t0(xn) (cubic) across the
  frame; the relative L2 error of the model PSFs and of the ideal sharp half-discs against the real ones.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from .optics import (FRAME_HALF_HEIGHT, PIXEL4, DPModel, common_vignetting, disc_centroids, model_kernels,
                     radius_u, split_params)

DEFAULT_DATA = Path(os.environ.get("DPLF_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "pixel4_dp" / "calibration"
BLACK, WHITE = 1024.0, 16383.0
GRID = (6, 8)
VIG_DEGREE = 4


def load(folder: Path | str = DEFAULT_DATA) -> dict:
    folder = Path(folder)
    names = ["blur_kernels_left.npy", "blur_kernels_right.npy", "white_sheet_left.png", "white_sheet_right.png"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"Pixel 4 calibration files {missing} not found in {folder}; pass --data FOLDER")
    out = {"kl": np.load(folder / names[0]).astype(np.float64), "kr": np.load(folder / names[1]).astype(np.float64)}
    for key, name in (("wl", names[2]), ("wr", names[3])):
        img = cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError(f"cannot read {folder / name}")
        out[key] = (img.astype(np.float64) - BLACK) / (WHITE - BLACK)
    return out


def _frame_grid(shape: tuple[int, int], block: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    yc = ((np.arange(h // block) + 0.5) * block - h / 2.0) / (w / 2.0)
    xc = ((np.arange(w // block) + 0.5) * block - w / 2.0) / (w / 2.0)
    yn, xn = np.meshgrid(yc, xc, indexing="ij")
    return xn, yn


def _blocks(img: np.ndarray, block: int) -> np.ndarray:
    h, w = img.shape
    h, w = h // block * block, w // block * block
    return img[:h, :w].reshape(h // block, block, w // block, block).mean((1, 3))


def vig_terms(degree: int = VIG_DEGREE) -> list[tuple[int, int]]:
    return [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]


def measure_white_sheets(wl: np.ndarray, wr: np.ndarray, block: int = 24) -> dict:
    """Flat-field measurements: common falloff, left share of the light across the width, fits."""
    lb, rb = _blocks(wl, block), _blocks(wr, block)
    xn, yn = _frame_grid(wl.shape, block)
    common = 0.5 * (lb + rb)
    cy, cx = common.shape[0] // 2, common.shape[1] // 2
    common = common / common[cy - 2:cy + 2, cx - 2:cx + 2].mean()
    share = lb / (lb + rb)
    terms = vig_terms()
    a = np.stack([xn.ravel() ** i * yn.ravel() ** j for i, j in terms], 1)
    coef = np.linalg.lstsq(a, np.log(common).ravel(), rcond=None)[0]
    split = np.polyfit(xn.ravel(), share.ravel(), 3)
    bands = 16
    edges = np.linspace(0, share.shape[1], bands + 1).astype(int)
    mid_rows = slice(share.shape[0] // 3, 2 * share.shape[0] // 3)
    half = share.shape[1] // 2
    return {
        "left_share_by_band": [float(share[mid_rows, a0:a1].mean()) for a0, a1 in zip(edges[:-1], edges[1:])],
        "left_share_centre": float(share[cy - 2:cy + 2, cx - 2:cx + 2].mean()),
        "left_share_left_half": float(share[:, :half].mean()),
        "left_share_right_half": float(share[:, half:].mean()),
        # the left DP plane alone, normalised to its centre: mean over the left / right half of the frame
        "left_left_half": float(lb[:, :half].mean() / lb[cy - 2:cy + 2, cx - 2:cx + 2].mean()),
        "left_right_half": float(lb[:, half:].mean() / lb[cy - 2:cy + 2, cx - 2:cx + 2].mean()),
        "right_left_half": float(rb[:, :half].mean() / rb[cy - 2:cy + 2, cx - 2:cx + 2].mean()),
        "right_right_half": float(rb[:, half:].mean() / rb[cy - 2:cy + 2, cx - 2:cx + 2].mean()),
        "left_right_gain": float(lb[cy - 2:cy + 2, cx - 2:cx + 2].mean() / rb[cy - 2:cy + 2, cx - 2:cx + 2].mean()),
        "falloff_corners": float(np.mean([common[0, 0], common[0, -1], common[-1, 0], common[-1, -1]])),
        "falloff_left_right_edge": float(np.mean([common[cy, 0], common[cy, -1]])),
        "falloff_top_bottom_edge": float(np.mean([common[0, cx], common[-1, cx]])),
        "vignetting_fit": [(i, j, float(c)) for (i, j), c in zip(terms, coef)],
        "split_fit": [float(c) for c in split],
        "_common": common, "_share": share, "_xn": xn, "_yn": yn,
    }


def _soft_disc(p, xs, ys):
    cx, cy, r, sig, amp = p
    from scipy.special import erfc
    rr = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    return amp * 0.5 * erfc((rr - r) / (np.sqrt(2.0) * max(abs(sig), 0.2)))


def measure_kernels(kl: np.ndarray, kr: np.ndarray, el: np.ndarray, er: np.ndarray) -> list[dict]:
    """Per-position PSF measurements; el, er: white-sheet energies of each position's block [48]."""
    from scipy.optimize import least_squares

    size = kl.shape[-1]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    rows = []
    for i in range(len(kl)):
        pl, pr = el[i] * kl[i], er[i] * kr[i]
        f = pl + pr
        f = f / f.sum()
        cx, cy = (f * xs).sum(), (f * ys).sum()
        rmom = float(np.sqrt(2.0 * (f * ((xs - cx) ** 2 + (ys - cy) ** 2)).sum()))
        disc = least_squares(lambda p, f=f: (_soft_disc(p, xs, ys) - f).ravel(),
                             [cx, cy, rmom, 1.0, f.max()]).x
        dcx, dcy, radius = disc[0], disc[1], abs(disc[2])
        sel = f > 0.2 * f.max()
        t = ((xs - dcx) / radius)[sel]
        share = (pl / np.maximum(pl + pr, 1e-300))[sel]
        wt = f[sel]

        def resid(p, t=t, share=share, wt=wt):
            return np.sqrt(wt) * (1.0 / (1.0 + np.exp(np.clip((t - p[1]) / max(abs(p[0]), 1e-3), -60, 60))) - share)

        fit = least_squares(resid, [0.4, 0.0])
        tau, t0 = abs(fit.x[0]), fit.x[1]
        shift = float((kl[i] * xs).sum() - (kr[i] * xs).sum())          # x_left - x_right = D
        rows.append({"index": i, "row": i // GRID[1], "col": i % GRID[1],
                     "xn": (i % GRID[1] + 0.5) / (GRID[1] / 2.0) - 1.0,
                     "yn": ((i // GRID[1] + 0.5) / (GRID[0] / 2.0) - 1.0) * FRAME_HALF_HEIGHT,
                     "centre": (float(dcx), float(dcy)), "radius": float(radius), "edge_sigma": float(abs(disc[3])),
                     "radius_moment": rmom, "dp_shift": shift, "tau": float(tau), "t0": float(t0),
                     "split_rms": float(np.sqrt((resid(fit.x) ** 2).sum() / wt.sum()))})
    return rows


def kernel_errors(kl, kr, rows: list[dict], model: DPModel | None, same_shift: bool = False,
                  match_gain: float = 1.0) -> np.ndarray:
    """Relative L2 error ||k_model - k|| / ||k|| per position (mean of left and right).
    same_shift=True: the model disc radius is R_u(model) * D with D = match_gain * |centroid DP shift| (the
    real pair's matching shift): what the engine renders for that D, instead of the measured radius."""
    size = kl.shape[-1]
    errs = []
    for r in rows:
        if same_shift:
            ru = radius_u(model) if model is not None else 3.0 * np.pi / 8.0
            radius = ru * abs(r["dp_shift"]) * match_gain
        else:
            radius = r["radius"]
        ml, mr = model_kernels(radius, r["xn"], size, r["centre"], model)
        # align the model to the real PSFs' own centroids (absolute position is not part of the model)
        e = []
        for m, k in ((ml, kl[r["index"]]), (mr, kr[r["index"]])):
            e.append(np.linalg.norm(_align(m, k) - k) / np.linalg.norm(k))
        errs.append(np.mean(e))
    return np.array(errs)


def _align(m: np.ndarray, k: np.ndarray) -> np.ndarray:
    size = k.shape[-1]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    dx = (k * xs).sum() - (m * xs).sum()
    dy = (k * ys).sum() - (m * ys).sum()
    return cv2.warpAffine(m, np.float64([[1, 0, dx], [0, 1, dy]]), (size, size), flags=cv2.INTER_LINEAR)


def _match_shift(a: np.ndarray, b: np.ndarray, blur: float, guess: float, crop: int = 40) -> float:
    """x_a - x_b by brute-force sub-pixel SSD after the same Gaussian blur (as tests/test_synthetic.py)."""
    a, b = cv2.GaussianBlur(a, (0, 0), blur), cv2.GaussianBlur(b, (0, 0), blur)

    def ssd(d):
        bs = cv2.warpAffine(b, np.float32([[1, 0, d], [0, 1, 0]]), b.shape[::-1], flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REFLECT)
        return float(((a - bs)[crop:-crop, crop:-crop] ** 2).mean())

    coarse = np.arange(guess - 4.0, guess + 4.01, 0.25)
    d0 = coarse[int(np.argmin([ssd(d) for d in coarse]))]
    fine = np.arange(d0 - 0.3, d0 + 0.3, 0.02)
    return float(fine[int(np.argmin([ssd(d) for d in fine]))])


def matching_gain(pairs: list, blurs=(1.0, 3.0, 6.0), size: int = 200) -> float:
    """Mean over PSF pairs, textures and pre-blurs of (SSD matching shift) / (PSF centroid separation).
    pairs: [(psf_left, psf_right), ...] as image-space kernels (convolved, not correlated)."""
    from .textures import pink_noise, value_noise

    rng = np.random.default_rng(0)
    textures = [value_noise((size, size), rng, 6.0), pink_noise((size, size), rng, 1.0),
                value_noise((size, size), rng, 15.0)]
    ratios = []
    for kl, kr in pairs:
        xs = np.arange(kl.shape[1])
        sep = float((kl.sum(0) * xs).sum() - (kr.sum(0) * xs).sum())
        fl = np.ascontiguousarray(kl[::-1, ::-1], np.float32)     # filter2D correlates: flip to convolve
        fr = np.ascontiguousarray(kr[::-1, ::-1], np.float32)
        for tex in textures:
            tex = tex.astype(np.float32)
            left = cv2.filter2D(tex, -1, fl, borderType=cv2.BORDER_REFLECT)
            right = cv2.filter2D(tex, -1, fr, borderType=cv2.BORDER_REFLECT)
            for blur in blurs:
                ratios.append(_match_shift(left, right, blur, sep) / sep)
    return float(np.mean(ratios))


CENTRAL = [8 * r + c for r in (1, 2, 3, 4) for c in (2, 3, 4, 5)]   # the central 4 x 4 kernel positions


def fit(data: dict) -> dict:
    ws = measure_white_sheets(data["wl"], data["wr"])
    h, w = data["wl"].shape
    bh, bw = h // GRID[0], w // GRID[1]

    def energies(img):
        return img[:bh * GRID[0], :bw * GRID[1]].reshape(GRID[0], bh, GRID[1], bw).mean((1, 3)).ravel()

    el, er = energies(data["wl"]), energies(data["wr"])
    rows = measure_kernels(data["kl"], data["kr"], el, er)
    xn = np.array([r["xn"] for r in rows])
    tau_fit = np.polyfit(xn, [r["tau"] for r in rows], 2)
    t0_fit = np.polyfit(xn, [r["t0"] for r in rows], 3)
    kappa = matching_gain([(data["kl"][i], data["kr"][i]) for i in CENTRAL])
    fitted = DPModel(tau=tuple(float(c) for c in tau_fit), t0=tuple(float(c) for c in t0_fit),
                     vignetting=tuple(ws["vignetting_fit"]), split=tuple(ws["split_fit"]), name="fitted")
    # the engine's D is its own PSFs' matching shift: the gain of the fitted model's kernels
    kappa_model = matching_gain([model_kernels(rows[i]["radius"], rows[i]["xn"], data["kl"].shape[-1], None, fitted)
                                 for i in CENTRAL])
    fitted = DPModel(**{**fitted.__dict__, "match_gain": round(kappa_model, 2)})
    return {"white": ws, "kernels": rows, "fitted": fitted, "match_gain": kappa, "match_gain_model": kappa_model}


def _model_flat(model: DPModel, xn, yn):
    common = common_vignetting(model, xn, yn)
    s = np.polyval(model.split, xn)
    return common, s


def report(res: dict, model: DPModel = PIXEL4) -> dict:
    """Measured numbers next to the stored model (optics.PIXEL4) and the ideal sharp half-disc model."""
    ws, rows, fitted = res["white"], res["kernels"], res["fitted"]
    kl, kr = res["kl"], res["kr"]
    shifts = np.array([r["dp_shift"] for r in rows])
    radii = np.array([r["radius"] for r in rows])
    xn = np.array([r["xn"] for r in rows])
    taus = np.array([r["tau"] for r in rows])
    t0s = np.array([r["t0"] for r in rows])
    cols = np.array([r["col"] for r in rows])
    ideal_ratio = 2.0 * 4.0 / (3.0 * np.pi)                      # centroid separation / radius of half discs
    tau_m, t0_m = split_params(model, xn)
    cl, cr = disc_centroids(tau_m, t0_m)
    common_m, share_m = _model_flat(model, ws["_xn"], ws["_yn"])
    share_bands_m = [float(share_m[:, a:b].mean()) for a, b in zip(
        np.linspace(0, share_m.shape[1], 17).astype(int)[:-1], np.linspace(0, share_m.shape[1], 17).astype(int)[1:])]
    half = share_m.shape[1] // 2
    cy, cx = common_m.shape[0] // 2, common_m.shape[1] // 2
    vig_err = common_m / ws["_common"] - 1.0
    lm, rm = common_m * 2 * share_m, common_m * 2 * (1 - share_m)
    lb, rb = ws["_common"] * 2 * ws["_share"], ws["_common"] * 2 * (1 - ws["_share"])
    lr_err = np.concatenate([(lm / lb - 1).ravel(), (rm / rb - 1).ravel()])
    err_model = kernel_errors(kl, kr, rows, model)
    err_ideal = kernel_errors(kl, kr, rows, None)
    err_model_d = kernel_errors(kl, kr, rows, model, same_shift=True, match_gain=res["match_gain"])
    err_ideal_d = kernel_errors(kl, kr, rows, None, same_shift=True, match_gain=res["match_gain"])
    out = {
        "matching_shift_over_centroid_separation": {
            "measured": res["match_gain"], "model_kernels": res["match_gain_model"],
            "model_engine": model.match_gain, "ideal": 1.0,
            "note": "SSD shift of a textured plane's DP pair / PSF centroid separation (central 4x4 positions)"},
        "dp_shift_px": {"measured_mean": float(shifts.mean()), "measured_min": float(shifts.min()),
                        "measured_max": float(shifts.max()),
                        "note": "x_left - x_right of the PSF centroids: D < 0 in the DP convention (far side of focus)"},
        "blur_radius_px": {"measured_mean": float(radii.mean()), "measured_min": float(radii.min()),
                           "measured_max": float(radii.max())},
        "radius_per_unit_centroid_separation": {"measured": float((radii / np.abs(shifts)).mean()),
                                                "model": radius_u(model) * model.match_gain, "ideal": 3.0 * np.pi / 8.0},
        "radius_per_unit_D": {"measured": float((radii / np.abs(shifts)).mean()) / res["match_gain"],
                              "model": radius_u(model), "ideal": 3.0 * np.pi / 8.0,
                              "note": "D = matching shift; the engine's disc radius in u units"},
        "centroid_separation_over_radius": {
            "measured_by_col": [float((np.abs(shifts) / radii)[cols == c].mean()) for c in range(GRID[1])],
            "model_raw_by_col": [float((cr - cl)[cols == c].mean()) for c in range(GRID[1])],
            "model_engine": 1.0 / (radius_u(model) * model.match_gain), "ideal": ideal_ratio,
            "note": "the engine tilts the weights so this is the same at every column (DP shift = D everywhere)"},
        "split_tau": {"measured_by_col": [float(taus[cols == c].mean()) for c in range(GRID[1])],
                      "model_by_col": [float(tau_m[cols == c].mean()) for c in range(GRID[1])], "ideal": 0.0},
        "split_t0": {"measured_by_col": [float(t0s[cols == c].mean()) for c in range(GRID[1])],
                     "model_by_col": [float(t0_m[cols == c].mean()) for c in range(GRID[1])], "ideal": 0.0},
        "split_fit_rms": float(np.mean([r["split_rms"] for r in rows])),
        "psf_rel_l2_error_same_radius": {"model": float(err_model.mean()), "ideal": float(err_ideal.mean())},
        "psf_rel_l2_error_same_D": {"model": float(err_model_d.mean()), "ideal": float(err_ideal_d.mean())},
        "left_share": {"measured_by_band": ws["left_share_by_band"], "model_by_band": share_bands_m,
                       "measured_centre": ws["left_share_centre"],
                       "model_centre": float(share_m[cy - 2:cy + 2, cx - 2:cx + 2].mean()), "ideal": 0.5,
                       "measured_left_half": ws["left_share_left_half"], "model_left_half": float(share_m[:, :half].mean()),
                       "measured_right_half": ws["left_share_right_half"],
                       "model_right_half": float(share_m[:, half:].mean())},
        "left_plane_halves": {"ideal": [1.0, 1.0], "measured": [ws["left_left_half"], ws["left_right_half"]],
                              "model": [float(lm[:, :half].mean() / lm[cy - 2:cy + 2, cx - 2:cx + 2].mean()),
                                        float(lm[:, half:].mean() / lm[cy - 2:cy + 2, cx - 2:cx + 2].mean())]},
        "falloff": {"measured_corners": ws["falloff_corners"], "model_corners": float(np.mean(
            [common_m[0, 0], common_m[0, -1], common_m[-1, 0], common_m[-1, -1]])),
            "measured_lr_edges": ws["falloff_left_right_edge"],
            "model_lr_edges": float(np.mean([common_m[cy, 0], common_m[cy, -1]])),
            "measured_tb_edges": ws["falloff_top_bottom_edge"],
            "model_tb_edges": float(np.mean([common_m[0, cx], common_m[-1, cx]])), "ideal": 1.0},
        "flat_field_rel_rms": {"common": float(np.sqrt((vig_err ** 2).mean())), "left_right": float(np.sqrt(
            (lr_err ** 2).mean()))},
        "fitted_constants": {"tau": list(fitted.tau), "t0": list(fitted.t0), "split": list(fitted.split),
                             "vignetting": [list(t) for t in fitted.vignetting], "match_gain": fitted.match_gain},
        "stored_constants": {"tau": list(model.tau), "t0": list(model.t0), "split": list(model.split),
                             "vignetting": [list(t) for t in model.vignetting], "match_gain": model.match_gain},
    }
    return out


def _fmt(v) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m models.synthetic.calibrate_pixel4", description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder with blur_kernels_*.npy and white_sheet_*.png")
    ap.add_argument("--json", default="", help="also write the report as JSON to this file")
    args = ap.parse_args(argv)
    try:
        data = load(args.data)
    except (FileNotFoundError, ValueError) as e:
        print(f"calibrate_pixel4: {e}", file=sys.stderr)
        return 2
    res = fit(data)
    res.update(data)
    rep = report(res)
    print(f"Pixel 4 DP calibration ({args.data})")
    print(f"{'quantity':<34} {'measured':>12} {'model':>12} {'ideal':>8}")
    for key, val in rep.items():
        if key in ("fitted_constants", "stored_constants"):
            continue
        if isinstance(val, dict):
            meas = {k: v for k, v in val.items() if not k.startswith(("model", "ideal", "note"))}
            mod = {k: v for k, v in val.items() if k.startswith("model")}
            print(f"{key}:")
            for k, v in meas.items():
                print(f"    {k:<30} {_fmt(v)}")
            for k, v in mod.items():
                print(f"    {k:<30} {_fmt(v)}")
            for k in ("ideal", "note"):
                if k in val:
                    print(f"    {k:<30} {_fmt(val[k])}")
        else:
            print(f"{key:<34} {_fmt(val)}")
    print("fitted constants (optics.PIXEL4 stores these):")
    for k, v in rep["fitted_constants"].items():
        print(f"    {k:<10} {v if k != 'vignetting' else [(i, j, round(c, 4)) for i, j, c in v]}")
    same = all(np.allclose(np.array(rep["fitted_constants"][k], dtype=float).ravel(),
                           np.array(rep["stored_constants"][k], dtype=float).ravel(), atol=5e-4)
               for k in ("tau", "t0", "split", "vignetting")) and \
        abs(rep["fitted_constants"]["match_gain"] - rep["stored_constants"]["match_gain"]) < 0.015
    print(f"stored constants match this fit: {same}")
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

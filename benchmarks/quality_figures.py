"""The pictures benchmarks/quality.py writes beside its JSON: per-view PSNR heat-maps, disparity panels and
contact sheets (drawn by benchmarks/figures.py)."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import metrics as M  # noqa: E402
from benchmarks.teacher_views import TEACHER  # noqa: E402


# ---- pictures --------------------------------------------------------------------------------------------
def slug(text: str) -> str:
    """'lytro/illum_2067 (inner 7x7)' -> 'lytro-illum_2067-inner-7x7' (file-name safe)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-")


def psnr_scale(rows: list[dict]) -> tuple[float, float]:
    """One dB scale for all methods (and protocols) of a scene: whole dB around every finite per-view PSNR."""
    vals = np.concatenate([np.asarray(r["metrics"]["psnr_per_view"], np.float64).ravel() for r in rows])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return 20.0, 50.0
    lo, hi = float(np.floor(vals.min())), float(np.ceil(vals.max()))
    return lo, max(hi, lo + 1.0)


class FigureSink:
    """Writes quality.py's PNGs into `folder`; `paths` lists them relative to `relative_to` (the JSON's folder).

    sheets: which methods get a contact sheet of their rendered views: "dplf" (dplf, dplf-layers; default),
    "all" (also the baselines that render parallax), "none". The ground-truth sheet comes with any sheet.
    """

    SHEET_METHODS = {"dplf": ("dplf", "dplf-deblur", "dplf-dp", "dplf-layers"), "none": (),
                     "all": ("dplf", "dplf-deblur", "dplf-dp", "dplf-layers", "sgbm-dibr", TEACHER, "oracle-dibr",
                             "oracle-sharp-dibr")}

    def __init__(self, folder, relative_to=None, sheets: str = "dplf", max_width: int = 2000):
        if sheets not in self.SHEET_METHODS:
            raise ValueError(f"sheets={sheets!r}: use one of {sorted(self.SHEET_METHODS)}")
        self.folder = Path(folder)
        self.relative_to = Path(relative_to) if relative_to is not None else None
        self.sheets, self.max_width = sheets, max_width
        self.paths: list[str] = []

    def save(self, stem: str, img: np.ndarray) -> str:
        from benchmarks import figures as F

        path = F.save_png(self.folder / f"{stem}.png", img)
        rel = os.path.relpath(path, self.relative_to) if self.relative_to is not None else str(path)
        self.paths.append(rel)
        return rel

    def wants_sheet(self, method: str) -> bool:
        return method in self.SHEET_METHODS[self.sheets]

    def _scale_text(self, views: np.ndarray) -> str:
        from benchmarks import figures as F

        scale = F.contact_sheet_geometry(*views.shape[:4], self.max_width)[0]
        return "full size" if scale == 1.0 else f"downscaled x{scale:.3f}"

    def views_sheet(self, scene: str, row: dict, views: np.ndarray) -> str:
        from benchmarks import figures as F

        k = views.shape[0]
        m = row["metrics"]
        title = [f"{scene}  {row['protocol']} (A={row['aperture']})  {row['name']}: rendered {k}x{k} views "
                 f"(row v, column u), {self._scale_text(views)}",
                 f"PSNR mean {m['psnr_mean']:.2f} dB, worst {m['psnr_worst']:.2f} dB"]
        img = F.add_title(F.contact_sheet(views, self.max_width), title)
        return self.save(f"{slug(scene)}_{row['protocol']}_{row['name']}_views", img)

    def scene_figures(self, scene: str, views_u8: np.ndarray, gt_d, rows: list[dict], disparities: dict) -> None:
        """Per-view PSNR heat-maps of every row, disparity pictures, the ground-truth contact sheet."""
        from benchmarks import figures as F
        from engine.conventions import half_aperture_centroid

        k = views_u8.shape[0]
        if self.sheets != "none":
            title = [f"{scene}: ground-truth light field, {k}x{k} views (row v, column u), "
                     + self._scale_text(views_u8)]
            self.save(f"{slug(scene)}_gt_views", F.add_title(F.contact_sheet(views_u8, self.max_width), title))
        lo, hi = psnr_scale(rows)
        centre = (k // 2, k // 2) if k % 2 else None
        for row in rows:
            m = row["metrics"]
            title = [f"{scene}  {row['protocol']} (A={row['aperture']}, baseline {row['baseline']})  {row['name']}",
                     f"per-view PSNR: mean {m['psnr_mean']:.2f} dB, worst {m['psnr_worst']:.2f} dB "
                     + ("(outlined centre view not counted)" if centre else "(all views count)")]
            img = F.psnr_heatmap(np.asarray(m["psnr_per_view"], np.float64), lo, hi, title, centre=centre)
            row["figures"].append(self.save(f"{slug(scene)}_{row['protocol']}_{row['name']}_psnr", img))
        by = {(r["protocol"], r["name"]): r for r in rows}
        for protocol in dict.fromkeys(p for p, _ in disparities):
            items = [(meth, d) for (p, meth), d in disparities.items() if p == protocol]
            a = by[(protocol, items[0][0])]["aperture"]
            two_cbar = 2.0 * half_aperture_centroid(a)
            if gt_d is not None:   # GT units (px per view step), the units of the metrics
                d_range = (float(np.floor(gt_d.min() * 10) / 10), float(np.ceil(gt_d.max() * 10) / 10))
                units = "px/step"
            else:                  # D px, one scale for the methods of this protocol
                allv = np.concatenate([d.ravel() for _, d in items])
                d_range = (float(np.floor(np.percentile(allv, 1) * 10) / 10),
                           float(np.ceil(np.percentile(allv, 99) * 10) / 10))
                d_range = (d_range[0], max(d_range[1], d_range[0] + 0.1))
                units = "D px"
            for method, d in items:
                row = by[(protocol, method)]
                if gt_d is not None:
                    m = row["metrics"]
                    title = [f"{scene}  {protocol} (A={a})  {method}: disparity in GT units, d = D / {two_cbar:.3f}",
                             f"MSEx100 {m['disp_mse_x100']:.2f} raw, {m['disp_mse_x100_affine']:.2f} after the fit; "
                             f"BadPix0.07 {m['disp_badpix_007']:.1f}% raw, {m['disp_badpix_007_affine']:.1f}% after; "
                             f"dimmed {M.HCI_BORDER}-px border not scored"]
                    img = F.disparity_figure(d / two_cbar, gt_d, d_range, title, border=M.HCI_BORDER, units=units)
                else:
                    title = [f"{scene}  {protocol} (A={a})  {method}: disparity D (px), no ground truth",
                             "colour scale shared by the methods of this protocol"]
                    img = F.disparity_figure(d, None, d_range, title, units=units)
                row["figures"].append(self.save(f"{slug(scene)}_{protocol}_{method}_disparity", img))

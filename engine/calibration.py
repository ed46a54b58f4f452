"""Fitting a camera's depth calibration from a capture with known depth (docs/outputs.md, "Calibration").

The model's disparity D (pixels) is affine in inverse depth: D = a / z + b (engine/depth.py). Given the D that
dplf measured on a frame and the true depth of (some of) its pixels, this module fits a and b robustly, then
turns them into the camera's affine map D_cam = disparity_gain * D + disparity_offset, D_cam = f_px * B / z (the
disparity relative to infinity: the offset carries the focal plane), so that the thin-lens form of a
calibration gives back the same depth:

    a = f_px * B / gain,   b = -offset / gain     <=>     gain = f_px * B / a,   offset = -b * gain

Two references: a depth map in metres (`fit_depth_map`), or planes at known distances, each a box or a mask
of the frame (`fit_planes`). The fit is least squares on D (the measured quantity) against 1/z, made robust by
a least-median-of-squares start over random pairs of samples and Tukey-biweight reweighting, so pixels where
D or the reference is wrong (edges, texture-less areas, sensor holes) do not bend it.
Pure numpy, no torch, no file I/O.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.depth import CalibrationError, DepthModel

MIN_SAMPLES_PER_DEPTH = 10      # pixels a depth needs to count as one of the "two distinct depths"
MIN_DEPTH_CONTRAST = 0.05       # two depths are distinct when their inverses differ by 5 % or more
TUKEY_C = 4.685                 # Tukey biweight tuning constant (95 % efficiency under Gaussian noise)
INLIER_SIGMAS = 3.0             # inlier: |residual| <= 3 robust standard deviations
START_TRIALS = 500              # random pairs tried for the least-median start
START_SUBSAMPLE = 4000          # samples the start's median is taken over
MAX_SAMPLES = 400_000           # larger inputs are subsampled (evenly, deterministically)
MAX_ITERATIONS = 50


class CalibrationFitError(CalibrationError):
    """The samples cannot define a calibration (too few, one depth only, ...); one line saying what to do."""


@dataclass(frozen=True)
class CalibrationFit:
    """D = a / z + b fitted to samples, D in pixels at `image_width` (None: the map's own width).

    n: valid samples used; inliers: those within INLIER_SIGMAS robust standard deviations of the fit;
    rms_px: RMS of the inliers' D residuals; median_abs_px: median |D residual| over all samples;
    depth_error: median relative depth error |z_fit / z - 1| over the inliers; depth_range_m: (nearest,
    farthest) reference depth used.
    """

    a: float
    b: float
    n: int
    inliers: int
    rms_px: float
    median_abs_px: float
    depth_error: float
    depth_range_m: tuple[float, float]
    image_width: int | None = None

    @property
    def inlier_fraction(self) -> float:
        return self.inliers / self.n if self.n else 0.0

    def depth_model(self) -> DepthModel:
        return DepthModel(self.a, self.b, image_width=self.image_width)

    def gain_offset(self, focal_length_px: float, baseline_m: float) -> tuple[float, float]:
        """(disparity_gain, disparity_offset) of a camera with this focal length (px) and DP baseline (m)."""
        fb = focal_length_px * baseline_m
        if not (math.isfinite(fb) and fb > 0):
            raise CalibrationFitError(f"focal length ({focal_length_px} px) and baseline ({baseline_m} m) must "
                                      f"be positive numbers")
        gain = fb / self.a
        return gain, -self.b * gain

    def calibration_json(self, comment: str | None = None) -> dict:
        """The inverse-depth calibration JSON (what engine.depth.load_calibration and --depth/--calib read)."""
        out = {"model": "inverse-depth", "a": self.a, "b": self.b}
        if self.image_width is not None:
            out["image_width"] = int(self.image_width)
        if comment:
            out["comment"] = comment
        return out

    def header_calibration(self, focal_length_px: float, baseline_mm: float) -> dict:
        """The .dp header's calibration keys for this fit (thin-lens form, no focus distance)."""
        gain, offset = self.gain_offset(focal_length_px, baseline_mm * 1e-3)
        return {"focal_length_px": float(focal_length_px), "baseline_mm": float(baseline_mm),
                "disparity_gain": gain, "disparity_offset": offset}

    def stats(self) -> dict:
        return {"n": self.n, "inliers": self.inliers, "inlier_fraction": round(self.inlier_fraction, 4),
                "rms_px": self.rms_px, "median_abs_px": self.median_abs_px, "depth_error": self.depth_error,
                "depth_range_m": list(self.depth_range_m)}

    def summary(self) -> str:
        """Two lines: the fit and its residuals."""
        at = f" at width {self.image_width} px" if self.image_width else ""
        sign = "-" if self.b < 0 else "+"
        return (f"fit: D = {self.a:.6g} / z {sign} {abs(self.b):.6g}   (z in m, D in px{at})\n"
                f"residuals: RMS {self.rms_px:.4g} px over {self.inliers} inliers of {self.n} pixels "
                f"({100 * self.inlier_fraction:.1f}%), median |D error| {self.median_abs_px:.4g} px, median depth "
                f"error {100 * self.depth_error:.2f}% (reference {self.depth_range_m[0]:.3g}-"
                f"{self.depth_range_m[1]:.3g} m)")


def fit_depth_map(disparity: np.ndarray, depth: np.ndarray, valid: np.ndarray | None = None, *,
                  image_width: int | None = None, seed: int = 0) -> CalibrationFit:
    """Fit D = a / z + b from a disparity map and a reference depth map (metres) of the same size.

    Pixels count where D is finite, the depth finite and > 0, and `valid` (optional bool mask) is True.
    `image_width`: width at which D is to hold (D is rescaled from the map's width, as DepthModel does).
    Raises CalibrationFitError (one line) on too few samples or fewer than two distinct depths.
    """
    d = np.asarray(disparity, np.float64)
    z = np.asarray(depth, np.float64)
    if d.ndim != 2:
        raise CalibrationFitError(f"disparity must be a [H, W] map, got shape {d.shape}")
    if z.shape != d.shape:
        raise CalibrationFitError(f"reference depth is {z.shape[1]}x{z.shape[0]}, the disparity "
                                  f"{d.shape[1]}x{d.shape[0]}; they must be the same size")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(d) & np.isfinite(z) & (z > 0)
    if valid is not None:
        valid = np.asarray(valid, bool)
        if valid.shape != d.shape:
            raise CalibrationFitError(f"valid mask has shape {valid.shape}, the disparity {d.shape}")
        ok &= valid
    scale = image_width / d.shape[1] if image_width else 1.0
    return fit_samples(d[ok] * scale, 1.0 / z[ok], image_width=image_width, seed=seed)


def plane_depth_map(planes, height: int, width: int, *, scale: float = 1.0) -> np.ndarray:
    """float32 [height, width] depth (metres) of a scene of planes, NaN where no plane is.

    planes: a list of {"distance_m": z, "box": [x0, y0, x1, y1]} (pixels, end exclusive) or {"distance_m": z,
    "mask": array, nonzero on the plane} (the frame's proportions, any size: resized to the map with nearest
    neighbour). Later planes are drawn over
    earlier ones (a box on a wall: the wall first). `scale`: map pixels per box pixel (boxes given at the
    source's size, a map at a smaller size).
    """
    if not isinstance(planes, (list, tuple)) or not planes:
        raise CalibrationFitError("planes: need a non-empty list of {distance_m, box or mask}")
    out = np.full((height, width), np.nan, np.float32)
    for k, plane in enumerate(planes):
        where = f"plane {k}"
        if not isinstance(plane, dict):
            raise CalibrationFitError(f"{where}: expected an object with distance_m and box or mask")
        z = plane.get("distance_m")
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not (math.isfinite(z) and z > 0):
            raise CalibrationFitError(f"{where}: distance_m must be a positive number of metres, got {z!r}")
        if ("box" in plane) == ("mask" in plane):
            raise CalibrationFitError(f"{where}: give exactly one of box [x0, y0, x1, y1] or mask")
        if "box" in plane:
            box = plane["box"]
            if (not isinstance(box, (list, tuple)) or len(box) != 4
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
                raise CalibrationFitError(f"{where}: box must be [x0, y0, x1, y1] in pixels, got {box!r}")
            x0, y0, x1, y1 = (round(v * scale) for v in box)
            x0, x1 = max(x0, 0), min(x1, width)
            y0, y1 = max(y0, 0), min(y1, height)
            if x1 <= x0 or y1 <= y0:
                raise CalibrationFitError(f"{where}: box {list(box)} holds no pixel of the "
                                          f"{round(width / scale)}x{round(height / scale)} frame (x0 < x1, y0 < y1)")
            out[y0:y1, x0:x1] = z
        else:
            mask = np.asarray(plane["mask"])
            if mask.ndim != 2 or mask.size == 0:
                raise CalibrationFitError(f"{where}: mask must be a 2-D image, got shape {mask.shape}")
            if abs(mask.shape[0] * width - mask.shape[1] * height) > 0.02 * mask.shape[1] * height:
                raise CalibrationFitError(f"{where}: mask is {mask.shape[1]}x{mask.shape[0]}, not in the frame's "
                                          f"proportions ({round(width / scale)}x{round(height / scale)})")
            rows = (np.arange(height) * mask.shape[0] // height)
            cols = (np.arange(width) * mask.shape[1] // width)
            sel = mask[np.ix_(rows, cols)] != 0
            if not sel.any():
                raise CalibrationFitError(f"{where}: mask is empty")
            out[sel] = z
    return out


def fit_planes(disparity: np.ndarray, planes, *, image_width: int | None = None, box_scale: float = 1.0,
               seed: int = 0) -> CalibrationFit:
    """Fit D = a / z + b from a disparity map of a scene of planes at known distances (see plane_depth_map)."""
    d = np.asarray(disparity)
    if d.ndim != 2:
        raise CalibrationFitError(f"disparity must be a [H, W] map, got shape {d.shape}")
    depth = plane_depth_map(planes, d.shape[0], d.shape[1], scale=box_scale)
    return fit_depth_map(d, depth, image_width=image_width, seed=seed)


def _check_two_depths(x: np.ndarray) -> None:
    """Refuse samples that do not hold two depths, each on MIN_SAMPLES_PER_DEPTH pixels, MIN_DEPTH_CONTRAST apart."""
    k = max(MIN_SAMPLES_PER_DEPTH, int(0.01 * x.size))
    if x.size < 2 * k:
        raise CalibrationFitError(f"only {x.size} pixels have both a disparity and a reference depth; need at "
                                  f"least {2 * MIN_SAMPLES_PER_DEPTH} (check the reference's size and valid pixels)")
    part = np.partition(x, (k - 1, x.size - k))
    lo, hi = part[k - 1], part[x.size - k]
    if hi - lo < MIN_DEPTH_CONTRAST * max(abs(lo), abs(hi)):
        z = 1.0 / float(np.median(x))
        raise CalibrationFitError(f"the reference holds one depth only (about {z:.3g} m on {x.size} pixels); the fit "
                                  f"needs at least two distinct depths (inverse depths {100 * MIN_DEPTH_CONTRAST:.0f}% "
                                  f"or more apart, e.g. a near and a far plane)")


def _weighted_line(x, y, w) -> tuple[float, float] | None:
    sw = w.sum()
    if sw <= 0:
        return None
    mx, my = (w * x).sum() / sw, (w * y).sum() / sw
    sxx = (w * (x - mx) ** 2).sum()
    if sxx <= 0:
        return None
    a = (w * (x - mx) * (y - my)).sum() / sxx
    return a, my - a * mx


def _robust_scale(r: np.ndarray, floor: float) -> float:
    return max(1.4826 * float(np.median(np.abs(r))), floor)


def _least_median_start(x, y, rng, min_dx) -> tuple[float, float]:
    """The line through a random pair of samples with the smallest median |residual| (over a subsample)."""
    sub = rng.choice(x.size, min(x.size, START_SUBSAMPLE), replace=False) if x.size > START_SUBSAMPLE else \
        np.arange(x.size)
    xs, ys = x[sub], y[sub]
    i, j = rng.integers(0, x.size, (2, 20 * START_TRIALS))
    far = np.abs(x[j] - x[i]) >= min_dx
    i, j = i[far][:START_TRIALS], j[far][:START_TRIALS]
    a = (y[j] - y[i]) / (x[j] - x[i])
    b = y[i] - a * x[i]
    if a.size == 0:   # cannot happen after _check_two_depths; keep a defined start anyway
        return _weighted_line(x, y, np.ones_like(x)) or (0.0, float(np.median(y)))
    cost = np.empty(a.size)
    for t in range(0, a.size, 50):   # blocks of 50 lines: bounded memory
        cost[t:t + 50] = np.median(np.abs(ys[None] - a[t:t + 50, None] * xs[None] - b[t:t + 50, None]), axis=1)
    best = int(np.argmin(cost))
    return float(a[best]), float(b[best])


def fit_samples(d: np.ndarray, inv_z: np.ndarray, *, image_width: int | None = None, seed: int = 0) -> CalibrationFit:
    """Robust fit of d = a * inv_z + b over paired samples (D in px, 1/z in 1/m); see the module docstring."""
    d = np.asarray(d, np.float64).ravel()
    x = np.asarray(inv_z, np.float64).ravel()
    if d.shape != x.shape:
        raise CalibrationFitError(f"{d.size} disparity samples but {x.size} depth samples")
    keep = np.isfinite(d) & np.isfinite(x) & (x > 0)
    d, x = d[keep], x[keep]
    if x.size > MAX_SAMPLES:
        step = math.ceil(x.size / MAX_SAMPLES)
        d, x = d[::step], x[::step]
    _check_two_depths(x)
    rng = np.random.default_rng(seed)
    floor = 1e-9 * (1.0 + float(np.median(np.abs(d))))
    a, b = _least_median_start(x, d, rng, 0.5 * MIN_DEPTH_CONTRAST * float(np.median(x)))
    for _ in range(MAX_ITERATIONS):   # Tukey biweight IRLS, scale re-estimated each step
        r = d - (a * x + b)
        s = _robust_scale(r, floor)
        u = r / (TUKEY_C * s)
        w = np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
        line = _weighted_line(x, d, w)
        if line is None:
            break
        step = abs(line[0] - a) * float(x.max()) + abs(line[1] - b)
        a, b = line
        if step <= 1e-10 * (1.0 + abs(b)) + floor:
            break
    r = d - (a * x + b)
    s = _robust_scale(r, floor)
    inl = np.abs(r) <= INLIER_SIGMAS * s
    if not (math.isfinite(a) and math.isfinite(b)) or a == 0:
        raise CalibrationFitError("the fit is degenerate (D does not change with depth); check that the "
                                  "reference matches the frame")
    try:
        _check_two_depths(x[inl])
    except CalibrationFitError as exc:
        raise CalibrationFitError(f"after outliers are set aside, {exc}") from None
    with np.errstate(divide="ignore", invalid="ignore"):
        z_fit = a / (d[inl] - b)
        rel = np.abs(z_fit * x[inl] - 1.0)
    rel = np.where(np.isfinite(rel) & (z_fit > 0), rel, np.inf)
    return CalibrationFit(a=float(a), b=float(b), n=int(x.size), inliers=int(inl.sum()),
                          rms_px=float(np.sqrt(np.mean(r[inl] ** 2))), median_abs_px=float(np.median(np.abs(r))),
                          depth_error=float(np.median(rel)),
                          depth_range_m=(float(1.0 / x.max()), float(1.0 / x.min())),
                          image_width=None if image_width is None else int(image_width))

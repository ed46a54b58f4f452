"""Metric depth from DP disparity (docs/outputs.md, "Depth").

D (pixels) is affine in inverse depth, zero at the focal plane, larger D nearer. dplf writes it as

    D = a / z + b                                    (z in metres; D in pixels at the calibration's width)
    z = a / (D - b)                                  valid where (D - b) / a > 0

A calibration gives (a, b) directly (`{"a": .., "b": ..}`, the "inverse-depth" form) or through the thin-lens
model of a DP sensor (the "thin-lens" form). A lens of focal length f focused at z_f puts the sensor at
s = f z_f / (z_f - f); a point at depth z is blurred into a disc whose two halves (the DP half-apertures, their
centroids B apart) see it displaced by

    D_cam = f_px * B * (1/z - 1/z_f)                 f_px = s / pixel pitch (the intrinsic focal length, px)

pixels: a stereo pair of baseline B verged on the focal plane. For a circular aperture of diameter A = f / N the
half-disc centroids are B = 4 A / (3 pi) apart (u = -1/2 .. +1/2, engine/conventions.py). The camera's D_cam
relates to the model's D by the `.dp` header's affine map D_cam = disparity_gain * D + disparity_offset
(docs/dp-format.md), so

    a = f_px * B / gain,   b = -(f_px * B / z_f + offset) / gain          (1/z_f = 0 when z_f is not given)

Equivalently 1/z = (gain * D + offset) / (f_px * B) + 1/z_f: without a focus distance, gain * D + offset must be
the disparity relative to infinity (the offset carries the focal plane, f_px * B / z_f). A camera whose DP pair
shows the opposite parallax has a negative gain, so D_cam always grows nearer. Depth maps mark invalid pixels
(non-finite D, D beyond infinity, outside [min_depth_m, max_depth_m]) with 0 in every format.
Pure numpy + OpenCV, no torch.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from engine.io.atomic import atomic_write
from engine.io.pfm import read_pfm, write_pfm

DEPTH_FORMAT = "dplf-depth/1"
FLOAT_FORMATS = ("pfm", "npy")
MM_MAX = 65535

INVERSE_KEYS = ("a", "b")
THIN_LENS_KEYS = ("disparity_gain", "disparity_offset", "focal_length_px", "focal_length_mm", "pixel_pitch_um",
                  "baseline_m", "baseline_mm", "f_number", "focus_distance_m")
COMMON_KEYS = ("model", "image_width", "min_depth_m", "max_depth_m", "comment")


class CalibrationError(ValueError):
    """A calibration that cannot define depth; the message is one line naming the key and the fix."""


def half_aperture_baseline(aperture_diameter: float) -> float:
    """Distance between the centroids of the two halves of a circular aperture: 4 A / (3 pi)."""
    return 4.0 * aperture_diameter / (3.0 * math.pi)


@dataclass(frozen=True)
class DepthModel:
    """D = a / z + b, with D in pixels at `image_width` (None: the width the caller says, see `depth`)."""

    a: float
    b: float
    image_width: int | None = None
    min_depth_m: float | None = None
    max_depth_m: float | None = None
    kind: str = "inverse-depth"
    params: dict = field(default_factory=dict, compare=False)

    def _scale(self, width: int, calibration_width: int | None) -> float:
        """Factor from pixels of a map `width` wide to the calibration's pixels."""
        ref = self.image_width or calibration_width or width
        return ref / width

    def depth(self, disparity: np.ndarray, calibration_width: int | None = None) -> np.ndarray:
        """Depth in metres, float32 [H, W]; 0 where invalid or out of [min_depth_m, max_depth_m].

        `calibration_width`: width at which the calibration holds when it has no `image_width` (dplf passes
        the source's width, so a run with --max-size still gets metres); default: the map's own width.
        """
        d = np.asarray(disparity, np.float64)
        if d.ndim != 2:
            raise ValueError(f"disparity must be [H, W], got shape {d.shape}")
        with np.errstate(all="ignore"):
            inv = (d * self._scale(d.shape[1], calibration_width) - self.b) / self.a
            z = 1.0 / inv
            valid = np.isfinite(inv) & (inv > 0) & (z < np.finfo(np.float32).max)
            if self.min_depth_m is not None:
                valid &= z >= self.min_depth_m
            if self.max_depth_m is not None:
                valid &= z <= self.max_depth_m
        return np.where(valid, z, 0.0).astype(np.float32)

    def disparity(self, depth: np.ndarray, width: int | None = None, calibration_width: int | None = None):
        """The inverse: D (float64) of points at `depth` metres, in pixels of a map `width` wide."""
        z = np.asarray(depth, np.float64)
        d_ref = self.a / z + self.b
        return d_ref / self._scale(width, calibration_width) if width else d_ref

    def describe(self) -> dict:
        out = {"model": self.kind, "a": self.a, "b": self.b, "equation": "D = a / z + b (z in m, D in px)"}
        out.update({k: v for k, v in (("image_width", self.image_width), ("min_depth_m", self.min_depth_m),
                                      ("max_depth_m", self.max_depth_m)) if v is not None})
        if self.params:
            out["calibration"] = self.params
        return out


def _number(cal: dict, key: str, where: str, *, positive: bool = False, nonzero: bool = False) -> float | None:
    if key not in cal or cal[key] is None:
        return None
    v = cal[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CalibrationError(f"calibration {where}: {key!r} must be a finite number, got {v!r}")
    if positive and v <= 0:
        raise CalibrationError(f"calibration {where}: {key!r} must be > 0, got {v!r}")
    if nonzero and v == 0:
        raise CalibrationError(f"calibration {where}: {key!r} must not be 0")
    return float(v)


def load_calibration(calib, *, where: str | None = None) -> DepthModel:
    """A DepthModel from a DepthModel, a dict, or the path of a JSON file (docs/outputs.md, calibration JSON).

    A JSON object with a "calibration" object inside (a dplf-run manifest.json, a .dp header dump) uses that.
    Raises CalibrationError (a ValueError) with one line on anything that cannot define depth.
    """
    if isinstance(calib, DepthModel):
        return calib
    if isinstance(calib, (str, os.PathLike)):
        path = Path(calib)
        where = where or str(path)
        try:
            calib = json.loads(path.read_text())
        except FileNotFoundError:
            raise CalibrationError(f"calibration file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CalibrationError(f"calibration file {path} is unreadable ({exc})") from None
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"calibration file {path} is not valid JSON ({exc.msg}, line {exc.lineno})") \
                from None
    where = where or "object"
    if not isinstance(calib, dict):
        raise CalibrationError(f"calibration {where}: expected a JSON object, got {type(calib).__name__}")
    strict = True
    if isinstance(calib.get("calibration"), dict):
        # a manifest.json or .dp header: keys a later .dp version adds are not ours to judge
        calib, strict = calib["calibration"], False
        calib = {k: v for k, v in calib.items() if k in INVERSE_KEYS + THIN_LENS_KEYS + COMMON_KEYS}
    elif "calibration" in calib:
        raise CalibrationError(f"calibration {where}: 'calibration' is {calib['calibration']!r}, not an object "
                               f"(a run whose source has no calibration needs --calib FILE)")
    unknown = sorted(set(calib) - set(INVERSE_KEYS + THIN_LENS_KEYS + COMMON_KEYS))
    if unknown and strict:
        raise CalibrationError(f"calibration {where}: unknown keys {unknown}; known: "
                               f"{list(INVERSE_KEYS + THIN_LENS_KEYS + COMMON_KEYS)}")
    common = {}
    w = _number(calib, "image_width", where, positive=True)
    if w is not None:
        if w != int(w):
            raise CalibrationError(f"calibration {where}: 'image_width' must be a whole number of pixels, got {w}")
        common["image_width"] = int(w)
    lo = _number(calib, "min_depth_m", where, positive=True)
    hi = _number(calib, "max_depth_m", where, positive=True)
    if lo is not None and hi is not None and lo >= hi:
        raise CalibrationError(f"calibration {where}: min_depth_m {lo} must be below max_depth_m {hi}")
    common.update(min_depth_m=lo, max_depth_m=hi)
    params = {k: v for k, v in calib.items() if k != "comment"}

    inverse = [k for k in INVERSE_KEYS if k in calib]
    thin = [k for k in THIN_LENS_KEYS if k in calib]
    kind = calib.get("model")
    if kind not in (None, "inverse-depth", "thin-lens"):
        raise CalibrationError(f"calibration {where}: 'model' must be 'inverse-depth' or 'thin-lens', got {kind!r}")
    if inverse and thin:
        raise CalibrationError(f"calibration {where}: give either a and b (inverse-depth) or the thin-lens keys, "
                               f"not both (found {inverse + thin})")
    if kind == "inverse-depth" or (kind is None and inverse):
        if len(inverse) != 2:
            raise CalibrationError(f"calibration {where}: the inverse-depth form needs both 'a' and 'b'")
        a = _number(calib, "a", where, nonzero=True)
        b = _number(calib, "b", where)
        return DepthModel(a, b, kind="inverse-depth", params=params, **common)
    if not thin:
        raise CalibrationError(f"calibration {where}: no depth calibration in it; give 'a' and 'b', or "
                               f"'focal_length_px' and 'baseline_mm' (see docs/outputs.md)")

    gain = _number(calib, "disparity_gain", where, nonzero=True)
    gain = 1.0 if gain is None else gain
    offset = _number(calib, "disparity_offset", where) or 0.0
    z_f = _number(calib, "focus_distance_m", where, positive=True)
    f_mm = _number(calib, "focal_length_mm", where, positive=True)
    pitch_um = _number(calib, "pixel_pitch_um", where, positive=True)
    f_px = _number(calib, "focal_length_px", where, positive=True)
    if f_px is None:
        if f_mm is None or pitch_um is None:
            raise CalibrationError(f"calibration {where}: give 'focal_length_px', or 'focal_length_mm' and "
                                   f"'pixel_pitch_um'")
        if z_f is not None and z_f * 1e3 <= f_mm:
            raise CalibrationError(f"calibration {where}: focus_distance_m {z_f} must exceed the focal length")
        s_mm = f_mm if z_f is None else f_mm * z_f * 1e3 / (z_f * 1e3 - f_mm)   # lens-to-sensor distance
        f_px = s_mm * 1e3 / pitch_um
    b_m = _number(calib, "baseline_m", where, positive=True)
    b_mm = _number(calib, "baseline_mm", where, positive=True)
    n = _number(calib, "f_number", where, positive=True)
    if sum(x is not None for x in (b_m, b_mm, n)) != 1:
        raise CalibrationError(f"calibration {where}: give exactly one of 'baseline_m', 'baseline_mm' (distance "
                               f"between the half-aperture centroids) or 'f_number' (with 'focal_length_mm')")
    if n is not None:
        if f_mm is None:
            raise CalibrationError(f"calibration {where}: 'f_number' needs 'focal_length_mm'")
        baseline = half_aperture_baseline(f_mm * 1e-3 / n)
    else:
        baseline = b_m if b_m is not None else b_mm * 1e-3
    fb = f_px * baseline
    a = fb / gain
    b = -((fb / z_f if z_f is not None else 0.0) + offset) / gain
    params.setdefault("derived", {"focal_length_px": f_px, "baseline_m": baseline})
    return DepthModel(a, b, kind="thin-lens", params=params, **common)


def depth_from_disparity(disparity: np.ndarray, calib, *, calibration_width: int | None = None) -> np.ndarray:
    """Depth in metres (float32 [H, W], 0 = invalid) from D (float32 [H, W], px) and a calibration
    (DepthModel, dict or JSON path; see `load_calibration`). D is rescaled from the map's width to the
    calibration's (`image_width`, else `calibration_width`, else none)."""
    return load_calibration(calib).depth(disparity, calibration_width)


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """uint16 millimetres: rint(1000 z) clipped to [1, 65535]; 0 where depth is 0 (invalid) or not finite."""
    z = np.asarray(depth, np.float64)
    valid = np.isfinite(z) & (z > 0)
    mm = np.clip(np.rint(np.where(valid, z, 0.0) * 1e3), 1, MM_MAX)
    return np.where(valid, mm, 0).astype(np.uint16)


def write_depth(folder: Path, name: str, depth: np.ndarray, float_format: str = "pfm") -> None:
    """folder/name.pfm (or .npy): float32 metres; folder/name.png: 16-bit millimetres. Atomic."""
    folder = Path(folder)
    if float_format == "pfm":
        atomic_write(folder / f"{name}.pfm", lambda p: write_pfm(p, depth))
    elif float_format == "npy":
        def save(p: Path) -> None:
            with open(p, "wb") as fh:
                np.save(fh, depth.astype(np.float32, copy=False))

        atomic_write(folder / f"{name}.npy", save)
    else:
        raise ValueError(f"depth float format {float_format!r} is unknown; choose pfm or npy")

    def png(p: Path) -> None:
        ok, buf = cv2.imencode(".png", depth_to_mm(depth), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise OSError(f"PNG encoding failed for {folder / name}.png")
        p.write_bytes(buf.tobytes())

    atomic_write(folder / f"{name}.png", png)


class DepthWriter:
    """Writes depth maps frame by frame into `folder` and keeps `folder/depth.json` current."""

    def __init__(self, folder: Path, model: DepthModel, float_format: str = "pfm", extra: dict | None = None):
        if float_format not in FLOAT_FORMATS:
            raise ValueError(f"depth float format {float_format!r} is unknown; choose pfm or npy")
        self.folder, self.model, self.float_format = Path(folder), model, float_format
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"depth folder {self.folder} is not writable ({exc.strerror}); choose another --out") \
                from exc
        self.frames: list[int] = []
        self.extra = extra or {}
        self.calibration_width: int | None = None

    def write(self, name: str, disparity: np.ndarray, calibration_width: int | None = None) -> np.ndarray:
        depth = self.model.depth(disparity, calibration_width)
        write_depth(self.folder, name, depth, self.float_format)
        self.calibration_width = self.model.image_width or calibration_width or int(disparity.shape[1])
        self.frames.append(int(name))
        return depth

    def describe(self) -> dict:
        return {"format": DEPTH_FORMAT, "folder": self.folder.name, "frames": len(self.frames),
                "metres": f"{{frame:06d}}.{self.float_format}", "millimetres": "{frame:06d}.png",
                "invalid": 0, "calibration_width": self.calibration_width, **self.model.describe(), **self.extra}

    def write_manifest(self) -> None:
        text = json.dumps({**self.describe(), "frame_indices": self.frames}, indent=2)
        atomic_write(self.folder / "depth.json", lambda p: p.write_text(text))


def depth_run_folder(run_dir: Path, calib=None, out: Path | None = None, float_format: str = "pfm") -> str:
    """`dplf depth`: depth maps for every disparity map of a dplf-run folder. Returns the summary line.

    calib None uses the run's own calibration (the .dp header's, in manifest.json), when it has one.
    """
    from engine.io.run_folder import RunFolder

    run = RunFolder(run_dir)
    if calib is None:
        if not run.manifest.get("calibration"):
            raise CalibrationError(f"{run.path} records no calibration; pass --calib FILE (docs/outputs.md)")
        model = load_calibration(run.manifest, where=f"{run.path / 'manifest.json'}")
    else:
        model = load_calibration(calib)
    out = Path(out) if out is not None else run.path / "depth"
    src = run.manifest.get("source_size")
    writer = DepthWriter(out, model, float_format, extra={"run": str(run.path)})
    valid = total = 0
    for i in run.frames:
        d = read_pfm(run.path / "disparity" / f"{i:06d}.pfm")
        z = writer.write(f"{i:06d}", d, calibration_width=src[1] if src else None)
        valid, total = valid + int(np.count_nonzero(z)), total + z.size
        writer.write_manifest()
    return (f"dplf depth: {len(run.frames)} frames -> {out} ({100.0 * valid / max(total, 1):.1f}% valid pixels; "
            f"D = {model.a:.6g} / z + {model.b:.6g})")

"""`dplf calibrate`: fit a camera's depth calibration from one frame of a capture with known depth
(docs/outputs.md, "Calibration"), print the fit and its residuals, and store it in the .dp header (`--write`)
or a calibration JSON (`--out`).

The frame's disparity comes from the Pipeline (the same model and backend a run uses, so the calibration maps
exactly the D that runs will produce); the reference is a depth map (.pfm / .npy in metres, a 16-bit PNG in
millimetres, 0 or non-finite = unknown) or a JSON of planes at known distances. The fit itself is
engine/calibration.py.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import cv2
import numpy as np

from engine.calibration import CalibrationFit, fit_depth_map, plane_depth_map
from engine.io.atomic import atomic_write

DEPTH_MAP_SUFFIXES = (".pfm", ".npy", ".png")
ASPECT_TOLERANCE = 0.02


def read_reference(path: Path):
    """A depth map in metres (float32 [H, W], NaN = unknown) or a list of planes (dicts; masks loaded)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DEPTH_MAP_SUFFIXES + (".json",):
        raise ValueError(f"reference {path}: unknown kind {suffix or '(no extension)'}; give a depth map "
                         f"(.pfm or .npy in metres, 16-bit .png in millimetres) or planes (.json)")
    if not path.is_file():
        raise FileNotFoundError(f"reference {path} does not exist")
    if suffix == ".json":
        return _read_planes(path)
    if suffix == ".pfm":
        from engine.io.pfm import read_pfm

        z = read_pfm(path)
    elif suffix == ".npy":
        try:
            z = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(f"reference {path} is not a readable .npy array ({exc})") from None
        if not np.issubdtype(z.dtype, np.number):
            raise ValueError(f"reference {path} holds {z.dtype} values; expected depth in metres")
    else:
        mm = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if mm is None:
            raise ValueError(f"reference {path} is not a readable PNG")
        if mm.dtype != np.uint16 or mm.ndim != 2:
            raise ValueError(f"reference {path} is a {mm.dtype} PNG with shape {mm.shape}; a depth PNG must be "
                             f"single-channel 16-bit millimetres (0 = unknown)")
        z = np.where(mm > 0, mm.astype(np.float32) * np.float32(1e-3), np.nan)
    z = np.asarray(z, np.float32)
    if z.ndim == 3 and z.shape[-1] == 1:
        z = z[..., 0]
    if z.ndim != 2:
        raise ValueError(f"reference {path} has shape {z.shape}; a depth map is [H, W]")
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(z) & (z > 0), z, np.nan).astype(np.float32)


def _read_planes(path: Path) -> list[dict]:
    try:
        spec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"reference {path} is unreadable ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"reference {path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    planes = spec.get("planes") if isinstance(spec, dict) else spec
    if not isinstance(planes, list) or not planes:
        raise ValueError(f"reference {path}: expected {{\"planes\": [{{\"distance_m\": .., \"box\": [x0, y0, x1, y1]}}"
                         f", ...]}} (or \"mask\": \"file.png\" instead of box)")
    out = []
    for k, plane in enumerate(planes):
        if isinstance(plane, dict) and isinstance(plane.get("mask"), str):
            mask_path = path.parent / plane["mask"]
            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
            if mask is None:
                raise ValueError(f"reference {path}: plane {k}: mask {mask_path} is missing or not an image")
            plane = {**plane, "mask": mask}
        out.append(plane)
    return out


def _at_size(z: np.ndarray, h: int, w: int, what: str) -> np.ndarray:
    """The reference resampled (nearest neighbour, so depths are never blended) to the disparity's size."""
    if z.shape == (h, w):
        return z
    if abs(z.shape[0] / z.shape[1] - h / w) > ASPECT_TOLERANCE * h / w:
        raise ValueError(f"reference {what} is {z.shape[1]}x{z.shape[0]}, the frame {w}x{h} (other proportions); "
                         f"give a depth map of the frame as stored")
    rows = np.arange(h) * z.shape[0] // h
    cols = np.arange(w) * z.shape[1] // w
    return z[np.ix_(rows, cols)]


def _read_frame(input, frame: int, max_size: int | None):
    """(normalised frame, stored header or None) of frame `frame` of any input the pipeline reads."""
    from engine.io.sources import open_source

    if frame < 0:
        raise ValueError(f"--frame must be >= 0, got {frame}")
    source = open_source(input, max_size=max_size)
    try:
        header = getattr(source, "header", None)
        if hasattr(source, "__getitem__") and hasattr(source, "__len__"):
            n = len(source)
            if frame >= n:
                raise ValueError(f"--frame {frame} is not in {input} (it has {n} frame{'s' if n != 1 else ''})")
            return source[frame], header
        for f in source:
            if f.index >= frame:
                return f, header
        raise ValueError(f"--frame {frame} is not in {input} (it ended before)")
    finally:
        if hasattr(source, "close"):
            source.close()


def _camera_scale(header, focal_length_px, baseline_mm) -> tuple[float | None, float | None]:
    """Focal length (px) and DP baseline (mm): the options, else the .dp header's calibration."""
    cal = (getattr(header, "calibration", None) or {}) if header is not None else {}
    f = focal_length_px if focal_length_px is not None else cal.get("focal_length_px")
    b = baseline_mm if baseline_mm is not None else cal.get("baseline_mm")
    for name, v in (("--focal-length-px", f), ("--baseline-mm", b)):
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    return f, b


def _plane_lines(disparity: np.ndarray, planes: list, box_scale: float, fit: CalibrationFit) -> list[str]:
    """Per plane: its pixels, the median D on them and the depth the fit gives that D."""
    h, w = disparity.shape
    labels = plane_depth_map([{**p, "distance_m": k + 1} for k, p in enumerate(planes)], h, w, scale=box_scale)
    to_calibration_px = (fit.image_width or w) / w
    lines = []
    for k, p in enumerate(planes):
        d = disparity[(labels == k + 1) & np.isfinite(disparity)]
        if d.size == 0:
            lines.append(f"  plane {k}: {p['distance_m']:g} m, no pixel left (covered by later planes)")
            continue
        med = float(np.median(d)) * to_calibration_px   # in the fit's pixels
        inv_z = (med - fit.b) / fit.a
        lines.append(f"  plane {k}: {p['distance_m']:g} m on {d.size} px, median D {med:.4g} px -> "
                     + (f"{1 / inv_z:.4g} m" if inv_z > 0 else "beyond infinity"))
    return lines


def calibrate(input, reference: Path, *, frame: int = 0, backend: str = "ort-cpu", max_size: int | None = None,
              write: bool = False, out: Path | None = None, focal_length_px: float | None = None,
              baseline_mm: float | None = None, threads: int | None = None) -> str:
    """Run `dplf calibrate`; returns the lines it prints. ValueError / OSError / RuntimeError (one line) on bad
    input, an unusable reference or a fit that cannot be made; nothing is written then."""
    from engine.io.formats.dp import is_dp_file

    reference = Path(reference)
    if write and not (isinstance(input, (str, os.PathLike)) and is_dp_file(Path(input))):
        raise ValueError(f"--write stores the fit in a .dp file's header; {input} is not a .dp file (convert it "
                         f"with dplf convert, or save the fit with --out calib.json)")
    if out is not None and not Path(out).parent.is_dir():
        raise FileNotFoundError(f"--out {out}: folder {Path(out).parent} does not exist")
    if write and not os.access(Path(input).resolve().parent, os.W_OK):
        raise PermissionError(f"--write: the folder of {input} is not writable (the header is rewritten through "
                              f"a new file next to it)")
    ref = read_reference(reference)
    frame_data, header = _read_frame(input, frame, max_size)
    f_px, b_mm = _camera_scale(header, focal_length_px, baseline_mm)
    if write and (f_px is None or b_mm is None):
        raise ValueError(f"--write needs the camera's focal length and DP baseline to turn the fit into "
                         f"disparity_gain and disparity_offset; {input}'s header has no "
                         f"{'focal_length_px' if f_px is None else 'baseline_mm'}: pass --focal-length-px and "
                         f"--baseline-mm (or save the fit with --out calib.json, which needs neither)")

    from engine.pipeline import Pipeline

    pipe = Pipeline(backend=backend, views=0, threads=threads)
    disparity = np.array(pipe(frame_data.left, frame_data.right, frame_data.rgb).disparity, np.float32)
    h, w = disparity.shape
    width = int(header.width) if header is not None else w   # the calibration holds at the stored width
    lines = [f"dplf calibrate: frame {frame} of {input} ({w}x{h}"
             + (f", stored {header.width}x{header.height}" if header is not None and header.width != w else "")
             + f"), reference {reference.name}, {pipe.backend.name}"]
    if isinstance(ref, list):
        box_scale = w / width
        fit = fit_depth_map(disparity, plane_depth_map(ref, h, w, scale=box_scale), image_width=width)
        lines += [fit.summary(), *_plane_lines(disparity, ref, box_scale, fit)]
    else:
        fit = fit_depth_map(disparity, _at_size(ref, h, w, reference.name), image_width=width)
        lines.append(fit.summary())

    if f_px is not None and b_mm is not None:
        cal = fit.header_calibration(f_px, b_mm)
        lines.append(f"camera: disparity_gain {cal['disparity_gain']:.6g}, disparity_offset "
                     f"{cal['disparity_offset']:.6g} (focal_length_px {f_px:g}, baseline_mm {b_mm:g})")
    else:
        cal = None
        lines.append("camera: disparity_gain/disparity_offset need the focal length and DP baseline "
                     "(--focal-length-px, --baseline-mm)")
    model = pipe.info()["models"]
    name = next(iter(model))
    provenance = {"reference": reference.name, "frame": int(frame), "model": name,
                  "model_sha256": model[name]["sha256"], "backend": pipe.backend.name, "a": fit.a, "b": fit.b,
                  "image_width": width, **{k: v for k, v in fit.stats().items()
                                           if not isinstance(v, float) or math.isfinite(v)}}
    if out is not None:
        text = json.dumps(fit.calibration_json(
            comment=f"dplf calibrate: {reference.name}, frame {frame} of {Path(str(input)).name}, model {name}; "
                    f"RMS {fit.rms_px:.4g} px, {100 * fit.inlier_fraction:.1f}% inliers of {fit.n} px"), indent=2)
        atomic_write(Path(out), lambda p: p.write_text(text + "\n"))
        lines.append(f"wrote {out}")
    if write:
        from engine.io.dprewrite import rewrite_header

        tags = {**(header.tags or {}), "calibration_fit": provenance}
        kept = rewrite_header(input, calibration={**(header.calibration or {}), **cal}, tags=tags)
        lines.append(f"wrote the calibration into {input}'s header ({kept} frames kept)")
    return "\n".join(lines)


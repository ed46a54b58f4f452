"""Real 3-view dual-pixel captures in the dpMV layout, as training samples for the DP student.

Layout of one capture root (docs/training.md, "Real captures (dpMV layout)"):

    ROOT/rectified/A/image_NNN.{jpg,png}   left phone, rectified (disparity horizontal)
    ROOT/rectified/B/image_NNN.{jpg,png}   centre phone: the one whose DP data we train on
    ROOT/rectified/C/image_NNN.{jpg,png}   right phone
    ROOT/dp_data/B/image_NNN_left.*, image_NNN_right.*  (+ optional image_NNN.* full image)
                                           (or directly ROOT/dp_data/image_NNN_*)
    ROOT/calibration.json                  optional: {"gain": g, "offset": o, ...}

`find_captures(path)` lists the frames of a root (or of every root in a folder of roots);
`load_capture(capture, size, rng)` returns the float32 CHW sample dict of `models.training.samples.render_training_sample`
(dp, rgb, disparity = teacher label in D units, valid, gt_disparity = the same label, meta) with an optional
random crop and random flips. The label is `models.teacher.sgbm_teacher` on the rectified A/B/C images
(t = x_A - x_B = x_B - x_C, pixels of the rectified images), resampled onto the DP grid and mapped to D by
D = gain * t + offset from calibration.json, or, without one, by a robust fit of t against the fixed
defocus-matching estimate of the DP pair (`models.defocus_matching.DefocusCostVolume`, no training needed).
"""
from __future__ import annotations

import json
import math
import warnings
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from engine.io.formats import dpmv as dpmv_format
from engine.io.formats.files import IMAGE_EXTS, read_plane
from engine.io.lightfield import read_rgb

VIEWS = ("A", "B", "C")
CALIBRATION = "calibration.json"
DOCS = "see docs/training.md, 'Real captures (dpMV layout)'"
#: rectified-pixel disparity range searched by the teacher when calibration.json has no "teacher_range"
DEFAULT_TEACHER_RANGE = (-32.0, 96.0)
#: D range of the defocus-matching estimate used for self-calibration (that of the student)
SELF_CAL_MAX_D = 16.0
_CAL_KEYS = {"gain", "offset", "rectified_to_dp_scale", "rectified_to_dp", "teacher_range", "notes", "camera"}


@dataclass(frozen=True)
class Capture:
    """One synchronised frame of a dpMV capture root."""

    root: Path
    stem: str                            # "image_NNN"
    views: tuple                         # rectified (A, B, C) image paths
    left: Path
    right: Path
    rgb: Path | None                     # the DP camera's full image, if present
    calibration: dict = field(default_factory=dict, compare=False, hash=False)  # parsed calibration.json ({} = none)
    levels: tuple = (0, 255)             # (black, white) level of the DP planes

    @property
    def name(self) -> str:
        return f"{self.root.name}/{self.stem}"


# ------------------------------------------------------------------------------------------ discovery
def _stem_files(folder: Path) -> dict[str, Path]:
    """{stem: path} of the images in a folder (first extension in IMAGE_EXTS order wins)."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        ext = p.suffix[1:].lower()
        if p.is_file() and ext in IMAGE_EXTS:
            if p.stem not in out or IMAGE_EXTS.index(ext) < IMAGE_EXTS.index(out[p.stem].suffix[1:].lower()):
                out[p.stem] = p
    return out


def _read_calibration(root: Path) -> dict:
    path = root / CALIBRATION
    if not path.exists():
        return {}
    try:
        cal = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: invalid JSON ({e}); {DOCS}") from e
    if not isinstance(cal, dict):
        raise ValueError(f"{path}: must be a JSON object like {{\"gain\": 0.5, \"offset\": 0.0}}; {DOCS}")
    unknown = sorted(set(cal) - _CAL_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; known: {sorted(_CAL_KEYS)}")
    if ("gain" in cal) != ("offset" in cal):
        raise ValueError(f"{path}: give both 'gain' and 'offset' (D = gain * t + offset), or neither to "
                         f"self-calibrate each frame")

    def number(key, positive=False, nonzero=False):
        v = cal[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or (positive and v <= 0) or (nonzero and v == 0):
            need = "a number > 0" if positive else "a non-zero number" if nonzero else "a finite number"
            raise ValueError(f"{path}: '{key}' must be {need}, got {v!r}")
        return float(v)

    out = dict(cal)
    if "gain" in cal:
        out["gain"], out["offset"] = number("gain", nonzero=True), number("offset")
    if "rectified_to_dp_scale" in cal:
        out["rectified_to_dp_scale"] = number("rectified_to_dp_scale", positive=True)
    if "rectified_to_dp" in cal:
        m = np.asarray(cal["rectified_to_dp"], dtype=np.float64)
        if m.shape not in ((2, 3), (3, 3)) or not np.isfinite(m).all():
            raise ValueError(f"{path}: 'rectified_to_dp' must be a 2x3 or 3x3 matrix (rectified B pixel -> DP "
                             f"pixel), got {cal['rectified_to_dp']!r}")
        if "rectified_to_dp_scale" in cal:
            raise ValueError(f"{path}: give 'rectified_to_dp' or 'rectified_to_dp_scale', not both")
        out["rectified_to_dp"] = m.tolist()
    if "teacher_range" in cal:
        r = cal["teacher_range"]
        if (not isinstance(r, (list, tuple)) or len(r) != 2 or not all(isinstance(x, (int, float)) for x in r)
                or not r[0] < r[1]):
            raise ValueError(f"{path}: 'teacher_range' must be [min, max] rectified-pixel disparity, got {r!r}")
        out["teacher_range"] = [float(r[0]), float(r[1])]
    return out


def _dp_levels(header, dp_dir: Path) -> tuple[int, int]:
    """(black, white) of the DP planes, as `dplf convert` reads them (a dp_header.json sidecar, else
    0 .. 2^bits - 1), checked to make a usable normalisation."""
    top = 65535 if header.bit_depth == 16 else 255
    black, white = int(header.black_level), int(header.white_level)
    if not 0 <= black < white <= top:
        raise ValueError(f"{dp_dir}: need 0 <= black_level < white_level <= {top}, got {black}, {white}")
    return black, white


def _is_root(path: Path) -> bool:
    return dpmv_format.is_capture_root(path)


def _root_captures(root: Path) -> list[Capture]:
    rect = root / "rectified"
    if not rect.is_dir():
        raise ValueError(f"{rect}: missing folder; a dpMV capture needs the rectified images of the three phones "
                         f"in rectified/A (left), rectified/B (centre, the DP camera), rectified/C (right); {DOCS}")
    stems = []
    for v in VIEWS:
        if not (rect / v).is_dir():
            raise ValueError(f"{rect / v}: missing folder; put phone {v}'s rectified image_NNN.jpg/.png there "
                             f"(A = left, B = centre DP phone, C = right); {DOCS}")
        files = _stem_files(rect / v)
        if not files:
            raise ValueError(f"{rect / v}: no images (expected image_NNN.jpg or .png); {DOCS}")
        stems.append(files)
    dp_root = root / "dp_data"
    if not dp_root.is_dir():
        raise ValueError(f"{dp_root}: missing folder; put the centre phone's DP pairs in dp_data/B/"
                         f"image_NNN_left.*/image_NNN_right.* (or directly in dp_data/); {DOCS}")
    # the centre phone's DP frames by the rules `dplf convert` uses (dp_data/B or dp_data/, frame offsets,
    # pair naming, RGB, sidecar levels)
    seq = dpmv_format.open_dpmv(root, view="B")
    dp_dir = Path(seq.header.tags["dp_folder"])
    pairs = seq.pairs
    cal = _read_calibration(root)
    levels = _dp_levels(seq.header, dp_dir)
    out, missing = [], []
    for g in pairs:
        absent = [v for v, files in zip(VIEWS, stems) if g["stem"] not in files]
        if absent:
            missing.append(f"{g['stem']} (no rectified/{'/'.join(absent)})")
            continue
        out.append(Capture(root, g["stem"], tuple(files[g["stem"]] for files in stems), g["left"], g["right"],
                           g["rgb"], cal, levels))
    if not out:
        raise ValueError(f"{root}: no frame has all of rectified/A, B, C and a DP pair with the same stem "
                         f"(e.g. {missing[0]}); file stems must match: rectified/A/image_000.jpg <-> "
                         f"dp_data/B/image_000_left.jpg")
    if missing:
        warnings.warn(f"{root}: skipping {len(missing)} DP frame(s) without all three rectified views, "
                      f"e.g. {missing[0]}", stacklevel=3)
    return out


def find_captures(path) -> list[Capture]:
    """Frames of a dpMV capture root, or of every capture root directly inside `path`, in natural order.
    ValueError with one clear line (what is missing, where) when nothing usable is found."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path}: no such folder; pass a dpMV capture root (with rectified/ and dp_data/) or a "
                         f"folder of such roots")
    if _is_root(path):
        return _root_captures(path)
    roots = sorted(p for p in path.iterdir() if p.is_dir() and _is_root(p))
    if not roots:
        raise ValueError(f"{path}: not a dpMV capture root (no rectified/ or dp_data/ folder) and no sub-folder is "
                         f"one; expected ROOT/rectified/{{A,B,C}}/image_NNN.jpg + ROOT/dp_data/B/image_NNN_left.jpg")
    return [c for r in roots for c in _root_captures(r)]


def _read_views(capture: Capture) -> np.ndarray:
    imgs = [read_rgb(p) for p in capture.views]
    for v, p, img in zip(VIEWS, capture.views, imgs):
        if img.shape != imgs[1].shape:
            raise ValueError(f"{p}: rectified {v} is {img.shape[1]}x{img.shape[0]} but rectified B is "
                             f"{imgs[1].shape[1]}x{imgs[1].shape[0]}; the three rectified images must match")
    return np.stack(imgs).astype(np.float32) / np.float32(255.0)


def _read_dp(capture: Capture) -> tuple[np.ndarray, np.ndarray, str]:
    black, white = capture.levels
    planes = []
    for p in (capture.left, capture.right):
        raw = read_plane(p)
        if planes and raw.shape != planes[0].shape:
            raise ValueError(f"{p}: {raw.shape[1]}x{raw.shape[0]} differs from its left plane "
                             f"{planes[0].shape[1]}x{planes[0].shape[0]}")
        planes.append(np.clip((raw.astype(np.float32) - black) / np.float32(white - black), 0.0, 1.0))
    dp = np.stack(planes)
    h, w = dp.shape[1:]
    if capture.rgb is None:
        return dp, np.repeat(dp.mean(0, keepdims=True), 3, 0), "mean of the DP planes (no full image)"
    rgb = read_rgb(capture.rgb)
    how = capture.rgb.name
    if rgb.shape[:2] != (h, w):
        if abs(rgb.shape[0] * w / rgb.shape[1] - h) > 1.0:
            raise ValueError(f"{capture.rgb}: full image {rgb.shape[1]}x{rgb.shape[0]} does not have the DP "
                             f"planes' aspect ratio ({w}x{h})")
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        how += " (resized to the DP planes)"
    return dp, rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0), how


def prepare_capture(capture: Capture) -> dict:
    """The full-frame sample of a capture (uncached; see load_capture)."""
    dp, rgb, rgb_how = _read_dp(capture)
    views3 = _read_views(capture)
    cal = capture.calibration
    t_range = tuple(cal.get("teacher_range", DEFAULT_TEACHER_RANGE))
    from models.dpmv_labels import _rect_to_dp_matrix, _warp_to_dp, self_calibrate
    from models.teacher import sgbm_teacher

    t, t_valid = sgbm_teacher(views3, 1.0, d_range=t_range, return_valid=True)
    dp_hw = dp.shape[1:]
    m, map_how = _rect_to_dp_matrix(cal, views3.shape[1:3], dp_hw, capture.name)
    t, t_valid = _warp_to_dp(t, t_valid, m, dp_hw)
    meta = {"capture": capture.name, "root": str(capture.root), "stem": capture.stem, "rgb": rgb_how,
            "rectified_to_dp": map_how, "teacher_range_px": list(t_range),
            "teacher_valid_fraction": round(float(t_valid.mean()), 4)}
    if "gain" in cal:
        gain, offset = cal["gain"], cal["offset"]
        meta.update(calibration="file", gain=gain, offset=offset)
    else:
        fit = self_calibrate(dp, t, t_valid, capture.name, seed=zlib.crc32(capture.stem.encode()))
        gain, offset = fit["gain"], fit["offset"]
        meta.update(calibration="self", **fit)
    label = (gain * t + offset).astype(np.float32)
    label[~t_valid] = 0.0
    # gt_disparity is the label itself (no GT on real data); samples cut from this dict get their own copies
    return {"dp": dp, "rgb": rgb, "disparity": label[None], "valid": t_valid[None].astype(np.float32),
            "gt_disparity": label[None], "meta": meta}


_CACHE: "OrderedDict[tuple, dict]" = OrderedDict()
CACHE_FRAMES = 8


def clear_cache() -> None:
    _CACHE.clear()


def _cached(capture: Capture) -> dict:
    key = (str(capture.root), capture.stem)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    full = prepare_capture(capture)
    _CACHE[key] = full
    while len(_CACHE) > CACHE_FRAMES:
        _CACHE.popitem(last=False)
    return full


def load_capture(capture: Capture, size: int = 0, rng: np.random.Generator | None = None,
                 min_valid: float = 0.2) -> dict:
    """A training sample from a capture: float32 CHW dp [2,H,W], rgb [3,H,W], disparity [1,H,W] (teacher
    label in D units), valid [1,H,W], gt_disparity [1,H,W] (= the label: real data has no GT), and `meta`
    (calibration used, fitted gain/offset, ...). size > 0: a random size x size crop (a few tries for one with
    at least `min_valid` trusted pixels); with rng, also a random flip (models.training.samples.flip_sample). The
    full-frame label is cached for the last CACHE_FRAMES frames."""
    return _sample_from(_cached(capture), capture.name, size, rng, min_valid)


def _sample_from(full: dict, name: str, size: int, rng: np.random.Generator | None, min_valid: float) -> dict:
    if rng is None and size:
        rng = np.random.default_rng(0)
    h, w = full["dp"].shape[1:]
    if size:
        if size > h or size > w:
            raise ValueError(f"{name}: crop size {size} is larger than the DP frame ({w}x{h})")
        for _ in range(5):
            y0, x0 = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
            if full["valid"][0, y0:y0 + size, x0:x0 + size].mean() >= min_valid:
                break
        sample = {k: (np.ascontiguousarray(v[:, y0:y0 + size, x0:x0 + size]) if isinstance(v, np.ndarray) else v)
                  for k, v in full.items()}
        sample["meta"] = dict(full["meta"], crop=[int(y0), int(x0), size, size])
    else:
        sample = {k: (v.copy() if isinstance(v, np.ndarray) else dict(v)) for k, v in full.items()}
    if rng is not None:
        from models.training.samples import flip_sample

        fh, fv = rng.integers(0, 2, 2)
        sample = flip_sample(sample, bool(fh), bool(fv))
        sample["meta"] = dict(sample["meta"], flips=[int(fh), int(fv)])
    return sample


# ------------------------------------------------------------------------------------- training stream
class DpmvStream:
    """Random crops from real captures for training, with a bounded pool of prepared frames held here (not
    in the load_capture cache): each frame's teacher label costs a few seconds, so a frame serves about
    `crops_per_frame` crops before the pool swaps one frame for the next (captures visited in a seeded
    random order). Frames whose label cannot be made (e.g. self-calibration refused) are logged and skipped."""

    def __init__(self, path, size: int, seed: int = 0, pool: int = 8, crops_per_frame: int = 16, log=print):
        self.captures = find_captures(path)
        self.path, self.size, self.log = str(path), size, log
        self.rng = np.random.default_rng([seed, 17])
        self.order = list(self.rng.permutation(len(self.captures)))
        self.pool_size, self.crops_per_frame = max(1, pool), max(1, crops_per_frame)
        self.pool: list[tuple[Capture, dict]] = []
        self.used: dict[str, dict] = {}          # capture name -> its meta (calibration, gain, offset)
        self.failed: dict[str, str] = {}
        self.cursor = 0

    def _next(self) -> tuple[Capture, dict] | None:
        pooled = {c.name for c, _ in self.pool}
        for _ in range(len(self.captures)):
            c = self.captures[self.order[self.cursor % len(self.order)]]
            self.cursor += 1
            if c.name in self.failed or c.name in pooled:
                continue
            try:
                full = prepare_capture(c)
            except ValueError as e:
                self.failed[c.name] = str(e)
                self.log(f"[dpmv] skipping {c.name}: {e}")
                continue
            meta = full["meta"]
            if c.name not in self.used:
                self.used[c.name] = {k: meta[k] for k in ("calibration", "gain", "offset") if k in meta}
                self.log(f"[dpmv] {c.name}: {json.dumps({k: v for k, v in meta.items() if k != 'root'})}")
            return c, full
        return None

    def sample(self) -> dict:
        """One random crop (size x size, random flips) without `meta`."""
        grow = len(self.pool) < min(self.pool_size, len(self.captures) - len(self.failed))
        if grow or self.rng.random() < 1.0 / self.crops_per_frame:
            item = self._next()
            if item is not None:
                if len(self.pool) < self.pool_size:
                    self.pool.append(item)
                else:
                    self.pool[int(self.rng.integers(0, len(self.pool)))] = item
        if not self.pool:
            first = next(iter(self.failed.values()), "no captures")
            raise ValueError(f"{self.path}: no usable dpMV frame ({first})")
        c, full = self.pool[int(self.rng.integers(0, len(self.pool)))]
        s = _sample_from(full, c.name, self.size, self.rng, 0.2)
        s.pop("meta")
        return s

    def summary(self) -> dict:
        roots = sorted({str(c.root) for c in self.captures})
        cal = sorted({m["calibration"] for m in self.used.values()})
        gains = [m["gain"] for m in self.used.values()]
        offsets = [m["offset"] for m in self.used.values()]
        out = {"path": self.path, "roots": len(roots), "frames": len(self.captures), "frames_used": len(self.used),
               "frames_failed": len(self.failed), "calibration": "+".join(cal) or "none"}
        if gains:
            out.update(gain_median=round(float(np.median(gains)), 4), offset_median=round(float(np.median(offsets)), 4))
        return out

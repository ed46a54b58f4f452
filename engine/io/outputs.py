"""Writers for `dplf-run` outputs (docs/outputs.md): disparity PFMs, views, depth, manifest.json. Reading a run
back is `engine.io.run_folder.RunFolder`.

View formats (docs/outputs.md):
  png     views/000000/v{row:02d}_u{col:02d}.png per frame
  npy     views/000000.npy, uint8 [V, U, H, W, 3] per frame
  mp4     views/v{row:02d}_u{col:02d}.mp4, one video per view (frame k = the k-th frame written)
  mosaic  views/mosaic.mp4, one video whose frames tile the V x U grid (row v, column u), capped in size

Every file is written to a temporary name and renamed, so an interrupted run never leaves a half file, and
the manifest is rewritten after every frame: whatever was written stays described and usable. A video gets
its final name when the writer closes (dplf-run closes it on success, on a bad frame, on Ctrl-C and on a
full disk alike); MP4 stores its index at the end, so a process killed outright (SIGKILL, power loss)
leaves only an unreadable `.NAME.partial.mp4` — use png/npy where that matters.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_write
from .pfm import write_pfm
from .run_folder import MANIFEST, MANIFEST_FORMAT, MOSAIC_FILE, RUN_ENTRIES, view_name

VIEW_FORMATS = ("png", "npy", "mp4", "mosaic")
VIDEO_CODEC = "mp4v"             # MPEG-4 part 2: the codec every opencv-python wheel can write
MOSAIC_MAX_SIZE = 4096           # default cap on the mosaic video's longer side, pixels


def disparity_limit(disparity: np.ndarray) -> float:
    """Default colour range of a disparity map: the 99th percentile of |D| (1 when that is 0)."""
    finite = np.abs(disparity[np.isfinite(disparity)])
    return float(np.percentile(finite, 99)) if finite.size and np.percentile(finite, 99) > 0 else 1.0


def disparity_preview(disparity: np.ndarray, limit: float | None = None) -> np.ndarray:
    """Colour-mapped disparity, BGR uint8 [H, W, 3]; symmetric range +-limit (default: 99th pct of |D|).

    TURBO: red = +limit (near), green-cyan = 0 (the focal plane), dark blue = -limit (far).
    """
    limit = limit or disparity_limit(disparity)
    scaled = np.clip((np.nan_to_num(disparity) / limit + 1.0) * 127.5, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(scaled, cv2.COLORMAP_TURBO)


def mosaic_geometry(grid: tuple[int, int], size: tuple[int, int], max_size: int = MOSAIC_MAX_SIZE) -> dict:
    """Layout of a mosaic video: tiles of th x tw (the views scaled by `scale` <= 1 so that the mosaic's
    longer side is <= max_size), the V x U grid row-major without gaps, padded with black to even sizes
    (the encoder needs them).  grid (V, U), size (H, W) -> {"grid", "tile", "size", "scale"}"""
    (V, U), (h, w) = grid, size
    if max_size < 2 * max(U, V):
        raise ValueError(f"mosaic max size {max_size} is too small for a {V}x{U} grid")
    scale = min(1.0, max_size / max(U * w, V * h))
    tw, th = max(1, int(w * scale)), max(1, int(h * scale))
    if (tw, th) != (w, h):
        scale = min(tw / w, th / h)
    H, W = V * th, U * tw
    return {"grid": [V, U], "tile": [th, tw], "size": [H + H % 2, W + W % 2], "scale": round(scale, 6)}


class VideoFile:
    """An mp4 written under `.NAME.partial.mp4` and renamed to NAME.mp4 by close()."""

    def __init__(self, path: Path, fps: float, size_hw: tuple[int, int]):
        self.path, self.size = path, tuple(size_hw)
        self.tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*VIDEO_CODEC), fps,
                                      (size_hw[1], size_hw[0]))
        if not self.writer.isOpened():
            self.writer.release()
            self.tmp.unlink(missing_ok=True)
            raise OSError(f"cannot open an mp4 writer at {path}; use --format png or npy")

    def write(self, bgr: np.ndarray) -> None:
        self.writer.write(bgr)

    def close(self) -> None:
        self.writer.release()
        if self.tmp.exists():
            os.replace(self.tmp, self.path)


def pad_even(image: np.ndarray) -> np.ndarray:
    """Pad H and W to even sizes by repeating the last row/column (encoders drop an odd row/column)."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)


class OutputWriter:
    """Writes one frame at a time into `out_dir` and keeps `manifest.json` current.

    Args:
        view_format: png | npy | mp4 | mosaic.
        manifest: extra manifest keys (dplf-run passes views, positions, backend, ...).
        preview: also write disparity/NNNNNN.png (colour map).
        fps: frame rate of the videos.
        mosaic_max_size: cap on the mosaic video's longer side (the tiles are scaled down to fit).
        depth: an `engine.depth.DepthModel` (or anything `engine.depth.load_calibration` takes): also write
            depth/NNNNNN.pfm (metres) and depth/NNNNNN.png (16-bit millimetres).
    """

    def __init__(self, out_dir: Path, view_format: str = "png", manifest: dict | None = None,
                 preview: bool = False, fps: float = 30.0, mosaic_max_size: int = MOSAIC_MAX_SIZE,
                 depth=None):
        if view_format not in VIEW_FORMATS:
            raise ValueError(f"unknown view format {view_format!r}; choose one of {', '.join(VIEW_FORMATS)}")
        if mosaic_max_size < 2:
            raise ValueError(f"mosaic max size must be >= 2 pixels, got {mosaic_max_size}")
        self.out_dir = Path(out_dir)
        self.view_format, self.preview, self.fps = view_format, preview, float(fps)
        self.mosaic_max_size = int(mosaic_max_size)
        self.depth = model = None
        if depth is not None:   # checked before anything is written
            from engine.depth import DepthWriter, load_calibration

            model = load_calibration(depth)
        try:
            (self.out_dir / "disparity").mkdir(parents=True, exist_ok=True)
            probe = self.out_dir / ".dplf-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OSError(f"output folder {self.out_dir} is not writable ({exc.strerror}); "
                          f"choose another --out") from exc
        if model is not None:
            self.depth = DepthWriter(self.out_dir / "depth", model)
        self.manifest = {"format": MANIFEST_FORMAT, "frames": 0, "status": "running", "view_format": view_format,
                         **(manifest or {}),
                         "frame_indices": []}
        self._videos: dict[tuple[int, int] | str, VideoFile] = {}
        self._mosaic_buf: np.ndarray | None = None
        self.write_manifest()

    def write(self, frame_no: int, disparity: np.ndarray, views: np.ndarray | None) -> None:
        """disparity float32 [H, W]; views uint8 [V, U, H, W, 3] (RGB) or None."""
        name = f"{frame_no:06d}"
        atomic_write(self.out_dir / "disparity" / f"{name}.pfm", lambda p: write_pfm(p, disparity))
        if self.preview:
            _imwrite(self.out_dir / "disparity" / f"{name}.png", disparity_preview(disparity))
        if self.depth is not None:
            src = self.manifest.get("source_size")   # [H, W] of the source before --max-size
            self.depth.write(name, disparity, calibration_width=src[1] if src else None)
            self.depth.write_manifest()
            self.manifest["depth"] = self.depth.describe()
        if views is not None:
            (self.out_dir / "views").mkdir(exist_ok=True)   # created with the first views: none with --no-views
            getattr(self, f"_write_{self.view_format}")(name, np.asarray(views))
        self.manifest["frames"] += 1
        self.manifest["frame_indices"].append(int(frame_no))
        self.write_manifest()

    def _write_png(self, name: str, views: np.ndarray) -> None:
        folder = self.out_dir / "views" / name
        folder.mkdir(exist_ok=True)
        for row in range(views.shape[0]):
            for col in range(views.shape[1]):
                _imwrite(folder / f"{view_name(row, col)}.png", views[row, col][..., ::-1])

    def _write_npy(self, name: str, views: np.ndarray) -> None:
        def save(p: Path) -> None:
            with open(p, "wb") as fh:
                np.save(fh, views)

        atomic_write(self.out_dir / "views" / f"{name}.npy", save)

    def _write_mp4(self, name: str, views: np.ndarray) -> None:
        h, w = views.shape[2:4]
        if not self._videos:
            self.manifest["video"] = {"files": "views/v{row:02d}_u{col:02d}.mp4", "codec": VIDEO_CODEC,
                                      "frame_size": [h + h % 2, w + w % 2]}
        for row in range(views.shape[0]):
            for col in range(views.shape[1]):
                vw = self._videos.get((row, col))
                if vw is None:
                    vw = self._videos[(row, col)] = VideoFile(self.out_dir / "views" / f"{view_name(row, col)}.mp4",
                                                           self.fps, (h + h % 2, w + w % 2))
                vw.write(pad_even(np.ascontiguousarray(views[row, col][..., ::-1])))

    def _write_mosaic(self, name: str, views: np.ndarray) -> None:
        V, U, h, w = views.shape[:4]
        vw = self._videos.get("mosaic")
        if vw is None:
            geo = mosaic_geometry((V, U), (h, w), self.mosaic_max_size)
            self.manifest["mosaic"] = {"file": f"views/{MOSAIC_FILE}", "codec": VIDEO_CODEC, **geo}
            self._mosaic_buf = np.zeros((*geo["size"], 3), np.uint8)
            vw = self._videos["mosaic"] = VideoFile(self.out_dir / "views" / MOSAIC_FILE, self.fps, geo["size"])
        th, tw = self.manifest["mosaic"]["tile"]
        if [V, U] != self.manifest["mosaic"]["grid"]:
            raise ValueError(f"mosaic: the view grid changed from {self.manifest['mosaic']['grid']} to {[V, U]}")
        buf = self._mosaic_buf
        for row in range(V):
            for col in range(U):
                tile = buf[row * th:(row + 1) * th, col * tw:(col + 1) * tw]
                src = views[row, col][..., ::-1]
                if (th, tw) == (h, w):
                    tile[...] = src
                else:
                    cv2.resize(src, (tw, th), dst=tile, interpolation=cv2.INTER_AREA)
        vw.write(buf)

    def write_manifest(self) -> None:
        text = json.dumps(self.manifest, indent=2)
        atomic_write(self.out_dir / MANIFEST, lambda p: p.write_text(text))

    def close(self, status: str = "complete", **extra) -> None:
        """Finish the videos (rename them to their final names) and write the final manifest. Idempotent."""
        errors = []
        for vw in self._videos.values():
            try:
                vw.close()
            except OSError as exc:   # keep going: every other video must still be finished
                errors.append(exc)
        self._videos.clear()
        self.manifest.update(status=status, **extra)
        self.write_manifest()
        if errors:
            raise errors[0]


def _imwrite(path: Path, image: np.ndarray) -> None:
    def write(p: Path) -> None:
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise OSError(f"PNG encoding failed for {path}")
        p.write_bytes(buf.tobytes())

    atomic_write(path, write)


# -- a used output folder ---------------------------------------------------------------------------------
def used_output(out: Path) -> str | None:
    """Why `out` cannot take a new run as it is (None when it is missing or empty): it holds a dplf run, or
    other files."""
    out = Path(out)
    if not out.is_dir() or not any(out.iterdir()):
        return None
    if any((out / name).exists() for name in RUN_ENTRIES):
        return "already holds a dplf run"
    return "is not empty"


def clear_run(out: Path) -> None:
    """Delete a previous run from `out`: the RUN_ENTRIES and the temporary files of an interrupted write of the
    manifest. Nothing else in `out` is touched."""
    out = Path(out)
    for name in RUN_ENTRIES:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    for tmp in out.glob(f".{MANIFEST}.*"):
        tmp.unlink(missing_ok=True)

"""Writers for `dplf-run` outputs (docs/outputs.md): disparity PFMs, views, depth, manifest.json. Reading a run
back is `engine.io.run_folder.RunFolder`.

View formats (docs/outputs.md):
  png     views/000000/v{row:02d}_u{col:02d}.png per frame (lossless; zlib level `png_level`, default 1)
  jpg     views/000000/v{row:02d}_u{col:02d}.jpg per frame (lossy previews; `jpg_quality`, default 90)
  npy     views/000000.npy, uint8 [V, U, H, W, 3] per frame
  mp4     views/v{row:02d}_u{col:02d}.mp4, one video per view (frame k = the k-th frame written)
  mosaic  views/mosaic.mp4, one video whose frames tile the V x U grid (row v, column u), capped in size

Every file is written to a temporary name and renamed, so an interrupted run never leaves a half file, and
the manifest is rewritten after every frame: whatever was written stays described and usable. A video gets
its final name when the writer closes (dplf-run closes it on success, on a bad frame, on Ctrl-C and on a
full disk alike); MP4 stores its index at the end, so a process killed outright (SIGKILL, power loss)
leaves only an unreadable `.NAME.partial.mp4` — use png/npy where that matters.

With `workers` > 0 the files are encoded and written by a bounded pool of threads (`engine.io.write_pool`):
at most `max_frames` frames in flight, video frames in order, and a frame is counted in the manifest only
once all of its files (and those of every earlier frame) are written.
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
from .png import encode_png, fast_png_supported
from .run_folder import MANIFEST, MANIFEST_FORMAT, MOSAIC_FILE, RUN_ENTRIES, view_name
from .write_pool import WritePool

VIEW_FORMATS = ("png", "jpg", "npy", "mp4", "mosaic")
PNG_LEVEL = 1                    # PNG compression: 1 = Sub filter + ISA-L level 1, the fastest (encode_image)
JPG_QUALITY = 90                 # --format jpg
MAX_FRAMES_IN_FLIGHT = 3         # frames queued for the writer threads (each holds a copy of its views)
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
        view_format: png | jpg | npy | mp4 | mosaic.
        manifest: extra manifest keys (dplf-run passes views, positions, backend, ...).
        preview: also write disparity/NNNNNN.png (colour map).
        fps: frame rate of the videos.
        mosaic_max_size: cap on the mosaic video's longer side (the tiles are scaled down to fit).
        depth: an `engine.depth.DepthModel` (or anything `engine.depth.load_calibration` takes): also write
            depth/NNNNNN.pfm (metres) and depth/NNNNNN.png (16-bit millimetres).
        png_level: zlib level 0-9 of the PNG views (and disparity previews); jpg_quality: 1-100 (--format jpg).
        workers: writer threads; 0 (the default) writes each frame inside `write`. With threads, `write` copies
            the frame and returns once it is queued (at most `max_frames` in flight; it waits for the oldest
            otherwise), and raises the error of an earlier frame whose write failed (`failed_frame` names it);
            `flush`/`close` wait for every write in flight.
        encode: `encode(path, image) -> bytes` for the images (BGR uint8); default `encode_image` (OpenCV).
    """

    def __init__(self, out_dir: Path, view_format: str = "png", manifest: dict | None = None,
                 preview: bool = False, fps: float = 30.0, mosaic_max_size: int = MOSAIC_MAX_SIZE,
                 depth=None, png_level: int = PNG_LEVEL, jpg_quality: int = JPG_QUALITY, workers: int = 0,
                 max_frames: int = MAX_FRAMES_IN_FLIGHT, encode=None):
        if view_format not in VIEW_FORMATS:
            raise ValueError(f"unknown view format {view_format!r}; choose one of {', '.join(VIEW_FORMATS)}")
        if mosaic_max_size < 2:
            raise ValueError(f"mosaic max size must be >= 2 pixels, got {mosaic_max_size}")
        check_encoding(png_level, jpg_quality)
        self.out_dir = Path(out_dir)
        self.view_format, self.preview, self.fps = view_format, preview, float(fps)
        self.mosaic_max_size = int(mosaic_max_size)
        self.png_level, self.jpg_quality = int(png_level), int(jpg_quality)
        self.encode = encode or (lambda path, image: encode_image(path, image, self.png_level, self.jpg_quality))
        self.depth = model = None
        if depth is not None:   # checked before anything is written
            from engine.depth import DepthWriter, load_calibration

            model = load_calibration(depth)
        self.pool = WritePool(workers, max_frames)   # checks its arguments before anything is written
        try:
            (self.out_dir / "disparity").mkdir(parents=True, exist_ok=True)
            probe = self.out_dir / ".dplf-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            self.pool.close()
            raise OSError(f"output folder {self.out_dir} is not writable ({exc.strerror}); "
                          f"choose another --out") from exc
        if model is not None:
            self.depth = DepthWriter(self.out_dir / "depth", model)
        encoding = {"png": {"png_level": self.png_level}, "jpg": {"jpg_quality": self.jpg_quality}}
        self.manifest = {"format": MANIFEST_FORMAT, "frames": 0, "status": "running", "view_format": view_format,
                         **encoding.get(view_format, {}), **(manifest or {}),
                         "frame_indices": []}
        self._videos: dict[tuple[int, int] | str, VideoFile] = {}
        self._mosaic_buf: np.ndarray | None = None
        self.write_manifest()

    @property
    def failed_frame(self) -> int | None:
        """The frame whose write failed (None while none has)."""
        return self.pool.failed

    @property
    def write_seconds(self) -> float:
        """Wall time during which at least one file was being encoded or written."""
        return self.pool.busy_s

    def write(self, frame_no: int, disparity: np.ndarray, views: np.ndarray | None) -> None:
        """disparity float32 [H, W]; views uint8 [V, U, H, W, 3] (RGB) or None."""
        name = f"{frame_no:06d}"
        if self.pool.workers:   # the caller may reuse its buffers (the pipeline does) once this returns
            disparity = np.array(disparity, copy=True)
            views = None if views is None else np.array(views, copy=True)
        folder = self.out_dir / "disparity"
        tasks = [lambda: atomic_write(folder / f"{name}.pfm", lambda p: write_pfm(p, disparity))]
        if self.preview:
            tasks.append(lambda: self._image(folder / f"{name}.png", disparity_preview(disparity)))
        ordered = []
        if views is not None:
            (self.out_dir / "views").mkdir(exist_ok=True)   # created with the first views: none with --no-views
            views = np.asarray(views)
            if self.view_format in ("mp4", "mosaic"):
                ordered.append(getattr(self, f"_{self.view_format}_frame")(views))
            else:
                tasks += getattr(self, f"_{self.view_format}_tasks")(name, views)

        def commit() -> None:   # in frame order, once the frame's files are all written
            if self.depth is not None:
                src = self.manifest.get("source_size")   # [H, W] of the source before --max-size
                self.depth.write(name, disparity, calibration_width=src[1] if src else None)
                self.depth.write_manifest()
                self.manifest["depth"] = self.depth.describe()
            self.manifest["frames"] += 1
            self.manifest["frame_indices"].append(int(frame_no))
            try:
                self.write_manifest()
            except BaseException:   # not counted: its files are removed (discard), and so is it here
                self.manifest["frames"] -= 1
                self.manifest["frame_indices"].pop()
                raise

        try:
            self.pool.submit(int(frame_no), tasks, ordered, commit, lambda: self._discard(name))
        except BaseException:   # this frame or an earlier one failed (or Ctrl-C while waiting): not counted
            self._discard(name)
            raise

    def _discard(self, name: str) -> None:
        """Remove the files of a frame that was not counted (its write failed, or an earlier frame's did): the
        folder then holds exactly the frames the manifest lists. Video frames already encoded stay (frame k of
        a video is `frame_indices[k]`; later ones are not listed)."""
        for path in (self.out_dir / "disparity" / f"{name}.pfm", self.out_dir / "disparity" / f"{name}.png",
                     self.out_dir / "views" / f"{name}.npy", self.out_dir / "depth" / f"{name}.pfm",
                     self.out_dir / "depth" / f"{name}.npy", self.out_dir / "depth" / f"{name}.png"):
            path.unlink(missing_ok=True)
        folder = self.out_dir / "views" / name
        if folder.is_dir():
            shutil.rmtree(folder)

    def flush(self) -> None:
        """Wait for every write in flight and count the frames written (raises the first write error)."""
        self.pool.flush()

    def _image(self, path: Path, image: np.ndarray) -> None:
        atomic_write(path, lambda p: p.write_bytes(self.encode(path, image)))

    def _png_tasks(self, name: str, views: np.ndarray, ext: str = "png") -> list:
        folder = self.out_dir / "views" / name
        folder.mkdir(exist_ok=True)
        return [lambda row=row, col=col: self._image(folder / f"{view_name(row, col)}.{ext}", views[row, col][..., ::-1])
                for row in range(views.shape[0]) for col in range(views.shape[1])]

    def _jpg_tasks(self, name: str, views: np.ndarray) -> list:
        return self._png_tasks(name, views, "jpg")

    def _npy_tasks(self, name: str, views: np.ndarray) -> list:
        def save(p: Path) -> None:
            with open(p, "wb") as fh:
                np.save(fh, views)

        return [lambda: atomic_write(self.out_dir / "views" / f"{name}.npy", save)]

    def _mp4_frame(self, views: np.ndarray):
        h, w = views.shape[2:4]
        if not self._videos:
            self.manifest["video"] = {"files": "views/v{row:02d}_u{col:02d}.mp4", "codec": VIDEO_CODEC,
                                      "frame_size": [h + h % 2, w + w % 2]}
        for row in range(views.shape[0]):
            for col in range(views.shape[1]):
                if (row, col) not in self._videos:
                    self._videos[(row, col)] = VideoFile(self.out_dir / "views" / f"{view_name(row, col)}.mp4",
                                                         self.fps, (h + h % 2, w + w % 2))
        videos = dict(self._videos)

        def write() -> None:   # on the ordered thread: video frame k is the k-th frame written
            for row in range(views.shape[0]):
                for col in range(views.shape[1]):
                    videos[(row, col)].write(pad_even(np.ascontiguousarray(views[row, col][..., ::-1])))
        return write

    def _mosaic_frame(self, views: np.ndarray):
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
        buf = self._mosaic_buf   # only the ordered thread fills it, one frame after the other

        def write() -> None:
            for row in range(V):
                for col in range(U):
                    tile = buf[row * th:(row + 1) * th, col * tw:(col + 1) * tw]
                    src = views[row, col][..., ::-1]
                    if (th, tw) == (h, w):
                        tile[...] = src
                    else:
                        cv2.resize(src, (tw, th), dst=tile, interpolation=cv2.INTER_AREA)
            vw.write(buf)
        return write

    def write_manifest(self) -> None:
        text = json.dumps(self.manifest, indent=2)
        atomic_write(self.out_dir / MANIFEST, lambda p: p.write_text(text))

    def close(self, status: str = "complete", **extra) -> None:
        """Wait for the writes in flight, finish the videos (rename them to their final names) and write the
        final manifest ("failed" instead of "complete" when a write failed). Idempotent. Raises the first error."""
        errors: list[BaseException] = []
        try:
            self.pool.close()
        except BaseException as exc:  # noqa: BLE001 - Ctrl-C or a failed write: re-raised below, after the videos
            # and the manifest are finished
            errors.append(exc)
            if status == "complete":
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        for vw in self._videos.values():
            try:
                vw.close()
            except OSError as exc:   # keep going: every other video must still be finished
                errors.append(exc)
        self._videos.clear()
        self.manifest.update(status=status, **extra)
        try:
            self.write_manifest()
        except OSError as exc:   # after an earlier error the manifest on disk is the last valid one
            errors.append(exc)
        if errors:
            raise errors[0]


def check_encoding(png_level: int, jpg_quality: int) -> None:
    """One-line errors for --png-level / --jpg-quality out of range."""
    if isinstance(png_level, bool) or not isinstance(png_level, (int, np.integer)) or not 0 <= png_level <= 9:
        raise ValueError(f"--png-level must be an integer from 0 (fastest, largest) to 9, got {png_level!r}")
    if isinstance(jpg_quality, bool) or not isinstance(jpg_quality, (int, np.integer)) or not 1 <= jpg_quality <= 100:
        raise ValueError(f"--jpg-quality must be an integer from 1 to 100, got {jpg_quality!r}")


def encode_image(path: Path, image: np.ndarray, png_level: int = PNG_LEVEL, jpg_quality: int = JPG_QUALITY) -> bytes:
    """The bytes of `image` (BGR uint8, or 16-bit for PNG) as a .png or .jpg file, by `path`'s suffix.

    png_level 0 stores; 1 (the fastest measured, docs/outputs.md) is PNG's Sub filter on every row and ISA-L's
    level-1 deflate for 8-bit images (`engine.io.png`), zlib's Huffman-only strategy after the Sub filter for
    16-bit ones; 2-9 are zlib levels."""
    ext = Path(path).suffix.lower()
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, jpg_quality]
    elif png_level == 1 and fast_png_supported(image):
        return encode_png(image, 1)
    elif png_level == 1:
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
                  cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, png_level]
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise OSError(f"{ext[1:].upper()} encoding failed for {path}")
    return buf.tobytes()


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

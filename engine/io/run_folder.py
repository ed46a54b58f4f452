"""A `dplf-run` output folder read back (`RunFolder`), and its layout: the names a run writes.

Layout (docs/outputs.md): manifest.json ("format": MANIFEST_FORMAT), disparity/NNNNNN.pfm, views/ (png: a folder
per frame of v{row:02d}_u{col:02d}.png, or .jpg with --format jpg; npy: NNNNNN.npy; mp4: a video per view; mosaic:
views/mosaic.mp4), depth/ (with --depth), viewer.html (dplf view, --viewer). RUN_ENTRIES are these top-level names:
what `--overwrite` replaces (so no viewer.html of an earlier run is left beside a new one).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from .pfm import read_pfm

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "dplf-lf/1"
MOSAIC_FILE = "mosaic.mp4"
RUN_ENTRIES = (MANIFEST, "disparity", "views", "depth", "viewer.html")


def view_name(row: int, col: int) -> str:
    return f"v{row:02d}_u{col:02d}"


class RunFolder:
    """A `dplf-run` output folder, read back: `frames` (source indices in write order), `disparity(i)`,
    `views(i)` (uint8 RGB [V, U, H, W, 3], whatever the view format), `positions` ([V, U, 2]).

    Raises ValueError with one line when the folder is not a run folder.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise ValueError(f"run folder {self.path} does not exist; pass a dplf-run --out folder")
        man = self.path / "manifest.json"
        try:
            self.manifest = json.loads(man.read_text())
        except FileNotFoundError:
            raise ValueError(f"{self.path} has no manifest.json; is it a dplf-run output folder?") from None
        except (OSError, ValueError) as exc:
            raise ValueError(f"{man} is unreadable ({exc}); is it a dplf-run output folder?") from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"{man} is not a {MANIFEST_FORMAT} manifest")
        indices = self.manifest.get("frame_indices")
        if indices is None:   # older runs: the disparity maps name every frame written
            indices = sorted(int(p.stem) for p in (self.path / "disparity").glob("*.pfm") if p.stem.isdigit())
        self.frames: list[int] = [int(i) for i in indices]
        if not self.frames:
            raise ValueError(f"{self.path} holds no frames (status {self.manifest.get('status')!r})")
        views = self.manifest.get("views") or [0, 0]
        self.grid = (int(views[0]), int(views[1]))
        self.view_format = self.manifest.get("view_format") if all(self.grid) else None

    @property
    def has_views(self) -> bool:
        return self.view_format is not None

    @property
    def positions(self) -> np.ndarray:
        """(u, v) of every view, float32 [V, U, 2]."""
        return np.asarray(self.manifest["positions"], np.float32).reshape(*self.grid, 2)

    def frame(self, frame: int | None) -> int:
        """The source index to use: `frame`, or the first frame written when None."""
        if frame is None:
            return self.frames[0]
        if frame not in self.frames:
            span = f"{self.frames[0]}..{self.frames[-1]}" if len(self.frames) > 1 else str(self.frames[0])
            raise ValueError(f"frame {frame} is not in {self.path} (frames {span})")
        return frame

    def disparity(self, frame: int | None = None) -> np.ndarray:
        return read_pfm(self.path / "disparity" / f"{self.frame(frame):06d}.pfm")

    def views(self, frame: int | None = None) -> np.ndarray:
        """uint8 RGB [V, U, H, W, 3] of one frame (decoded videos are lossy; a mosaic is scaled back up)."""
        if not self.has_views:
            raise ValueError(f"{self.path} has no views (run without --no-views)")
        frame = self.frame(frame)
        name, (V, U) = f"{frame:06d}", self.grid
        views_dir = self.path / "views"
        if self.view_format == "npy":
            return np.load(views_dir / f"{name}.npy")
        h, w = int(self.manifest["height"]), int(self.manifest["width"])
        out = np.empty((V, U, h, w, 3), np.uint8)
        if self.view_format in ("png", "jpg"):   # jpg is lossy (quality in the manifest)
            for r in range(V):
                for c in range(U):
                    out[r, c] = _imread(views_dir / name / f"{view_name(r, c)}.{self.view_format}")[..., ::-1]
            return out
        k = self.frames.index(frame)
        if self.view_format == "mp4":
            for r in range(V):
                for c in range(U):
                    out[r, c] = _video_frame(views_dir / f"{view_name(r, c)}.mp4", k)[:h, :w, ::-1]
            return out
        if self.view_format == "mosaic":
            geo = self.manifest["mosaic"]
            th, tw = geo["tile"]
            mosaic = _video_frame(self.path / geo["file"], k)
            for r in range(V):
                for c in range(U):
                    tile = mosaic[r * th:(r + 1) * th, c * tw:(c + 1) * tw, ::-1]
                    out[r, c] = tile if (th, tw) == (h, w) else cv2.resize(tile, (w, h),
                                                                           interpolation=cv2.INTER_LINEAR)
            return out
        raise ValueError(f"{self.path}: unknown view format {self.view_format!r}")


def _imread(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return image


def _video_frame(path: Path, k: int) -> np.ndarray:
    """Frame k (0-based) of a video, BGR uint8."""
    if not path.is_file():
        partial = path.with_name(f".{path.stem}.partial{path.suffix}")
        hint = " (only a partial file: the run was killed before it finished the video)" if partial.exists() else ""
        raise ValueError(f"video {path} is missing{hint}")
    cap = cv2.VideoCapture(str(path))
    try:
        if k:
            cap.set(cv2.CAP_PROP_POS_FRAMES, k)
        ok, image = cap.read()
    finally:
        cap.release()
    if not ok:
        raise ValueError(f"cannot read frame {k} of {path}")
    return image

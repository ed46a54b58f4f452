"""Writers for `dplf-run` outputs (SPEC §4): disparity PFMs, views (png | npy | mp4), manifest.json.

Every file is written to a temporary name and renamed, so an interrupted run never leaves a half file,
and the manifest is rewritten after every frame: whatever was written stays described and usable.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from .pfm import write_pfm

VIEW_FORMATS = ("png", "npy", "mp4")
MANIFEST_FORMAT = "dplf-lf/1"


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def disparity_preview(disparity: np.ndarray, limit: float | None = None) -> np.ndarray:
    """Colour-mapped disparity, BGR uint8 [H, W, 3]; symmetric range +-limit (default: 99th pct of |D|)."""
    limit = limit or float(np.percentile(np.abs(disparity), 99)) or 1.0
    scaled = np.clip((disparity / limit + 1.0) * 127.5, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(scaled, cv2.COLORMAP_TURBO)


class OutputWriter:
    """Writes one frame at a time into `out_dir` and keeps `manifest.json` current."""

    def __init__(self, out_dir: Path, view_format: str = "png", manifest: dict | None = None,
                 preview: bool = False, fps: float = 30.0):
        if view_format not in VIEW_FORMATS:
            raise ValueError(f"unknown view format {view_format!r}; choose one of {', '.join(VIEW_FORMATS)}")
        self.out_dir = Path(out_dir)
        self.view_format, self.preview, self.fps = view_format, preview, fps
        try:
            (self.out_dir / "disparity").mkdir(parents=True, exist_ok=True)
            (self.out_dir / "views").mkdir(exist_ok=True)
            probe = self.out_dir / ".dplf-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OSError(f"output folder {self.out_dir} is not writable ({exc.strerror}); "
                          f"choose another --out") from exc
        self.manifest = {"format": MANIFEST_FORMAT, "frames": 0, "status": "running", **(manifest or {})}
        self._videos: dict[tuple[int, int], cv2.VideoWriter] = {}
        self.write_manifest()

    def write(self, frame_no: int, disparity: np.ndarray, views: np.ndarray | None) -> None:
        """disparity float32 [H, W]; views uint8 [V, U, H, W, 3] (RGB) or None."""
        name = f"{frame_no:06d}"
        _atomic(self.out_dir / "disparity" / f"{name}.pfm", lambda p: write_pfm(p, disparity))
        if self.preview:
            _imwrite(self.out_dir / "disparity" / f"{name}.png", disparity_preview(disparity))
        if views is not None:
            getattr(self, f"_write_{self.view_format}")(name, views)
        self.manifest["frames"] += 1
        self.write_manifest()

    def _write_png(self, name: str, views: np.ndarray) -> None:
        folder = self.out_dir / "views" / name
        folder.mkdir(exist_ok=True)
        for row in range(views.shape[0]):
            for col in range(views.shape[1]):
                _imwrite(folder / f"v{row:02d}_u{col:02d}.png", views[row, col][..., ::-1])

    def _write_npy(self, name: str, views: np.ndarray) -> None:
        def save(p: Path) -> None:
            with open(p, "wb") as fh:
                np.save(fh, views)

        _atomic(self.out_dir / "views" / f"{name}.npy", save)

    def _write_mp4(self, name: str, views: np.ndarray) -> None:
        h, w = views.shape[2:4]
        for row in range(views.shape[0]):
            for col in range(views.shape[1]):
                vw = self._videos.get((row, col))
                if vw is None:
                    path = self.out_dir / "views" / f"v{row:02d}_u{col:02d}.mp4"
                    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
                    if not vw.isOpened():
                        raise OSError(f"cannot open an mp4 writer at {path}; use --format png or npy")
                    self._videos[(row, col)] = vw
                vw.write(np.ascontiguousarray(views[row, col][..., ::-1]))

    def write_manifest(self) -> None:
        text = json.dumps(self.manifest, indent=2)
        _atomic(self.out_dir / "manifest.json", lambda p: p.write_text(text))

    def close(self, status: str = "complete", **extra) -> None:
        for vw in self._videos.values():
            vw.release()
        self._videos.clear()
        self.manifest.update(status=status, **extra)
        self.write_manifest()


def _imwrite(path: Path, image: np.ndarray) -> None:
    def write(p: Path) -> None:
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise OSError(f"PNG encoding failed for {path}")
        p.write_bytes(buf.tobytes())

    _atomic(path, write)

"""`dplf preview`: quick looks at a light field (docs/outputs.md, "Preview").

From one frame of a dplf-run folder (or of a source that is run first at a small size) it writes
  contact_NNNNNN.png    the V x U views as one image (row v, column u), 2-pixel gaps, capped in size
  wiggle_NNNNNN.mp4     the views around the outer ring of the grid, clockwise from the top-left, 3 loops
  wiggle_NNNNNN.gif     the same, looping forever (Pillow, a base dependency; skipped if it is missing)
  disparity_NNNNNN.png  the disparity colour map (TURBO, symmetric +-limit) with a labelled colour bar
Pure numpy + OpenCV (+ optional Pillow), no torch.
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from engine.io.atomic import atomic_write
from engine.io.outputs import VideoFile, disparity_limit, disparity_preview, pad_even
from engine.io.run_folder import RunFolder

CONTACT_MAX_SIZE = 2048
WIGGLE_MAX_SIZE = 640
WIGGLE_LOOPS = 3


def _encode_png(path: Path, image: np.ndarray) -> None:
    def write(p: Path) -> None:
        ok, buf = cv2.imencode(".png", image)
        if not ok:
            raise OSError(f"PNG encoding failed for {path}")
        p.write_bytes(buf.tobytes())

    atomic_write(path, write)


def contact_sheet(views: np.ndarray, max_size: int = CONTACT_MAX_SIZE, gap: int = 2) -> np.ndarray:
    """RGB uint8 [V, U, H, W, 3] -> one RGB image of the grid (row v, column u), `gap` black pixels between
    tiles, tiles scaled down so that the sheet's longer side is <= max_size."""
    V, U, h, w = views.shape[:4]
    s = min(1.0, (max_size - gap * (max(U, V) - 1)) / max(U * w, V * h))
    tw, th = max(1, int(w * s)), max(1, int(h * s))
    sheet = np.zeros((V * th + gap * (V - 1), U * tw + gap * (U - 1), 3), np.uint8)
    for r in range(V):
        for c in range(U):
            tile = views[r, c] if (th, tw) == (h, w) else cv2.resize(views[r, c], (tw, th),
                                                                     interpolation=cv2.INTER_AREA)
            y, x = r * (th + gap), c * (tw + gap)
            sheet[y:y + th, x:x + tw] = tile
    return sheet


def ring_order(rows: int, cols: int) -> list[tuple[int, int]]:
    """Grid cells around the outer ring, clockwise from the top-left; a single row or column goes there and
    back (ping-pong), a 1 x 1 grid is its one view."""
    if rows == 1 or cols == 1:
        line = [(r, c) for r in range(rows) for c in range(cols)]
        return line + line[-2:0:-1]
    ring = [(0, c) for c in range(cols)] + [(r, cols - 1) for r in range(1, rows)]
    ring += [(rows - 1, c) for c in range(cols - 2, -1, -1)] + [(r, 0) for r in range(rows - 2, 0, -1)]
    return ring


def wiggle_frames(views: np.ndarray, max_size: int = WIGGLE_MAX_SIZE) -> list[np.ndarray]:
    """RGB frames of the ring of views, scaled so that the longer side is <= max_size."""
    V, U, h, w = views.shape[:4]
    s = min(1.0, max_size / max(h, w))
    size = (max(1, int(w * s)), max(1, int(h * s)))
    out = []
    for r, c in ring_order(V, U):
        out.append(views[r, c] if s == 1.0 else cv2.resize(views[r, c], size, interpolation=cv2.INTER_AREA))
    return out


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def write_gif(path: Path, frames: list[np.ndarray], fps: float) -> bool:
    """Animated GIF (loops forever) with Pillow; False (nothing written) when Pillow is not installed."""
    image = _pillow()
    if image is None:
        return False
    pics = [image.fromarray(np.ascontiguousarray(f)) for f in frames]

    def write(p: Path) -> None:
        pics[0].save(p, format="GIF", save_all=True, append_images=pics[1:], loop=0,
                     duration=max(20, round(1000 / fps)), optimize=False)

    atomic_write(path, write)
    return True


def write_mp4(path: Path, frames: list[np.ndarray], fps: float, loops: int = 1) -> None:
    """RGB frames -> mp4 (mp4v), written under a partial name and renamed."""
    first = pad_even(frames[0])
    video = VideoFile(path, fps, first.shape[:2])
    try:
        for _ in range(loops):
            for f in frames:
                video.write(pad_even(np.ascontiguousarray(f[..., ::-1])))
    finally:
        video.close()


def disparity_colorbar(disparity: np.ndarray, limit: float | None = None, min_height: int = 240) -> np.ndarray:
    """BGR uint8: the TURBO disparity map (symmetric +-limit, default the 99th percentile of |D|), enlarged to
    at least `min_height` rows, with a colour bar on the right labelled in pixels of D (near at the top)."""
    limit = float(limit or disparity_limit(disparity))
    image = disparity_preview(disparity, limit)
    h, w = image.shape[:2]
    k = max(1, math.ceil(min_height / h))
    if k > 1:
        image = cv2.resize(image, (w * k, h * k), interpolation=cv2.INTER_NEAREST)
        h, w = image.shape[:2]
    margin, bar_w, label_w = 10, 20, 110
    canvas = np.full((h + 2 * margin + 12, w + 2 * margin + bar_w + label_w, 3), 255, np.uint8)
    canvas[margin:margin + h, margin:margin + w] = image
    ramp = np.linspace(255, 0, h).round().astype(np.uint8)[:, None].repeat(bar_w, axis=1)
    x0 = w + 2 * margin
    canvas[margin:margin + h, x0:x0 + bar_w] = cv2.applyColorMap(ramp, cv2.COLORMAP_TURBO)
    font, ink = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    for frac, value, note in ((0.0, limit, " near"), (0.25, limit / 2, ""), (0.5, 0.0, " focus"),
                              (0.75, -limit / 2, ""), (1.0, -limit, " far")):
        y = margin + round(frac * (h - 1))
        cv2.line(canvas, (x0 + bar_w, y), (x0 + bar_w + 4, y), ink, 1)
        text = f"{value:+.2f}{note}" if value else f"0{note}"
        ty = min(max(y + 4, margin + 8), margin + h)
        cv2.putText(canvas, text, (x0 + bar_w + 7, ty), font, 0.4, ink, 1, cv2.LINE_AA)
    cv2.putText(canvas, "D (px)", (x0, margin + h + 16), font, 0.4, ink, 1, cv2.LINE_AA)
    return canvas


def write_preview(run: RunFolder, out: Path, frame: int | None = None, fps: float = 8.0) -> list[Path]:
    """The preview files of one frame of a run folder; returns the paths written."""
    frame = run.frame(frame)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"output folder {out} is not writable ({exc.strerror}); choose another --out") from exc
    name = f"{frame:06d}"
    written = [out / f"disparity_{name}.png"]
    _encode_png(written[0], disparity_colorbar(run.disparity(frame)))
    if run.has_views:
        views = run.views(frame)
        written.append(out / f"contact_{name}.png")
        _encode_png(written[-1], contact_sheet(views)[..., ::-1])
        frames = wiggle_frames(views)
        written.append(out / f"wiggle_{name}.mp4")
        write_mp4(written[-1], frames, fps, loops=WIGGLE_LOOPS)
        if write_gif(out / f"wiggle_{name}.gif", frames, fps):
            written.append(out / f"wiggle_{name}.gif")
    return written


def preview(input: Path, out: Path, frame: int | None = None, views: int = 5, baseline: float = 1.0,
            max_size: int = 320, backend: str = "auto") -> str:
    """`dplf preview`: INPUT is a dplf-run folder, or a source (.dp, DP-pair folder, LF folder) that is first
    run into OUT/run (one frame, `views` x `views` views, at most `max_size` pixels). Returns the summary."""
    input = Path(input)
    if not input.exists():
        raise ValueError(f"input {input} does not exist; pass a dplf-run output folder or a .dp file")
    if input.is_dir() and (input / "manifest.json").is_file():
        run = RunFolder(input)
    else:
        from engine.run import run as run_pipeline

        if views < 1:
            raise ValueError(f"--views must be >= 1, got {views}")
        run_pipeline(input=input, out=Path(out) / "run", views=views, baseline=baseline, backend=backend,
                     frames=1, start=frame or 0, max_size=max_size, progress=False)
        run = RunFolder(Path(out) / "run")
    written = write_preview(run, out, frame)
    gif = "" if _pillow() else " (no GIF: Pillow is not installed)"
    return f"dplf preview: frame {run.frame(frame)} -> " + ", ".join(str(p) for p in written) + gif

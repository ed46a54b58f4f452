"""PNG encoders for `dplf-run`'s views, measured on real view content: KiB and ms per view.

    python benchmarks/png_encoding.py [--frames 6]

Views: the engine's 7x7 views of the first frames of samples/demo.dp, and 256x192 crops of three photographs from
scikit-image (when installed). Rows: OpenCV/libpng with zlib's Huffman-only strategy and the Sub filter (the
default level 1 before ISA-L), OpenCV's zlib levels 1 and 3, and `engine.io.png` (Sub filter + ISA-L deflate
levels 0-2), the default level 1 now. Every encoding is decoded and compared to its view.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from engine import Pipeline
from engine.io.dpreader import DPReader
from engine.io.png import encode_png

ROOT = Path(__file__).resolve().parents[1]
OPENCV_HUFFMAN_SUB = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
                      cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]


def opencv(params):
    return lambda image: cv2.imencode(".png", image, params)[1].tobytes()


ENCODERS = {
    "opencv huffman-only + Sub (level 1 before)": opencv(OPENCV_HUFFMAN_SUB),
    "opencv zlib level 1": opencv([cv2.IMWRITE_PNG_COMPRESSION, 1]),
    "opencv zlib level 3": opencv([cv2.IMWRITE_PNG_COMPRESSION, 3]),
    "Sub + ISA-L level 0": lambda image: encode_png(image, 0),
    "Sub + ISA-L level 1 (level 1 now)": lambda image: encode_png(image, 1),
    "Sub + ISA-L level 2": lambda image: encode_png(image, 2),
}


def demo_views(frames: int) -> list[np.ndarray]:
    pipe, views = Pipeline(), []
    for i, frame in enumerate(DPReader(ROOT / "samples" / "demo.dp")):
        if i == frames:
            break
        out = pipe(frame.left, frame.right, frame.rgb)
        views += [np.ascontiguousarray(v[..., ::-1]) for v in out.views.reshape(-1, *out.views.shape[2:])]
    return views


def photo_views() -> list[np.ndarray]:
    try:
        from skimage import data
    except ImportError:
        return []
    crops = []
    for image in (data.coffee(), data.astronaut(), data.chelsea()):
        bgr = np.ascontiguousarray(image[..., ::-1])
        for y in range(0, bgr.shape[0] - 191, 150):
            for x in range(0, bgr.shape[1] - 255, 200):
                crops.append(np.ascontiguousarray(bgr[y:y + 192, x:x + 256]))
    return crops


def measure(views: list[np.ndarray], encode, rounds: int = 3) -> tuple[float, float]:
    """(KiB per view, best-of-rounds ms per view); raises if a view does not decode to itself."""
    for v in views[:: max(1, len(views) // 20)]:
        if not np.array_equal(cv2.imdecode(np.frombuffer(encode(v), np.uint8), cv2.IMREAD_COLOR), v):
            raise AssertionError("an encoding did not decode to its view")
    best = np.inf
    for _ in range(rounds):
        t = time.perf_counter()
        size = sum(len(encode(v)) for v in views)
        best = min(best, time.perf_counter() - t)
    return size / len(views) / 1024, best / len(views) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=6, help="demo frames whose 49 views are encoded")
    args = ap.parse_args()
    sets = {"demo": demo_views(args.frames), "photo": photo_views()}
    print(f"# views: demo {len(sets['demo'])}, photo {len(sets['photo'])}; 256x192 BGR uint8, one thread")
    print(f"{'encoding':<44} " + " ".join(f"{k + ' KiB':>10} {k + ' ms':>9}" for k in sets if sets[k]))
    for name, encode in ENCODERS.items():
        cells = [measure(v, encode) for v in sets.values() if v]
        print(f"{name:<44} " + " ".join(f"{kib:10.1f} {ms:9.3f}" for kib, ms in cells))


if __name__ == "__main__":
    main()

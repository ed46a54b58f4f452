"""Shared helpers of benchmarks/speed.py and quality.py: host description, latency stats, inputs, output.

JSON shape (docs/benchmarks.md): {"device": str, "host": {...}, "rows": [{"name", "kind", "backend", "precision",
"height", "width", "views", "fps", "latency_ms": {"p50", "p95", "p99"}, "params", "gmacs", "metrics"}]}.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
STAGES = ("upload", "preprocess", "disparity", "lf", "render", "download", "total")  # upload/download: GPU


def ensure_repo_on_path() -> None:
    """Scripts run as `python benchmarks/x.py`: make `engine`, `kernels`, `benchmarks` importable."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_string(backend: str = "ort-cpu") -> str:
    """E.g. 'cpu: Intel(R) Xeon(R) Processor x2 (Linux x86_64)'; GPU backends name the GPU when they can."""
    desc = f"cpu: {cpu_model()} x{os.cpu_count()} ({platform.system()} {platform.machine()})"
    if backend != "ort-cpu":
        try:
            import subprocess

            gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10).stdout.strip().splitlines()
            if gpu:
                desc = f"gpu: {gpu[0]}; {desc}"
        except (OSError, ValueError, Exception):  # noqa: BLE001 - no nvidia-smi is fine
            pass
    return desc


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except Exception:  # noqa: BLE001 - absent or broken: report None
        return None
    return getattr(mod, "__version__", "unknown")


def host_info(threads: int | None) -> dict:
    import cv2

    return {"python": platform.python_version(), "numpy": np.__version__, "onnxruntime": _version("onnxruntime"),
            "opencv": cv2.__version__, "torch": _version("torch"), "threads": threads,
            "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "date": _dt.datetime.now().isoformat(timespec="seconds")}


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'256x192,640x480' -> [(192, 256), (480, 640)] as (height, width)."""
    sizes = []
    for item in text.split(","):
        try:
            w, h = (int(v) for v in item.strip().lower().split("x"))
        except ValueError:
            raise ValueError(f"--sizes: {item!r} is not WIDTHxHEIGHT (e.g. 640x480)") from None
        if w < 16 or h < 16:
            raise ValueError(f"--sizes: {item!r} is too small; use at least 16x16")
        sizes.append((h, w))
    return sizes


def synthetic_frame(height: int, width: int, disparity: float = 3.0, seed: int = 0):
    """A textured DP frame (not zeros): multi-scale noise, a nearer disc shifted by +-disparity/2.

    Returns (left [H, W], right [H, W], rgb [H, W, 3]) float32 in [0, 1].
    """
    import cv2

    rng = np.random.default_rng(seed)
    tex = np.zeros((height, width, 3), np.float32)
    for scale in (4, 16, 64):
        small = rng.random((max(height // scale, 2), max(width // scale, 2), 3)).astype(np.float32)
        tex += cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) / 3.0
    fg = np.roll(tex[::-1, ::-1], (height // 7, width // 5), axis=(0, 1))
    yy, xx = np.mgrid[0:height, 0:width]
    disc = ((yy - height / 2) ** 2 + (xx - width / 2) ** 2) < (min(height, width) / 3) ** 2

    def view(shift: float) -> np.ndarray:
        m = np.float32([[1, 0, shift], [0, 1, 0]])  # content moves by +shift
        f = cv2.warpAffine(fg, m, (width, height), borderMode=cv2.BORDER_REFLECT)
        d = cv2.warpAffine(disc.astype(np.float32), m, (width, height))[..., None]
        return np.clip(tex * (1 - d) + f * d, 0, 1)

    rgb = view(0.0)
    left, right = view(disparity / 2).mean(-1), view(-disparity / 2).mean(-1)  # disc at D = +disparity
    return left.astype(np.float32), right.astype(np.float32), rgb.astype(np.float32)


def input_frame(height: int, width: int, demo: Path = ROOT / "samples" / "demo.dp"):
    """(left, right, rgb, source) at height x width: a frame of samples/demo.dp if present, else synthetic."""
    import cv2

    if demo.is_file():
        try:
            from engine.io.dpfile import DPReader

            with DPReader(demo) as reader:
                frame = reader.normalised(reader[min(len(reader) - 1, 5)])
            size = (width, height)
            left = cv2.resize(frame.left.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
            right = cv2.resize(frame.right.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
            if frame.rgb is not None:
                rgb = cv2.resize(frame.rgb.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
            else:
                rgb = np.repeat(((left + right) / 2)[..., None], 3, -1)
            return left, right, np.clip(rgb, 0, 1).astype(np.float32), f"{demo.name} frame (resized)"
        except Exception as exc:  # noqa: BLE001 - fall back to synthetic, but say so
            print(f"note: could not read {demo} ({exc}); using a synthetic texture", file=sys.stderr)
    left, right, rgb = synthetic_frame(height, width)
    return left, right, rgb, "synthetic texture"


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(title: str, columns: list[str], rows: list[list], file=None) -> None:
    """A table via rich when available (and on a terminal or not), else plain aligned text."""
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for c in columns:
            table.add_column(c, justify="left" if c in ("name", "kind", "backend", "scene", "protocol") else "right")
        for r in rows:
            table.add_row(*[str(v) for v in r])
        Console(file=file, width=max(120, sum(len(c) + 3 for c in columns) + 40)).print(table)
        return
    except ImportError:
        pass
    text = [[str(v) for v in r] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in text)) if text else len(c) for i, c in enumerate(columns)]
    out = file or sys.stdout
    print(title, file=out)
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)), file=out)
    for r in text:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)), file=out)


def write_json(path: str | os.PathLike, device: str, host: dict, rows: list[dict], **extra) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"device": device, "host": host, "rows": rows, **extra}
    path.write_text(json.dumps(doc, indent=1, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)

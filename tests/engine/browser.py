"""Headless Chromium for the viewer tests (Playwright driving the system's chromium; no browser downloads).

`chromium_path()` finds the browser ($DPLF_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH);
`launch(playwright)` starts it headless with WebGL2 on SwiftShader (a CPU GPU), so the tests run on machines
without a display or a GPU. Helpers read the viewer's canvas back as RGB and compare images.
"""
from __future__ import annotations

import base64
import os
import shutil

import cv2
import numpy as np

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]


def chromium_path() -> str | None:
    env = os.environ.get("DPLF_CHROMIUM")
    if env:
        return env if os.path.isfile(env) else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)


def canvas_rgb(page, selector: str = "#lf") -> np.ndarray:
    """The canvas's pixels (its drawing buffer, at its own resolution) as RGB uint8 [H, W, 3], once the viewer has
    drawn every change made so far (input events are drawn on the next animation frame)."""
    page.wait_for_function("window.dplfViewer.viewer && !window.dplfViewer.viewer.dirty "
                           "&& !window.dplfViewer.state.loading")
    url = page.eval_on_selector(selector, "c => c.toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None, "the canvas did not give a PNG"
    return bgr[..., ::-1]


def psnr(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def sharpness(rgb: np.ndarray, x: int, y: int, half: int) -> float:
    """Variance of the Laplacian of the grey image in the window centred on (x, y)."""
    grey = rgb.astype(np.float32).mean(axis=2)
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    return float(lap[max(0, y - half):y + half + 1, max(0, x - half):x + half + 1].var())


def client_point(page, x: float, y: float, selector: str = "#lf") -> tuple[float, float]:
    """Page coordinates of canvas pixel (x, y) (the canvas is scaled by CSS)."""
    box = page.locator(selector).bounding_box()
    w, h = page.eval_on_selector(selector, "c => [c.width, c.height]")
    return box["x"] + (x + 0.5) * box["width"] / w, box["y"] + (y + 0.5) * box["height"] / h

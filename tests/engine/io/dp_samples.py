"""Fabricated DP sources for the input-format tests: a texture seen with a known disparity
D = x_left - x_right, so tests check that stored planes keep the parallax horizontal and its sign, and
helpers to write images/GIFs and to check one-line errors."""
import cv2
import numpy as np
import pytest

H, W, PAD = 48, 64, 8


def texture(seed: int, h: int = H, w: int = W + 2 * PAD, binary: bool = False) -> np.ndarray:
    """uint8 [h, w] blocks of 4x4 px: strong, non-periodic texture that survives JPEG/GIF/MP4 coding."""
    rng = np.random.default_rng(seed)
    levels = np.array([16, 240]) if binary else np.linspace(16, 240, 8)
    small = levels[rng.integers(0, len(levels), (h // 4 + 1, w // 4 + 1))].astype(np.uint8)
    return cv2.resize(small, (small.shape[1] * 4, small.shape[0] * 4), interpolation=cv2.INTER_NEAREST)[:h, :w]


def dp_pair(d: int, seed: int = 0, binary: bool = False):
    """(left, right) uint8 [H, W] of one texture with disparity D = x_left - x_right = d (integer)."""
    tex = texture(seed, binary=binary)
    lo, hi = d // 2, d - d // 2
    return tex[:, PAD - lo:PAD - lo + W].copy(), tex[:, PAD + hi:PAD + hi + W].copy()


def measure_shift(left: np.ndarray, right: np.ndarray, r: int = 6) -> tuple[int, int]:
    """Integer (dx, dy) minimising mean |left(x, y) - right(x - dx, y - dy)|: dx is D = x_left - x_right."""
    a, b = left.astype(np.float64), right.astype(np.float64)
    h, w = a.shape
    best = None
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            e = np.abs(a[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)]
                       - b[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]).mean()
            if best is None or e < best[0]:
                best = (e, dx, dy)
    return best[1], best[2]


def write_img(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr), path


def write_gif(path, frames):
    """frames: RGB uint8 [H, W, 3] (or gray [H, W]); OpenCV's GIF encoder (palette-quantised, dithered)."""
    bgr = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) if f.ndim == 2 else f[..., ::-1].copy() for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwritemulti(str(path), bgr), path


def read_gif(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f[..., ::-1])
    cap.release()
    return out


def one_line_error(fn, *args, match, **kwargs) -> str:
    with pytest.raises(ValueError) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg, msg
    for m in ([match] if isinstance(match, str) else match):
        assert m in msg, msg
    return msg

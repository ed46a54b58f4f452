"""Pictures for benchmarks/quality.py: small pure functions, arrays in, uint8 RGB image [H, W, 3] out.

OpenCV + numpy only (cv2.applyColorMap for colour scales, cv2.putText for text); no matplotlib.
Every function returns RGB (``save_png`` converts to OpenCV's BGR when writing). Layout helpers
(``heatmap_cell_box``, ``contact_sheet_tile_box``) are public so tests can find a cell or tile.

- ``psnr_heatmap``: per-view PSNR [V, U] as a grid of coloured cells on a fixed dB scale, value in each cell.
- ``colour_panel`` / ``disparity_figure``: disparity maps, GT, |error| after the metric's affine fit, with
  labelled colour bars and the HCI border marked.
- ``contact_sheet``: all views [V, U, H, W, 3] tiled (downscaled to a maximum width) with thin separators.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PSNR_CMAP = cv2.COLORMAP_VIRIDIS     # dark = low PSNR, bright = high (lightness rises with the value)
DISP_CMAP = cv2.COLORMAP_TURBO
ERR_CMAP = cv2.COLORMAP_INFERNO      # zero error = black
FONT = cv2.FONT_HERSHEY_SIMPLEX
BG = 255                             # white background, black text
FG = (0, 0, 0)
NAN_COLOUR = (128, 128, 128)
TITLE_SCALE = 0.5
TITLE_LINE = 20                      # px per title line
PAD = 6


# ---- colour scales ---------------------------------------------------------------------------------------
def colormap_lut(cmap: int) -> np.ndarray:
    """The 256 colours of an OpenCV colour map, RGB uint8 [256, 3] (index 0 = the scale's minimum)."""
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cmap)[:, 0]
    return lut[:, ::-1].copy()


def scale_index(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Colour-map index 0..255 of values on [vmin, vmax] (clipped; +inf -> 255, -inf -> 0). int [...]"""
    span = max(float(vmax) - float(vmin), 1e-12)
    t = (np.asarray(values, np.float64) - vmin) / span
    t = np.clip(np.nan_to_num(t, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    return np.rint(t * 255.0).astype(np.int64)


def colorize(values: np.ndarray, vmin: float, vmax: float, cmap: int) -> np.ndarray:
    """values [H, W] float -> RGB uint8 [H, W, 3] on the fixed scale [vmin, vmax]; NaN is grey."""
    values = np.asarray(values, np.float64)
    img = colormap_lut(cmap)[scale_index(values, vmin, vmax)]
    img[np.isnan(values)] = NAN_COLOUR
    return img


# ---- text and layout -------------------------------------------------------------------------------------
def text_width(text: str, scale: float = TITLE_SCALE, thickness: int = 1) -> int:
    return cv2.getTextSize(text, FONT, scale, thickness)[0][0]


def _put(img: np.ndarray, text: str, x: int, y: int, scale: float = TITLE_SCALE, colour=FG, thickness: int = 1):
    """Draw text with its baseline at (x, y), in place."""
    cv2.putText(img, text, (int(x), int(y)), FONT, scale, colour, thickness, cv2.LINE_AA)


def canvas(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), BG, np.uint8)


def title_height(n_lines: int) -> int:
    """Rows taken by ``add_title`` for n_lines lines (0 for none)."""
    return n_lines * TITLE_LINE + PAD if n_lines else 0


def add_title(img: np.ndarray, lines: list[str] | tuple[str, ...]) -> np.ndarray:
    """img [H, W, 3] under a white strip of text lines: [H + title_height(n), max(W, text width), 3].

    The image keeps its top-left corner at (title_height(n), 0); the canvas widens to the right if a line is
    longer than the image.
    """
    lines = [str(s) for s in lines]
    if not lines:
        return img
    top = title_height(len(lines))
    width = max(img.shape[1], max(text_width(s) for s in lines) + 2 * PAD)
    out = canvas(top + img.shape[0], width)
    for i, s in enumerate(lines):
        _put(out, s, PAD, (i + 1) * TITLE_LINE - 5)
    out[top:, :img.shape[1]] = img
    return out


def hstack(panels: list[np.ndarray], gap: int = 12) -> np.ndarray:
    """Panels side by side, top-aligned, white gaps: [max H, sum W + gaps, 3]."""
    h = max(p.shape[0] for p in panels)
    out = canvas(h, sum(p.shape[1] for p in panels) + gap * (len(panels) - 1))
    x = 0
    for p in panels:
        out[:p.shape[0], x:x + p.shape[1]] = p
        x += p.shape[1] + gap
    return out


def colorbar(vmin: float, vmax: float, height: int, cmap: int, label: str, ticks=None, bar_width: int = 14,
             fmt: str = "{:.2f}") -> np.ndarray:
    """A vertical colour bar (vmax at the top), tick labels on its right and `label` above it.

    Returns RGB uint8 [height, W, 3] (W fits the widest tick label and the label). ticks: values to label
    (default 5 evenly spaced); labels closer than a text line to the previous one are dropped.
    """
    scale = 0.4
    top, bottom = 18, 6
    bar_h = max(height - top - bottom, 8)
    ticks = list(np.linspace(vmin, vmax, 5)) if ticks is None else [t for t in ticks if vmin <= t <= vmax]
    labels = [fmt.format(t) for t in ticks]
    width = max(bar_width + 6 + max([text_width(s, scale) for s in labels] or [0]), text_width(label, scale)) + PAD
    out = canvas(top + bar_h + bottom, width)
    ramp = np.linspace(vmax, vmin, bar_h)[:, None].repeat(bar_width, 1)
    out[top:top + bar_h, 2:2 + bar_width] = colorize(ramp, vmin, vmax, cmap)
    cv2.rectangle(out, (1, top - 1), (2 + bar_width, top + bar_h), FG, 1)
    _put(out, label, 1, top - 6, scale)
    span = max(vmax - vmin, 1e-12)
    ys = [top + int(round((vmax - t) / span * (bar_h - 1))) for t in ticks]
    # the ends of the scale first, then the inner ticks that do not collide with a drawn label
    order = sorted(range(len(ticks)), key=lambda i: (ticks[i] not in (min(ticks), max(ticks)), i))
    drawn: list[int] = []
    for i in order:
        if any(abs(ys[i] - y) < 11 for y in drawn):
            continue
        cv2.line(out, (2 + bar_width, ys[i]), (6 + bar_width, ys[i]), FG, 1)
        _put(out, labels[i], 8 + bar_width, min(max(ys[i] + 4, 9), out.shape[0] - 2), scale)
        drawn.append(ys[i])
    return out


def mark_border(img: np.ndarray, border: int) -> np.ndarray:
    """Copy of img [H, W, 3] with the `border`-px frame dimmed toward grey and its inner edge outlined."""
    out = img.copy()
    if border <= 0 or 2 * border >= min(img.shape[:2]):
        return out
    h, w = img.shape[:2]
    frame = np.ones((h, w), bool)
    frame[border:h - border, border:w - border] = False
    out[frame] = ((out[frame].astype(np.uint16) + 128) // 2).astype(np.uint8)
    cv2.rectangle(out, (border - 1, border - 1), (w - border, h - border), (255, 255, 255), 1)
    return out


# ---- per-view PSNR heat-map ------------------------------------------------------------------------------
HEAT_LEFT, HEAT_TOP = 30, 18   # room for the row / column labels (view offsets)


def heatmap_cell_box(v: int, u: int, cell: int, n_title_lines: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of view (v, u)'s cell in ``psnr_heatmap``'s image (1-px separators included)."""
    y0 = title_height(n_title_lines) + HEAT_TOP + v * cell
    x0 = HEAT_LEFT + u * cell
    return y0, y0 + cell, x0, x0 + cell


def psnr_heatmap(psnr: np.ndarray, vmin: float, vmax: float, title_lines=(), cell: int = 56,
                 centre: tuple[int, int] | None = None) -> np.ndarray:
    """Per-view PSNR [V, U] (dB; inf allowed) as a V x U grid of cells coloured on [vmin, vmax].

    Each cell shows its value; rows/columns are labelled with the view offset from the grid centre; a colour
    bar (dB) sits on the right; `centre` (v, u), e.g. the view excluded from mean/worst, gets an outline.
    Returns RGB uint8 [title_height(n) + HEAT_TOP + V*cell + PAD, >= HEAT_LEFT + U*cell + colour bar, 3];
    cell (v, u) is ``heatmap_cell_box(v, u, cell, n)``.
    """
    psnr = np.asarray(psnr, np.float64)
    if psnr.ndim != 2:
        raise ValueError(f"psnr_heatmap: psnr must be [V, U], got shape {psnr.shape}")
    nv, nu = psnr.shape
    gh, gw = HEAT_TOP + nv * cell + PAD, HEAT_LEFT + nu * cell
    bar = colorbar(vmin, vmax, nv * cell + HEAT_TOP, PSNR_CMAP, "PSNR dB", fmt="{:.0f}",
                   ticks=np.arange(np.ceil(vmin), np.floor(vmax) + 1, max(1, int(np.ceil((vmax - vmin) / 8)))))
    img = canvas(max(gh, bar.shape[0]), gw + PAD + bar.shape[1])
    img[:bar.shape[0], gw + PAD:] = bar
    lut = colormap_lut(PSNR_CMAP)
    idx = scale_index(psnr, vmin, vmax)
    fs = 0.38 if cell < 60 else 0.45
    for v in range(nv):
        y = HEAT_TOP + v * cell
        _put(img, f"{v - (nv - 1) / 2:g}", 2, y + cell // 2 + 4, 0.38)
        for u in range(nu):
            x = HEAT_LEFT + u * cell
            colour = lut[idx[v, u]]
            img[y + 1:y + cell, x + 1:x + cell] = colour
            text = "inf" if np.isposinf(psnr[v, u]) else ("nan" if np.isnan(psnr[v, u]) else f"{psnr[v, u]:.1f}")
            lum = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
            tc = FG if lum > 128 else (255, 255, 255)
            _put(img, text, x + (cell - text_width(text, fs)) // 2, y + cell // 2 + 4, fs, tc)
            if centre is not None and (v, u) == tuple(centre):
                cv2.rectangle(img, (x + 3, y + 3), (x + cell - 3, y + cell - 3), tc, 1)
    for u in range(nu):
        s = f"{u - (nu - 1) / 2:g}"
        _put(img, s, HEAT_LEFT + u * cell + (cell - text_width(s, 0.38)) // 2, HEAT_TOP - 5, 0.38)
    return add_title(img, title_lines)


# ---- disparity and error maps ----------------------------------------------------------------------------
def colour_panel(values: np.ndarray, vmin: float, vmax: float, cmap: int, title: str, label: str,
                 border: int = 0, ticks=None, fmt: str = "{:.2f}") -> np.ndarray:
    """values [H, W] coloured on [vmin, vmax], a colour bar labelled `label` on its right, `title` above;
    border > 0 dims and outlines the frame that the metrics leave out. -> RGB uint8 [>= H + 26, >= W + bar, 3]"""
    img = mark_border(colorize(values, vmin, vmax, cmap), border)
    bar = colorbar(vmin, vmax, img.shape[0], cmap, label, ticks=ticks, fmt=fmt)
    return add_title(hstack([img, bar], gap=4), [title])


def abs_error_after_fit(pred: np.ndarray, gt: np.ndarray, border: int) -> tuple[np.ndarray, float, float]:
    """|gain * pred + offset - gt| [H, W] with (gain, offset) from benchmarks.metrics.affine_fit over the
    interior (the fit the fitted metrics use), and (gain, offset)."""
    from benchmarks.metrics import affine_fit

    gain, offset = affine_fit(pred, gt, border)
    return np.abs(gain * pred.astype(np.float64) + offset - gt.astype(np.float64)), gain, offset


def disparity_figure(pred: np.ndarray, gt: np.ndarray | None, d_range: tuple[float, float], title_lines=(),
                     border: int = 15, err_max: float = 1.0, units: str = "px") -> np.ndarray:
    """Disparity pictures side by side.

    pred [H, W]: a method's disparity (in GT units when gt is given). gt [H, W] or None.
    With gt: [pred after the affine fit | GT | |error| after the fit, on [0, err_max]], all with colour bars and
    the `border` frame (left out of the metrics) dimmed and outlined; pred and GT share the scale d_range.
    Without: pred alone on d_range. Returns RGB uint8.
    """
    lo, hi = d_range
    if gt is None:
        panels = [colour_panel(pred, lo, hi, DISP_CMAP, "prediction", units)]
    else:
        err, gain, offset = abs_error_after_fit(pred, gt, border)
        fitted = gain * pred.astype(np.float64) + offset
        ticks = [t for t in (0.0, 0.07, 0.25, 0.5, 1.0, 2.0) if t <= err_max]
        panels = [colour_panel(fitted, lo, hi, DISP_CMAP, f"prediction, fitted: {gain:.3f} d {offset:+.3f}", units, border),
                  colour_panel(gt, lo, hi, DISP_CMAP, "ground truth", units, border),
                  colour_panel(err, 0.0, err_max, ERR_CMAP, "|error| after the fit", units, border, ticks=ticks)]
    return add_title(hstack(panels), title_lines)


# ---- light-field contact sheet ---------------------------------------------------------------------------
def contact_sheet_geometry(nv: int, nu: int, h: int, w: int, max_width: int = 2000, sep: int = 2):
    """(scale, tile_h, tile_w) of ``contact_sheet``: scale <= 1 so the sheet is at most max_width wide
    (tile_w rounded down, tile_h = the view's aspect ratio at that width)."""
    scale = min(1.0, (max_width - sep * (nu + 1)) / float(nu * w))
    if scale * w < 1:
        raise ValueError(f"contact_sheet: {nu} views of width {w} do not fit in {max_width} px")
    tile_w = w if scale == 1.0 else int(np.floor(w * scale))
    return tile_w / w, max(1, int(round(h * tile_w / w))), tile_w


def contact_sheet_tile_box(v: int, u: int, tile_h: int, tile_w: int, sep: int = 2) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of view (v, u)'s tile in ``contact_sheet``'s image."""
    y0, x0 = sep + v * (tile_h + sep), sep + u * (tile_w + sep)
    return y0, y0 + tile_h, x0, x0 + tile_w


def contact_sheet(views: np.ndarray, max_width: int = 2000, sep: int = 2, sep_value: int = 255) -> np.ndarray:
    """views [V, U, H, W, 3] uint8 RGB (row v, column u) tiled row-major, each downscaled (cv2.INTER_AREA) to
    contact_sheet_geometry's tile size, `sep`-px separators of grey level sep_value.
    -> RGB uint8 [sep + V (tile_h + sep), sep + U (tile_w + sep), 3]."""
    views = np.asarray(views)
    if views.ndim != 5 or views.shape[-1] != 3:
        raise ValueError(f"contact_sheet: views must be [V, U, H, W, 3], got {views.shape}")
    nv, nu, h, w = views.shape[:4]
    scale, th, tw = contact_sheet_geometry(nv, nu, h, w, max_width, sep)
    out = np.full((sep + nv * (th + sep), sep + nu * (tw + sep), 3), sep_value, np.uint8)
    for v in range(nv):
        for u in range(nu):
            tile = views[v, u] if (th, tw) == (h, w) else cv2.resize(views[v, u], (tw, th), interpolation=cv2.INTER_AREA)
            y0, y1, x0, x1 = contact_sheet_tile_box(v, u, th, tw, sep)
            out[y0:y1, x0:x1] = tile
    return out


# ---- files -----------------------------------------------------------------------------------------------
def save_png(path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image [H, W, 3] as PNG (parent folders created). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise OSError(f"could not write {path}")
    return path

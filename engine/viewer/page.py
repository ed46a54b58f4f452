"""viewer.html put together: the template, CSS and JS from engine/viewer/assets (package data), the run's
metadata as JSON and every frame's packed data as base64 text, all inline (one file, no network, no server)."""
from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import IO, Iterable

from .pack import PackedFrame

#: JS files, concatenated in this order into one inline script (each is an IIFE-free plain script).
JS_FILES = ("viewer_data.js", "viewer_gl.js", "viewer_view.js", "viewer_ui.js")
DATA_MARK = "<!--DPLF-DATA-->"


def asset(name: str) -> str:
    """Text of one file in engine/viewer/assets."""
    return resources.files("engine.viewer").joinpath("assets", name).read_text(encoding="utf-8")


def _script_json(obj) -> str:
    """JSON that is safe inside a <script> element ("</" cannot close it)."""
    return json.dumps(obj, separators=(",", ":")).replace("</", "<\\/")


def _frame_scripts(k: int, frame: PackedFrame) -> str:
    return (f'<script type="text/plain" id="dplf-atlas-{k}">{frame.atlas_b64}</script>\n'
            f'<script type="text/plain" id="dplf-disp-{k}">{frame.disparity_b64}</script>\n')


def page_parts(meta: dict, title: str) -> tuple[str, str]:
    """The page before and after the frame data."""
    template = asset("viewer.html")
    if template.count(DATA_MARK) != 1:
        raise RuntimeError(f"engine/viewer/assets/viewer.html must hold {DATA_MARK} once; reinstall dplf")
    js = "\n".join(asset(name) for name in JS_FILES).replace("</script", "<\\/script")
    page = (template.replace("{{TITLE}}", html.escape(title)).replace("{{CSS}}", asset("viewer.css"))
            .replace("{{META}}", _script_json(meta)))
    head, tail = page.split(DATA_MARK)
    return head, tail.replace("{{JS}}", js)


def write_page(out: IO[str], meta: dict, title: str, frames: Iterable[PackedFrame]) -> int:
    """Write the whole page to the text stream `out`, frames as they come. Returns characters written."""
    head, tail = page_parts(meta, title)
    n = out.write(head)
    for k, frame in enumerate(frames):
        n += out.write(_frame_scripts(k, frame))
    return n + out.write(tail)


def write_page_file(path: Path, meta: dict, title: str, frames: Iterable[PackedFrame]) -> int:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        return write_page(f, meta, title, frames)

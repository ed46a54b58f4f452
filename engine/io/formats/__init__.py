"""Input formats, one module per layout, each defining a ``FORMAT`` registered here by name (this order is
the order layouts are listed in help and messages; detection order is ``registry.FILE_DETECTION`` /
``registry.FOLDER_DETECTION``).

    hci, lytro    light-field folders, DP synthesised      pixel4      Pixel 4 / PdCapture 16-bit pairs
    dp-pairs      *_left/*_right, *_L/*_R pairs             dp-folders  left/right sibling folders (DPDD)
    dpmv          dpMV 3-phone capture roots                dp-gif      two-frame DP GIFs
    sbs-video     side-by-side videos                       dp          .dp files
"""
from engine.io.formats import dp, dp_folders, dp_gif, dp_pairs, dpmv, hci, lytro, pixel4, sbs_video
from engine.io.formats.registry import detect, get, names, open_layout, register

for _module in (hci, lytro, pixel4, dp_pairs, dp_folders, dpmv, dp_gif, sbs_video, dp):
    register(_module.FORMAT)

__all__ = ["detect", "get", "names", "open_layout"]

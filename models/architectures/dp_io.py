"""What every DP -> disparity student shares: its I/O, the card fields that describe it, and the notes
written to the exported metadata."""
from __future__ import annotations

from models.registry import STRIDE

INPUTS = ("dp",)
OUTPUTS = ("disparity",)

CARD = {
    "task": "DP pair -> disparity D (px, D = x_left - x_right, larger D nearer)",
    "inputs": {"dp": "float32 [N,2,H,W], left/right linear intensity in [0,1]"},
    "outputs": {"disparity": "float32 [N,1,H,W], px at input resolution"},
    "max_params": 1_500_000,
    "stride": STRIDE,
}

IO_NOTES = {
    "io_normalisation": "dp: float32 [N,2,H,W] linear left/right in [0,1] (black level removed); "
                        "H, W multiples of 16 (pad by edge replication, crop back)",
    "disparity_units": "px at input resolution; D = x_left - x_right; larger D nearer",
}

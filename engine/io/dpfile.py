"""The ``.dp`` container (docs/dp-format.md), by name: header, frames and codec in engine/io/dpformat.py,
``DPReader`` in engine/io/dpreader.py, ``DPWriter`` in engine/io/dpwriter.py."""
from engine.io.dpformat import (CALIBRATION_KEYS, FILE_MAGIC, MAX_HEADER_BYTES, MAX_PIXELS, MAX_PLANES, MAX_SIDE,
                                ORIENTATIONS, PLANE_IDS, VERSION, DPFormatError, DPFrame, DPHeader)
from engine.io.dpreader import DPReader
from engine.io.dpwriter import DPWriteError, DPWriter

__all__ = ["CALIBRATION_KEYS", "FILE_MAGIC", "MAX_HEADER_BYTES", "MAX_PIXELS", "MAX_PLANES", "MAX_SIDE",
           "ORIENTATIONS", "PLANE_IDS", "VERSION", "DPFormatError", "DPFrame", "DPHeader", "DPReader",
           "DPWriteError", "DPWriter"]

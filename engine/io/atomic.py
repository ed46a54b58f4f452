"""Atomic file writing: a reader sees the old file or the complete new one, never a partial write."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object] | bytes) -> Path:
    """Write `path` through a temporary name in the same folder, then rename it into place.

    `write` is either the bytes to write or a callable that writes the file at the temporary path it is given
    (for encoders that take a file name, e.g. `cv2.imwrite` or `np.save`). On any failure the temporary file
    is removed and the exception propagates; an existing `path` is left untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        if isinstance(write, (bytes, bytearray, memoryview)):
            tmp.write_bytes(write)
        else:
            write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path

"""One-line error text: what users read when a command fails (docs/bad-input.md)."""
from __future__ import annotations

MAX_CHARS = 300


def one_line(exc: BaseException, limit: int = MAX_CHARS) -> str:
    """An exception's message with its whitespace folded to single spaces, cut to `limit` characters; the
    exception's type name when it has no message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."

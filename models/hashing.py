"""The 'training hash' of a model: what the model cards and the exported metadata record."""
from __future__ import annotations

import hashlib


def state_hash(model) -> str:
    """sha256 over the state dict (names + raw bytes, sorted) of a torch module."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()

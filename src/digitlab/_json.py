"""JSON for numpy values and paths (run.json, --json output)."""

from __future__ import annotations

import json
from pathlib import Path


def default(o):
    """``json.dumps(default=...)`` hook: numpy scalars/arrays → Python, paths → str."""
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj, **kwargs) -> str:
    return json.dumps(obj, indent=2, default=default, **kwargs)

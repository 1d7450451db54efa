"""The one JSON convention of digitlab's files and ``--json`` output.

JSON has no inf or NaN (browsers' ``JSON.parse`` refuses Python's ``Infinity``), so values are made
plain first: numpy scalars and arrays become Python numbers and lists, paths strings, tuples
lists; NaN becomes ``null`` ("no value"), ±inf the strings ``"inf"``/``"-inf"`` (``C=inf`` means
"no penalty" and must stay readable). Objects JSON cannot hold become their ``repr``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path


def plain(o):
    """*o* as plain JSON-able Python values, by the rules above."""
    if isinstance(o, dict):
        return {str(k): plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [plain(v) for v in o]
    if o is None or isinstance(o, bool):
        return o
    if isinstance(o, str):
        return str(o)
    if isinstance(o, int):  # also int subclasses
        return int(o)
    if isinstance(o, float):  # numpy.float64 is a float too: made a plain float here
        o = float(o)
        if math.isnan(o):
            return None
        return o if math.isfinite(o) else ("inf" if o > 0 else "-inf")
    if isinstance(o, Path):
        return str(o)
    import numpy as np

    if isinstance(o, np.ndarray):
        return plain(o.tolist())
    if isinstance(o, np.generic):
        return plain(o.item())
    return repr(o)


def dumps(obj, **kwargs) -> str:
    return json.dumps(plain(obj), indent=2, allow_nan=False, **kwargs)

"""The search space: typed grid values and distributions over a registry model's Pipeline.

Keys are the model's parameter names (``C``; ``pca__n_components`` for another step); every value
is typed with the registry's own coercion and checked by scikit-learn's parameter validation before
anything is fitted. Parsing the command line's ``--grid``/``--dist`` is the CLI's job.
"""

from __future__ import annotations

import contextlib
import math

from .._json import plain
from ..exceptions import ParameterError

DISTRIBUTIONS = ("loguniform", "uniform", "randint")


def _full_key(key: str) -> str:
    return key if "__" in key else f"clf__{key}"


def short_key(key: str) -> str:
    """``clf__C`` → ``C``; parameters of other steps keep their full name."""
    return key[5:] if key.startswith("clf__") else key


def _typed(model: str, key: str, value, fixed: dict, raw_pixels: bool) -> object:
    """Type *value* as the registry does for ``--param`` and check it with sklearn's validation."""
    from ..models import make_model

    if key == "penalty":
        raise ParameterError(f"grid[{key!r}]: search l1_ratio (0 = l2, 1 = l1) or C instead of penalty")
    try:
        pipe = make_model(model, {**fixed, key: value}, raw_pixels=raw_pixels)
    except ParameterError as exc:
        raise ParameterError(str(exc).replace("params[", "grid[", 1)) from None
    return pipe.get_params(deep=True)[_full_key(key)]


def make_distribution(key: str, spec, default=None):
    """``"loguniform:1e-3:1e2"`` → ``scipy.stats.loguniform(1e-3, 1e2)``.

    Also ``uniform:LOW:HIGH`` and ``randint:LOW:HIGH`` (HIGH excluded). A scipy frozen
    distribution (anything with ``rvs``) is returned as it is.
    """
    if hasattr(spec, "rvs"):
        return spec
    from scipy import stats

    kind, *bounds = str(spec).split(":")
    kind = kind.strip().lower()
    if kind not in DISTRIBUTIONS or len(bounds) != 2:
        raise ParameterError(f"distributions[{key!r}]={spec!r}: expected one of "
                             f"{', '.join(d + ':LOW:HIGH' for d in DISTRIBUTIONS)}")
    try:
        low, high = (float(b) for b in bounds)
    except ValueError:
        raise ParameterError(f"distributions[{key!r}]={spec!r}: bounds must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ParameterError(f"distributions[{key!r}]={spec!r}: need finite LOW < HIGH")
    is_int = isinstance(default, int) and not isinstance(default, bool)
    if is_int and kind != "randint":
        raise ParameterError(f"distributions[{key!r}]={spec!r}: {key} is an integer parameter; use randint:LOW:HIGH")
    if kind == "loguniform":
        if low <= 0:
            raise ParameterError(f"distributions[{key!r}]={spec!r}: loguniform needs LOW > 0")
        return stats.loguniform(low, high)
    if kind == "uniform":
        return stats.uniform(low, high - low)
    if not (low.is_integer() and high.is_integer()):
        raise ParameterError(f"distributions[{key!r}]={spec!r}: randint bounds must be integers")
    return stats.randint(int(low), int(high))


def build_space(model: str, grid: dict | None, distributions: dict | None, *, fixed: dict | None = None,
                raw_pixels: bool = False) -> dict:
    """The typed search space ``{"clf__C": [0.01, 0.1], "clf__tol": <distribution>}``.

    Every grid value is typed with the registry's own coercion and checked by scikit-learn's
    parameter validation, so ``C=-1`` or ``C=abc`` fails before any fitting; distribution bounds
    are checked the same way.
    """
    from ..models import make_model

    fixed = dict(fixed or {})
    base = make_model(model, fixed, raw_pixels=raw_pixels).get_params(deep=True)
    space: dict = {}
    for key, values in (grid or {}).items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        typed = [_typed(model, key, v, fixed, raw_pixels) for v in values]
        if not typed:
            raise ParameterError(f"grid[{key!r}]: no values")
        space[_full_key(key)] = typed
    for key, spec in (distributions or {}).items():
        full = _full_key(key)
        if full in space:
            raise ParameterError(f"distributions[{key!r}]: also given in grid")
        _typed(model, key, base.get(full) if full in base else "0", fixed, raw_pixels)  # known key?
        dist = make_distribution(key, spec, base.get(full))
        for bound in _bounds(dist):
            _typed(model, key, bound, fixed, raw_pixels)
        space[full] = dist
    if not space:
        raise ParameterError("grid: nothing to search; give a grid ({'C': [0.1, 1]}) or distributions "
                             "({'C': 'loguniform:1e-3:1e2'})")
    return space


def _bounds(dist) -> list:
    with contextlib.suppress(Exception):
        low, high = dist.support()
        if dist.dist.name == "randint":
            return [int(low), int(high)]
        return [float(low), float(high)]
    return []


def describe_space(space: dict) -> dict:
    out = {}
    for k, v in space.items():
        if hasattr(v, "rvs"):
            args = ", ".join(f"{a:g}" for a in getattr(v, "args", ()))
            out[short_key(k)] = f"{v.dist.name}({args})"
        else:
            out[short_key(k)] = [plain(x) for x in v]
    return out


def n_candidates(space: dict, n_iter: int | None, halving: bool) -> int | None:
    """How many candidates a search of *space* evaluates (None: successive halving decides)."""
    from sklearn.model_selection import ParameterGrid

    if halving:
        return None
    lists_only = all(not hasattr(v, "rvs") for v in space.values())
    grid_size = len(ParameterGrid(space)) if lists_only else None
    if n_iter is None:
        return grid_size
    return min(n_iter, grid_size) if grid_size is not None else n_iter

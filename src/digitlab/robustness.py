"""The robustness report: a model's accuracy under every corruption at three severities.

:func:`robustness` corrupts the test images (:mod:`digitlab.corruptions`, seeded) and scores any
``predict`` callable on them; :class:`RobustnessResult` round-trips through JSON with every field
checked, so it can live in a run's evaluation result and be compared across runs.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .corruptions import (
    CORRUPTIONS,
    SEVERITIES,
    _check_images,
    _check_seed,
    _check_severity,
    _get,
    _rng,
)
from .exceptions import DataError, ParameterError

__all__ = ["RobustnessResult", "robustness"]


@dataclass(frozen=True)
class RobustnessResult:
    """Accuracy under each corruption and severity, with the clean accuracy beside it.

    Attributes
    ----------
    clean_accuracy : float
        On all the test images.
    severities : tuple of int
    accuracy : dict of str to tuple of float
        Per corruption, the accuracy at each severity (aligned with ``severities``).
    baseline : dict of str to float
        Per corruption, the clean accuracy on the images it was measured on (the whole test set,
        or a seeded subset for ``crop``).
    n_images : dict of str to int
    levels : dict of str to tuple of str
        What each severity meant (``"±3 px"``), so a stored result reads without the code.
    seed : int
    n_test : int
    """

    clean_accuracy: float
    severities: tuple
    accuracy: dict
    baseline: dict
    n_images: dict
    levels: dict
    seed: int = 0
    n_test: int = 0

    FORMAT = 1

    @property
    def corruptions(self) -> list[str]:
        return list(self.accuracy)

    @property
    def mean_accuracy(self) -> float:
        """Mean accuracy over every corruption and severity (the single robustness number)."""
        values = [a for accs in self.accuracy.values() for a in accs]
        return float(np.mean(values)) if values else float("nan")

    def mean_by_severity(self) -> dict[int, float]:
        return {s: float(np.mean([accs[k] for accs in self.accuracy.values()]))
                for k, s in enumerate(self.severities)}

    def to_dict(self) -> dict:
        """Plain JSON types only (floats, ints, strings, lists, dicts)."""
        return {
            "format": self.FORMAT,
            "clean_accuracy": float(self.clean_accuracy),
            "mean_accuracy": self.mean_accuracy,
            "seed": int(self.seed),
            "n_test": int(self.n_test),
            "severities": [int(s) for s in self.severities],
            "corruptions": {
                name: {"accuracy": [float(a) for a in accs], "baseline": float(self.baseline[name]),
                       "n_images": int(self.n_images[name]), "levels": [str(t) for t in self.levels[name]]}
                for name, accs in self.accuracy.items()},
        }

    @classmethod
    def from_dict(cls, d) -> RobustnessResult:
        """Read :meth:`to_dict`'s output back, checking every field.

        Raises
        ------
        DataError
            Naming the field that is missing, mistyped or out of range.
        """
        where = "robustness"
        if not isinstance(d, dict):
            raise DataError(f"{where}: expected an object, got {type(d).__name__}")
        if d.get("format") != cls.FORMAT:
            raise DataError(f"{where}.format: expected {cls.FORMAT}, got {d.get('format')!r}")
        sev = d.get("severities")
        if (not isinstance(sev, list) or not sev or len(set(map(repr, sev))) != len(sev)
                or not all(type(s) is int and s in SEVERITIES for s in sev)):
            raise DataError(f"{where}.severities: expected distinct severities from 1, 2, 3, got {sev!r}")
        corr = d.get("corruptions")
        if not isinstance(corr, dict) or len(corr) > 64:
            raise DataError(f"{where}.corruptions: expected an object of at most 64 corruptions")
        accuracy, baseline, n_images, levels = {}, {}, {}, {}
        for name, c in corr.items():
            at = f"{where}.corruptions.{name!r}"
            if not (isinstance(name, str) and 0 < len(name) <= 32 and name.isascii() and name.isprintable()):
                raise DataError(f"{where}.corruptions: bad corruption name {name!r}")
            if not isinstance(c, dict):
                raise DataError(f"{at}: expected an object")
            accs = c.get("accuracy")
            if not isinstance(accs, list) or len(accs) != len(sev):
                raise DataError(f"{at}.accuracy: expected {len(sev)} accuracies (one per severity)")
            accuracy[name] = tuple(_fraction(a, f"{at}.accuracy") for a in accs)
            baseline[name] = _fraction(c.get("baseline"), f"{at}.baseline")
            n = c.get("n_images")
            if type(n) is not int or n < 0:
                raise DataError(f"{at}.n_images: expected a non-negative integer, got {n!r}")
            n_images[name] = n
            lv = c.get("levels")
            if (not isinstance(lv, list) or len(lv) != len(sev)
                    or not all(isinstance(t, str) and len(t) <= 40 for t in lv)):
                raise DataError(f"{at}.levels: expected {len(sev)} short strings")
            levels[name] = tuple(lv)
        seed, n_test = d.get("seed"), d.get("n_test")
        for key, v in (("seed", seed), ("n_test", n_test)):
            if type(v) is not int or v < 0:
                raise DataError(f"{where}.{key}: expected a non-negative integer, got {v!r}")
        return cls(clean_accuracy=_fraction(d.get("clean_accuracy"), f"{where}.clean_accuracy"),
                   severities=tuple(sev), accuracy=accuracy, baseline=baseline, n_images=n_images,
                   levels=levels, seed=seed, n_test=n_test)


def _fraction(v, where) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:  # NaN fails too
        raise DataError(f"{where}: expected a number in [0, 1], got {v!r}")
    return float(v)


def robustness(predict: Callable, images: np.ndarray, y, *, corruptions=None, severities=SEVERITIES,
               seed: int = 0, progress: Callable | None = None) -> RobustnessResult:
    """Accuracy of *predict* on *images* under every corruption and severity.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> labels`` with ``X`` of shape (n, height*width), uint8: a fitted
        Pipeline's ``predict`` works as it is.
    images : ndarray of shape (n_samples, height, width), dtype=uint8
        Clean test images.
    y : array-like of shape (n_samples,)
        Their true labels, comparable with what *predict* returns.
    corruptions : sequence of str, default=None
        Names from :data:`CORRUPTIONS` (default: all twelve).
    severities : sequence of int, default=(1, 2, 3)
    seed : int, default=0
        The same seed gives the same corrupted images (see :func:`corrupt`).
    progress : callable, default=None
        Called as ``progress(done, total, label)`` after each step (the clean pass is step 1).

    Returns
    -------
    RobustnessResult
    """
    images = _check_images(images)
    y = np.asarray(y)
    if y.shape != (len(images),):
        raise DataError(f"y: expected {len(images)} labels, got shape {y.shape}")
    if len(images) == 0:
        raise DataError("images: no test images")
    seed = _check_seed(seed)
    names = list(CORRUPTIONS) if corruptions is None else [_get(n).name for n in corruptions]
    if len(set(names)) != len(names):
        raise ParameterError(f"corruptions: listed twice in {names}")
    severities = tuple(_check_severity(s) for s in severities)
    if not severities or len(set(severities)) != len(severities):
        raise ParameterError(f"severities: expected distinct values from 1, 2, 3, got {severities}")
    n = len(images)

    def score(x, idx):
        pred = np.asarray(predict(x.reshape(len(x), -1)))
        if pred.shape != (len(x),):
            raise DataError(f"predict returned shape {pred.shape} for {len(x)} images")
        return pred == y[idx]

    total = 1 + len(names) * len(severities)
    step = 0
    all_idx = np.arange(n)
    clean_hits = score(images, all_idx)
    step += 1
    if progress:
        progress(step, total, "clean")
    accuracy, baseline, n_images, levels = {}, {}, {}, {}
    for name in names:
        c = CORRUPTIONS[name]
        idx = all_idx
        if c.max_images is not None and n > c.max_images:
            idx = np.sort(np.random.default_rng([seed, zlib.crc32(name.encode())]).choice(
                n, c.max_images, replace=False))
        subset = images[idx]
        accs = []
        for s in severities:
            bad = c.apply(subset, s, _rng(name, s, seed))
            accs.append(float(score(bad, idx).mean()))
            step += 1
            if progress:
                progress(step, total, f"{name} {s}")
        accuracy[name] = tuple(accs)
        baseline[name] = float(clean_hits[idx].mean())
        n_images[name] = len(idx)
        levels[name] = tuple(c.describe(s) for s in severities)
    return RobustnessResult(clean_accuracy=float(clean_hits.mean()), severities=severities, accuracy=accuracy,
                            baseline=baseline, n_images=n_images, levels=levels, seed=seed, n_test=n)

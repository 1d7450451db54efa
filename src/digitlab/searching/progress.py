"""Live progress of a search: one :class:`SearchProgress` event per finished candidate."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._json import plain
from .space import short_key


@dataclass(frozen=True)
class SearchProgress:
    """One candidate has finished all its folds.

    Attributes
    ----------
    finished : int
        Candidates (times halving rounds) finished so far.
    total : int or None
        Candidates to evaluate; ``None`` for successive halving (decided as it goes).
    params : dict
        The finished candidate's parameters (short names, ``{"C": 0.1}``).
    mean_score, std_score : float
        Its cross-validation score.
    best_params : dict
    best_score : float
        The best candidate so far.
    """

    finished: int
    total: int | None
    params: dict
    mean_score: float
    std_score: float
    best_params: dict
    best_score: float


class Tracker:
    """Collects fold scores as they arrive and reports each candidate when its folds are done."""

    def __init__(self, n_splits: int, total: int | None, callback: Callable | None):
        self.n_splits = n_splits
        self.total = total
        self.callback = callback
        self.lock = threading.Lock()
        self.folds: dict[str, dict] = {}
        self.finished = 0
        self.best: tuple[float, dict] | None = None

    def fold_done(self, params: dict, score, fold: int | None = None) -> None:
        """One fold of a candidate is scored (*fold*: its index; None: folds arrive in order)."""
        key = repr(sorted(params.items()))
        with self.lock:
            scores = self.folds.setdefault(key, {})
            scores[len(scores) if fold is None else int(fold)] = float(score) if np.isscalar(score) else float("nan")
            if len(scores) < self.n_splits:
                return
            del self.folds[key]  # halving evaluates a candidate again at the next rung
            mean, std = _mean_std([scores[i] for i in sorted(scores)])
            short = {short_key(k): plain(v) for k, v in params.items()}
            self.finished += 1
            if np.isfinite(mean) and (self.best is None or mean > self.best[0]):
                self.best = (mean, short)
            best_score, best_params = self.best if self.best else (float("nan"), {})
            event = SearchProgress(self.finished, self.total, short, mean, std, best_params, best_score)
            if self.callback is not None:
                self.callback(event)




def _mean_std(scores: list) -> tuple[float, float]:
    """Mean and standard deviation of fold scores in fold order, computed as scikit-learn
    computes ``mean_test_score`` (worker processes report folds in any order; the last bit of
    a float sum depends on it)."""
    arr = np.asarray(scores, dtype=np.float64)
    if not arr.size or not np.isfinite(arr).all():
        return float("nan"), float("nan")
    return float(np.average(arr)), float(np.sqrt(np.average((arr - np.average(arr)) ** 2)))

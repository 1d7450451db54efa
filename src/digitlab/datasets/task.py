"""What a model is asked to predict: all of a dataset's classes, or one class against the rest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ParameterError


@dataclass(frozen=True)
class Task:
    """A classification task over a dataset's classes.

    Parameters
    ----------
    classes : tuple of str
        The dataset's class names.
    detect : int or None, default=None
        A class index: the task is "is it this class?" (a detector); None: every class.
    """

    classes: tuple
    detect: int | None = None

    def __post_init__(self):
        d, n = self.detect, len(self.classes)
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= d < n):
            raise ParameterError(f"detect={d!r}: must be a class index 0–{n - 1}")
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))

    @property
    def is_binary(self) -> bool:
        return self.detect is not None

    @property
    def kind(self) -> str:
        return "binary" if self.is_binary else "multiclass"

    @property
    def names(self) -> list[str]:
        """The task's class names: the dataset's, or ``["not 5", "5"]`` for a 5-detector."""
        if self.detect is None:
            return list(self.classes)
        return [f"not {self.classes[self.detect]}", self.classes[self.detect]]

    def target(self, y: np.ndarray) -> np.ndarray:
        """Labels for this task: *y* itself, or ``y == detect`` for a detector."""
        return y if self.detect is None else np.asarray(y) == self.detect

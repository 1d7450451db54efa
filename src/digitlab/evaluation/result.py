"""``EvalResult``: everything one evaluation found, as plain data that round-trips through JSON.

The arrays behind it (labels, probabilities, scores) live in :attr:`EvalResult.predictions` and in
a run's ``predictions.npz``; ``eval.json`` holds the rest, so the report and the web app never
refit or re-predict.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from .._json import dumps, plain

EVAL_FORMAT = 1


@dataclass
class AddedScore:
    """How the model reads the added samples it was not trained on (``train --add``).

    Attributes
    ----------
    name : str
        The added dataset (a collection folder's name).
    n_train, n_test : int
        Added samples trained on, and held out and scored here.
    accuracy : float or None
        On the held-out added samples (None when none was held out).
    per_class : list of dict
        ``class, n, correct`` for each class among the held-out samples.
    """

    name: str = ""
    n_train: int = 0
    n_test: int = 0
    accuracy: float | None = None
    per_class: list[dict] = field(default_factory=list)


@dataclass
class EvalResult:
    """Scores of a fitted classifier on one train/test split.

    Attributes
    ----------
    task : {"multiclass", "binary"}
    classes : list of str
        Task class names; labels in :attr:`predictions` index into it (binary: ``["not 5", "5"]``).
    detect : int or None
        Binary tasks: the dataset class that is detected.
    n_train, n_test : int
    test_accuracy, train_accuracy : float
    train_accuracy_n : int or None
        How many training images the train accuracy was scored on (all, unless sampled).
    cv : int
        Number of cross-validation folds (0: none).
    cv_scores : list of float
        Accuracy of each fold (``cross_val_score`` semantics: ``StratifiedKFold`` without shuffling).
    cv_mean : float or None
    dummy_cv_scores : list of float
        The same folds scored by always predicting the most frequent class.
    dummy_cv_mean : float or None
    confusion_matrix : list of list of int
        Test-set counts, rows true, columns predicted.
    cv_confusion_matrix : list of list of int or None
        Counts of the cross-validated predictions on the training set (the notebooks' matrix).
    per_class : list of dict
        Test-set ``class, precision, recall, f1, support``.
    detector : dict or None
        Binary tasks: ``source`` ("cv" or "test"), ``precision, recall, f1, roc_auc,
        average_precision``, ``target`` (see :func:`~digitlab.evaluation.metrics.threshold_at`)
        and ``test`` (the same scores on the test set).
    confused_pairs : list of dict
        Largest off-diagonal test-set cells: ``true, pred, count, share``.
    score_kind : str or None
        ``"decision_function"`` or ``"predict_proba"``: where scores come from.
    has_proba : bool
    linear : bool
        The final estimator has ``coef_``.
    image_shape : list of int
    timings : dict
        Seconds spent scoring the test and train sets and cross-validating.
    warnings : list of str
        Convergence warnings from the cross-validation fits.
    figures : list of dict
        ``file`` (relative to the run folder), ``title``, ``caption``.
    robustness : dict or None
        The robustness report (:meth:`digitlab.robustness.RobustnessResult.to_dict`) when asked
        for; :attr:`robustness_result` reads it back.
    added : AddedScore or None
        Runs trained with added samples (``train --add``): accuracy on the held-out ones.
    predictions : dict of str to ndarray
        Not stored in JSON; the contents of ``predictions.npz``.
    """

    task: Literal["multiclass", "binary"]
    classes: list[str]
    detect: int | None = None
    n_train: int = 0
    n_test: int = 0
    test_accuracy: float | None = None
    train_accuracy: float | None = None
    train_accuracy_n: int | None = None
    cv: int = 0
    cv_scores: list[float | None] = field(default_factory=list)
    cv_mean: float | None = None
    dummy_cv_scores: list[float | None] = field(default_factory=list)
    dummy_cv_mean: float | None = None
    confusion_matrix: list[list[int]] = field(default_factory=list)
    cv_confusion_matrix: list[list[int]] | None = None
    per_class: list[dict] = field(default_factory=list)
    detector: dict | None = None
    confused_pairs: list[dict] = field(default_factory=list)
    score_kind: str | None = None
    has_proba: bool = False
    linear: bool = False
    image_shape: list[int] = field(default_factory=list)
    timings: dict[str, float | list[float] | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    robustness: dict | None = None
    added: AddedScore | None = None
    format: int = EVAL_FORMAT
    predictions: dict | None = field(default=None, repr=False, compare=False)

    @property
    def is_binary(self) -> bool:
        return self.task == "binary"

    @property
    def robustness_result(self):
        """:class:`~digitlab.robustness.RobustnessResult` or None (not measured)."""
        from ..robustness import RobustnessResult

        return None if self.robustness is None else RobustnessResult.from_dict(self.robustness)

    def __repr__(self) -> str:
        task = f"detect {self.classes[-1]!r}" if self.is_binary and self.classes else f"{len(self.classes)} classes"
        acc = f", test_accuracy={self.test_accuracy:.4f}" if self.test_accuracy is not None else ""
        cv = f", cv_mean={self.cv_mean:.4f}" if self.cv_mean is not None else ""
        return f"EvalResult({task}, n_test={self.n_test:,}{acc}{cv})"

    def _repr_html_(self) -> str:
        """Jupyter's display: score table, confusion matrices, per-class table."""
        from ._display import eval_html

        return eval_html(self)

    # Array shortcuts in scikit-learn's names (None when the arrays were not loaded).
    def _array(self, key):
        return None if self.predictions is None else self.predictions.get(key)

    @property
    def y_true(self):
        return self._array("y_true")

    @property
    def y_pred(self):
        return self._array("y_pred")

    @property
    def y_proba(self):
        return self._array("y_proba")

    @property
    def y_score(self):
        return self._array("y_score")

    def summary(self) -> dict:
        """The flat metrics stored in ``run.json`` and listed by ``digitlab runs``."""
        out = {"test_accuracy": self.test_accuracy, "train_accuracy": self.train_accuracy,
               "cv_scores": list(self.cv_scores), "cv_mean": self.cv_mean,
               "dummy_cv_mean": self.dummy_cv_mean}
        if self.robustness is not None:
            mean = self.robustness_result.mean_accuracy
            out["robustness_mean"] = mean if mean == mean else None  # NaN: no corruption measured
        if self.added is not None:
            out["added_accuracy"] = self.added.accuracy
            out["added_test_n"] = self.added.n_test
        if self.detector:
            d = self.detector
            out.update({k: d.get(k) for k in ("precision", "recall", "f1", "roc_auc")})
            t = d.get("target") or {}
            if t:
                out["threshold_at_target"] = t.get("threshold")
                if t.get("metric") == "precision":
                    out["recall_at_target"] = t.get("recall")
                else:
                    out["precision_at_target"] = t.get("precision")
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("predictions")
        return plain(d)

    def to_json(self) -> str:
        return dumps(self.to_dict()) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes | dict, predictions: dict | None = None) -> "EvalResult":
        """Rebuild from :meth:`to_json` output (a string or the parsed dict), checking every
        field's type (``ValueError`` naming the field: an eval.json may come from anywhere)."""
        import msgspec

        d = json.loads(text) if isinstance(text, (str, bytes)) else dict(text)
        if not isinstance(d, dict):
            raise ValueError(f"expected a JSON object, got {type(d).__name__}")
        d.pop("predictions", None)
        try:
            result = msgspec.convert(d, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(str(exc)) from None
        if result.robustness is not None:
            from ..exceptions import DataError
            from ..robustness import RobustnessResult

            try:  # every field checked: eval.json may come from anywhere
                RobustnessResult.from_dict(result.robustness)
            except DataError as exc:
                raise ValueError(str(exc)) from None
        result.predictions = predictions
        return result

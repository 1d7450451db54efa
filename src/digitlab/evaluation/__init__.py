"""Evaluation: scores, cross-validation and detector thresholds of a fitted model.

>>> from digitlab.evaluation import evaluate, evaluate_run    # doctest: +SKIP
>>> result = evaluate(model, split)                             # doctest: +SKIP
>>> result = evaluate_run("latest")                             # doctest: +SKIP

:func:`evaluate` predicts once per model and fits each cross-validation fold once;
:func:`evaluate_run` stores the :class:`EvalResult` in the run (``eval.json`` +
``predictions.npz``), from where :func:`load_result` reads it back, checked.
"""

from ._evaluate import check_model, evaluate
from ._run import evaluate_run
from .cv import CVResult, cross_validate, dummy_scores
from .metrics import (
           confused_pairs,
           confusion,
           confusion_errors,
           detector_scores,
           per_class,
           threshold_at,
)
from .result import EvalResult
from .store import load_predictions, load_result

__all__ = ["evaluate", "evaluate_run", "EvalResult", "load_result", "load_predictions", "check_model",
           "cross_validate", "CVResult", "dummy_scores", "confusion", "confusion_errors", "per_class",
           "detector_scores", "threshold_at", "confused_pairs"]

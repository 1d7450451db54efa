"""Evaluation: scores, cross-validation, detector thresholds and figures of a fitted model.

>>> from digitlab.evaluation import evaluate, EvalResult  # doctest: +SKIP
>>> result = evaluate(run)                                 # doctest: +SKIP

:func:`evaluate` predicts once per model and fits each cross-validation fold once;
:class:`EvalResult` round-trips through ``eval.json``.
"""

from ._evaluate import check_model, evaluate
from .cv import CVResult, cross_validate, dummy_scores
from .metrics import confused_pairs, confusion, confusion_errors, detector_scores, per_class, threshold_at
from .result import EvalResult

__all__ = ["evaluate", "EvalResult", "check_model", "cross_validate", "CVResult", "dummy_scores",
           "confusion", "confusion_errors", "per_class", "detector_scores", "threshold_at", "confused_pairs",
           "load_result"]


def load_result(run) -> EvalResult:
    """The :class:`EvalResult` stored in a run, with its ``predictions.npz`` arrays."""
    from ..plots._run_data import as_run, load_eval, load_predictions

    run = as_run(run)
    return EvalResult.from_json(load_eval(run), predictions=load_predictions(run))

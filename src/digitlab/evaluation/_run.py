"""``evaluate_run``: evaluate a run's model on its own split and store the result in the run."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable

import msgspec

from .._atomic import PART_MARK, os_error
from ..runs import EVAL_FILE, FIGURES_DIR, PREDICTIONS_FILE, Metrics, Run, resolve_run, write_description
from ._evaluate import evaluate
from .result import EvalResult
from .store import write_result

# draws the figure set of a result into a folder (digitlab.plots.figure_set.drawer makes one)
FigureDrawer = Callable[[Path, EvalResult], object]


def evaluate_run(run, *, cv: int | None = None, target_precision: float | None = 0.9,
                 target_recall: float | None = None, progress: bool = False, n_jobs: int | None = None,
                 figures: FigureDrawer | None = None, split=None, model=None, cv_result=None,
                 train_sample: int | None = None, data_dir=None, cache_dir=None) -> EvalResult:
    """Evaluate a run's model and store ``eval.json``, ``predictions.npz``, ``figures/`` and
    run.json's metrics — all replaced together, only once everything succeeded.

    Parameters
    ----------
    run : Run, run id, ``"latest"`` or run folder
    cv : int, default=None
        Cross-validation folds (0: none); ``None``: 3, or 0 for an expensive model
        (:func:`digitlab.fitting.default_cv`).
    target_precision, target_recall, progress, n_jobs, cv_result, train_sample
        As for :func:`evaluate`.
    figures : callable, default=None
        Draws the figure set into a folder, e.g. ``digitlab.plots.figure_set.drawer(images,
        model)``. ``None``: the run's ``figures/`` is emptied, so it never shows an older
        evaluation. (Evaluation computes; drawing belongs to ``digitlab.plots``.)
    split : Split, default=None
        The run's split (rebuilt from run.json if not given; *data_dir*/*cache_dir* say where
        its dataset is).
    model : fitted estimator, default=None
        The run's model (loaded from its file, with every check, if not given).

    Returns
    -------
    EvalResult
    """
    from ..fitting import default_cv

    run = run if isinstance(run, Run) else resolve_run(run)
    if split is None:
        split = run.load_split(data_dir=data_dir, cache_dir=cache_dir)
    if model is None:
        model = run.load_model()
    if cv is None:
        cv = default_cv(run.info.model.name)
    result = evaluate(model, split, detect=run.detect, cv=cv, target_precision=target_precision,
                      target_recall=target_recall, progress=progress, n_jobs=n_jobs, cv_result=cv_result,
                      train_sample=train_sample, where=str(run.model_path))
    _store(run, result, figures)
    return result


def _store(run: Run, result: EvalResult, figures: FigureDrawer | None) -> None:
    """Stage every file in a hidden folder inside the run, then move them into place (run.json last)."""
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".eval{PART_MARK}", dir=run.path))
    except OSError as exc:
        raise os_error(run.path, exc, "cannot write evaluation") from None
    try:
        write_result(stage, result)
        (stage / FIGURES_DIR).mkdir()
        if figures is not None:
            figures(stage / FIGURES_DIR, result)
        metrics = msgspec.convert(result.summary(), Metrics, strict=False)
        try:
            _swap_dir(stage / FIGURES_DIR, run.path / FIGURES_DIR)
            for name in (PREDICTIONS_FILE, EVAL_FILE):
                os.replace(stage / name, run.path / name)
        except OSError as exc:
            raise os_error(run.path, exc, "cannot write evaluation") from None
        run.info = msgspec.structs.replace(run.info, metrics=metrics)
        write_description(run.path, run.info)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_dir(new: Path, old: Path) -> None:
    """Put folder *new* where *old* is (two renames), then delete the previous one."""
    if not old.exists():
        os.replace(new, old)
        return
    trash = old.with_name(f".{old.name}{PART_MARK}{uuid.uuid4().hex[:8]}")
    os.replace(old, trash)
    os.replace(new, old)
    shutil.rmtree(trash, ignore_errors=True)

"""The run folder contract: one trained model with everything needed to trust, re-evaluate and show it.

``runs/<id>/`` holds ``run.json`` (:class:`RunDescription`: what was trained on what, library
versions, fit time and convergence, the model file's SHA-256, a metrics summary), ``model.skops``
and, after evaluation, ``eval.json``, ``predictions.npz`` and ``figures/`` (file names in
``_names``). A run is built in a hidden temp folder and renamed into place in one step
(:class:`RunWriter`), so a crash or Ctrl-C never leaves a half-written run; run.json is validated
whenever it is read (:func:`read_run`), and one invalid run never hides the others
(:func:`scan_runs`). Other modules use these records and names, never raw run.json keys.
"""

from ._names import (
                       EVAL_FILE,
                       FIGURES_DIR,
                       ID_RE,
                       MODEL_FILE,
                       PREDICTIONS_FILE,
                       RUN_FILE,
                       SEARCH_FILE,
)
from ._records import (
                       RUN_FORMAT,
                       AddInfo,
                       DatasetInfo,
                       FitInfo,
                       InvalidRunDescription,
                       Metrics,
                       ModelInfo,
                       RunDescription,
                       SearchInfo,
                       SplitInfo,
                       TaskInfo,
)
from ._run import BadRun, Run, read_run, validate_model
from ._scan import Runs, best_run, choose_run, list_runs, resolve_run, scan_runs
from ._writer import RunWriter, make_run_id, write_description

__all__ = ["Run", "Runs", "BadRun", "read_run", "validate_model", "scan_runs", "list_runs", "resolve_run", "choose_run",
           "best_run", "RunWriter", "make_run_id", "write_description", "RunDescription", "DatasetInfo", "SplitInfo",
           "AddInfo", "TaskInfo", "ModelInfo", "FitInfo", "Metrics", "SearchInfo", "InvalidRunDescription",
           "RUN_FORMAT", "RUN_FILE",
           "MODEL_FILE", "EVAL_FILE", "PREDICTIONS_FILE", "SEARCH_FILE", "FIGURES_DIR", "ID_RE"]

"""The names inside a run folder, in one place."""

import re

RUN_FILE = "run.json"  # the run description (RunDescription)
MODEL_FILE = "model.skops"  # the fitted Pipeline (skops format, read by digitlab._skops_reader)
EVAL_FILE = "eval.json"  # the evaluation result (digitlab.evaluation.EvalResult)
PREDICTIONS_FILE = "predictions.npz"  # test (and cross-validated) predictions, no pickles
SEARCH_FILE = "search.json"  # search runs: every candidate's scores
FIGURES_DIR = "figures"  # PNGs drawn after evaluation

# run ids are safe in URLs and paths
ID_RE = re.compile(r"^[a-z0-9-]{1,64}$")

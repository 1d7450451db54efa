"""Search: tune a registered model by cross-validation, locally or on a Dask cluster.

>>> from digitlab.searching import search                                    # doctest: +SKIP
>>> run = search("digits", "logreg", grid={"C": [0.01, 0.1, 1]}, test_size=0.25)  # doctest: +SKIP
>>> run.info.search.best_params                                             # doctest: +SKIP

Modules: ``space`` (typed grids and distributions), ``progress`` (live events), ``_hooks`` (the
private scikit-learn and joblib hooks progress needs, with the versions they were written
against), ``runner`` (:func:`search`), ``_run`` (the run folder it writes).
"""

from ._run import load_search, result_rows, results_table
from .progress import SearchProgress
from .results import SearchResults, search_results
from .runner import KINDS, make_search, search
from .space import (
           DISTRIBUTIONS,
           build_space,
           describe_space,
           make_distribution,
           n_candidates,
           short_key,
)

__all__ = ["search", "SearchProgress", "SearchResults", "search_results", "make_search", "build_space", "make_distribution", "describe_space",
           "n_candidates", "short_key", "load_search", "results_table", "result_rows", "KINDS", "DISTRIBUTIONS"]

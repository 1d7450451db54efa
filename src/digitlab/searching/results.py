"""A finished search's candidates, best first, as an object Jupyter shows as a table."""

from __future__ import annotations

from dataclasses import dataclass

from .. import _html
from ..runs import resolve_run
from ._run import load_search


@dataclass(frozen=True)
class SearchResults:
    """Every candidate of a search run, best first (``rows``: rank, params, mean/std score, fit time)."""

    run_id: str
    model: str
    scoring: str
    best_params: dict
    best_score: float | None
    rows: list

    def __repr__(self) -> str:
        score = f"{self.best_score:.4f}" if self.best_score is not None else "–"
        return (f"SearchResults({self.run_id!r}, {len(self.rows)} candidates, best {self.scoring}={score}, "
                f"best_params={self.best_params!r})")

    def _repr_html_(self) -> str:
        keys = sorted({k for r in self.rows for k in (r.get("params") or {})})
        table = _html.table(
            ["rank", *keys, f"mean {self.scoring}", "std", "fit seconds"],
            [[r.get("rank"), *[(r.get("params") or {}).get(k) for k in keys], r.get("mean_test_score"),
              r.get("std_test_score"), r.get("mean_fit_time")] for r in self.rows])
        best = ", ".join(f"{k}={v!r}" for k, v in self.best_params.items())
        return _html.card(f"Search {self.run_id}: {self.model}, {len(self.rows)} candidates",
                          _html.facts([("best", f"{best} ({self.scoring} {_html.num(self.best_score)})")]),
                          table if len(self.rows) <= 20 else _html.details("all candidates, best first", table),
                          kind="digitlab-search")

    def to_frame(self):
        """The candidates as a pandas DataFrame (one column per parameter), best first."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("SearchResults.to_frame() needs pandas: pip install pandas") from None
        return pd.DataFrame([{"rank": r.get("rank"), **(r.get("params") or {}),
                              **{k: v for k, v in r.items() if k not in ("rank", "params")}} for r in self.rows])


def search_results(run) -> SearchResults:
    """The candidates of a search run (a :class:`~digitlab.runs.Run`, id or path), best first."""
    run = run if hasattr(run, "info") else resolve_run(run)
    record = load_search(run)
    rows = [r for r in record.get("results", []) if isinstance(r, dict)]
    score, best = record.get("best_score"), record.get("best_params")
    return SearchResults(run.id, str(record.get("model", run.info.model.name)), str(record.get("scoring", "")),
                         dict(best) if isinstance(best, dict) else {},
                         score if isinstance(score, (int, float)) else None, rows)

"""Self-contained HTML reports of runs (figures embedded, no network needed to view them)."""

from .build import Section, report, run_section

__all__ = ["report", "run_section", "Section"]

"""Class names as figures show them: short enough that a long one cannot squeeze a plot.

One rule for a run's figure set (:mod:`.figure_set`) and every Display's ``from_run``, so a class is
named the same way in every figure of a run; captions and tables keep the full name.
"""

from __future__ import annotations

LABEL_WIDTH = 14  # characters of a class name a figure shows; a caption always says it in full


def figure_labels(classes) -> list[str]:
    """*classes* as a figure shows them: a name longer than LABEL_WIDTH keeps its start and end
    around an ellipsis (``digit_s…_alice``), so a long folder name cannot squeeze the plot to
    nothing. If that made two names alike, the full names are kept: right before tidy."""
    keep = LABEL_WIDTH - 1
    shown = [c if len(c) <= LABEL_WIDTH else c[:(keep + 1) // 2] + "…" + c[-(keep // 2):] for c in classes]
    return shown if len(set(shown)) == len(set(classes)) else list(classes)

"""Write a figure atomically (temp file + rename) and close it."""

from __future__ import annotations

from pathlib import Path

from .._atomic import atomic_path


def save_figure(fig, path, *, dpi: int = 110) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.layout_engine import ConstrainedLayoutEngine
    from matplotlib.text import Text

    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    # no figure of ours writes a formula, but class, dataset and parameter names come from files:
    # one named `$x^{2$` would make matplotlib's formula parser raise while drawing
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        # a title wider than the room beside its axes breaks a line, not the edge; the layout
        # makes room for the second line. Galleries reserve one title line per panel (`_grid`):
        # a wrapped title there would run into the panel above. matplotlib measures a wrapped
        # line as a formula if it has two `$`, whatever parse_math says: those stay unwrapped
        for ax in fig.axes:
            ax.title.set_wrap("$" not in ax.title.get_text())
    with atomic_path(path) as tmp:
        # constrained layout already fits labels and titles; "tight" would draw the figure twice
        tight = None if fig.get_layout_engine() is not None else "tight"
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches=tight)
    plt.close(fig)
    return path


def new_figure(figsize):
    import os
    import sys

    import matplotlib

    # Agg (no window) unless a backend was already chosen: in Jupyter, `%matplotlib inline` (or
    # the kernel's MPLBACKEND) shows the figure in the notebook, and switching to Agg would hide it
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained")

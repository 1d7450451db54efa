"""Grids of small image panels (digit galleries) laid out at fixed sizes in inches.

Constrained layout costs more than the drawing for a few dozen Axes (a 4x6 gallery: ~1.6 CPU-s
with it, ~0.6 s laid out here; matplotlib also makes ~24 tick lines per Axes unless told there
are no ticks), and every panel of a gallery has the same size, so the layout is simple
arithmetic: panels of one side, columns as wide as the widest title, room for titles and a
suptitle. The titles are measured, so long class names widen the columns instead of overlapping.
"""

from __future__ import annotations

import numpy as np

NO_TICKS = {"xticks": [], "yticks": []}
_PAD = 0.08  # inches between a panel and its neighbours' titles, and at the figure's edges
# the most a text may widen a column or the left margin: a class name of 10,000 characters (a
# dataset folder's or CSV's) overflows its column instead of making a figure of 100,000 pixels
MAX_TEXT = 3.0


def text_width(fig, texts, fontsize) -> float:
    """Width in inches of the widest line of *texts* at *fontsize* points (at most ``MAX_TEXT``)."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    # an Agg renderer of our own: the figure's canvas has none under a vector backend (svg, pdf)
    renderer = RendererAgg(1, 1, fig.dpi)
    prop = FontProperties(size=fontsize)
    # 200 characters are wider than MAX_TEXT at any size used here: no need to lay out more
    lines = [line[:200] for t in texts for line in str(t).split("\n") if line]
    widths = (renderer.get_text_width_height_descent(line, prop, ismath=False)[0] for line in lines)
    return min(max(widths, default=0.0) / fig.dpi, MAX_TEXT)


def image_grid(n_rows, n_cols, *, side=1.2, titles=(), fontsize=8, row_labels=(),
               label_fontsize=9, suptitle=None, figure=None):
    """A figure and an ``(n_rows, n_cols)`` array of tickless Axes for square image panels.

    Parameters
    ----------
    side : float
        Panel side in inches.
    titles, row_labels : sequence of str
        The texts that will go above the panels and left of the rows (``set_ylabel``), measured
        to size the columns and the left margin.
    suptitle : str, default=None
        The figure's title, drawn here.
    figure : matplotlib Figure, default=None
        The caller's figure: its own size and layout are kept, only the Axes are added.
    """
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    from ._save import new_figure

    if figure is not None:
        axes = figure.subplots(n_rows, n_cols, squeeze=False, subplot_kw=NO_TICKS)
        if suptitle:
            figure.suptitle(suptitle)
        return figure, axes
    fig = new_figure((1, 1))
    # the fixed geometry below replaces constrained layout; the placeholder engine tells
    # save_figure not to run its "tight" pass either
    fig.set_layout_engine(PlaceHolderLayoutEngine(adjust_compatible=True, colorbar_gridspec=True))
    title_h = (fontsize * 1.25 + 6) / 72 if len(titles) else 0.0  # one line, and the 6 pt title pad
    col_w = max(side, text_width(fig, titles, fontsize) + _PAD)
    left = _PAD + (text_width(fig, row_labels, label_fontsize) + 0.12 if len(row_labels) else 0)
    top = _PAD + title_h + (0.35 if suptitle else 0)
    width = left + n_cols * col_w + n_cols * _PAD
    height = top + n_rows * side + (n_rows - 1) * (title_h + _PAD) + _PAD
    fig.set_size_inches(width, height)
    gs = fig.add_gridspec(n_rows, n_cols, left=left / width, right=1 - _PAD / width, top=1 - top / height,
                          bottom=_PAD / height, wspace=_PAD / col_w, hspace=(title_h + _PAD) / side)
    axes = np.empty((n_rows, n_cols), dtype=object)
    for r in range(n_rows):
        for c in range(n_cols):
            axes[r, c] = fig.add_subplot(gs[r, c], **NO_TICKS)
    if suptitle:
        fig.suptitle(suptitle, y=1 - _PAD / height, va="top")
    return fig, axes

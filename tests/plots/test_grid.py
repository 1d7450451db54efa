"""The galleries' fixed layout (plots/_grid.py): texts fit, nothing leaves the figure, and a
hostile class name cannot make a giant figure."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.plots import ConfusedPairsDisplay, DigitGridDisplay, save_figure
from digitlab.plots._grid import MAX_TEXT

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def _gallery(classes, n=12, n_cols=6):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    y_true, y_pred = np.arange(n) % len(classes), (np.arange(n) + 3) % len(classes)
    return DigitGridDisplay.from_predictions(images, y_true, y_pred, proba=rng.random(n), classes=classes,
                                             grid=(n // n_cols, n_cols), suptitle="Misclassified").plot()


def _boxes(fig, texts):
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in texts]


def test_long_titles_widen_the_columns_instead_of_overlapping(pyplot):
    """Check Fashion-MNIST's names ("true Ankle boot → Pullover (0.49)") fit their columns."""
    disp = _gallery(FASHION)
    fig = disp.figure_
    fig.canvas.draw()
    titles = _boxes(fig, [ax.title for ax in disp.axes_])
    row = titles[:6]
    for left, right in zip(row, row[1:]):
        assert left.x1 <= right.x0, "neighbouring titles overlap"
    figure_box = fig.bbox
    for box in [*titles, *_boxes(fig, [fig._suptitle])]:
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1 and box.y1 <= figure_box.y1
    # and each title sits above its own image, not over the row above
    for ax, box in zip(disp.axes_[6:], titles[6:]):
        above = disp.axes_[0].get_window_extent()
        assert box.y1 < above.y0 and box.y0 >= ax.get_window_extent().y1 - 1


def test_a_hostile_class_name_cannot_make_a_giant_figure(pyplot, tmp_path):
    """Check a 10,000-character class name (a folder's or a CSV's) overflows its column and the
    figure stays a few inches wide."""
    disp = _gallery(["x" * 10_000, "y"], n=4, n_cols=2)
    width, height = disp.figure_.get_size_inches()
    assert width <= 2 * (MAX_TEXT + 0.2) + 0.5 and height < 6
    path = save_figure(disp.figure_, tmp_path / "g.png")
    assert path.stat().st_size < 2_000_000


def test_row_labels_fit_left_of_the_rows(pyplot):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    y_true = np.repeat([4, 7], 30)
    y_pred = np.where(np.arange(60) % 2 == 0, 9, y_true)
    disp = ConfusedPairsDisplay.from_predictions(images, y_true, y_pred, classes=FASHION, n_pairs=2)
    fig = disp.figure_
    fig.canvas.draw()
    for r in range(disp.axes_.shape[0]):
        label = _boxes(fig, [disp.axes_[r, 0].yaxis.label])[0]
        assert label.x0 >= 0 and label.x1 <= disp.axes_[r, 0].get_window_extent().x0


@pytest.mark.parametrize("make", [lambda: _gallery(FASHION), lambda: _gallery([str(i) for i in range(10)])])
def test_galleries_have_no_tick_lines(pyplot, make):
    """Check the panels are made without ticks (matplotlib's ~24 tick lines per Axes are most of a
    gallery's cost) and are still images with titles."""
    disp = make()
    for ax in disp.axes_:
        assert not ax.xaxis.get_major_ticks() and not ax.yaxis.get_major_ticks()
        assert len(ax.images) == 1 and ax.get_title()


def test_a_callers_figure_keeps_its_size_and_layout(pyplot):
    fig = pyplot.figure(figsize=(5, 4), layout="constrained")
    rng = np.random.default_rng(2)
    disp = DigitGridDisplay(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), [str(i) for i in range(6)],
                            n_rows=2, n_cols=3, suptitle="mine").plot(figure=fig)
    assert disp.figure_ is fig and tuple(fig.get_size_inches()) == (5, 4)
    assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    assert fig.get_suptitle() == "mine"


@pytest.mark.parametrize("backend", ["svg", "pdf"])
def test_galleries_draw_under_a_backend_without_an_agg_renderer(pyplot, backend, tmp_path):
    """Check a gallery works when the user chose a vector backend (MPLBACKEND=svg): titles are
    measured with an Agg renderer of our own, not the figure canvas's (which svg/pdf lack)."""
    pyplot.switch_backend(backend)
    try:
        disp = _gallery(FASHION)
        assert disp.figure_.get_size_inches()[0] > 6 * 1.2  # the long titles still widen the columns
        path = save_figure(disp.figure_, tmp_path / f"g.{backend}")
        assert path.stat().st_size > 1000
    finally:
        pyplot.switch_backend("Agg")

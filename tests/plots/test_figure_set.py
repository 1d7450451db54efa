"""The figure set of a run: class names as the figures show them, and long names kept in bounds."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest

from digitlab.plots import figure_set
from digitlab.plots._labels import LABEL_WIDTH, figure_labels


def test_short_names_are_shown_as_they_are():
    assert figure_labels(["0", "not 5", "sneaker", "exactly14chars"]) == ["0", "not 5", "sneaker", "exactly14chars"]


def test_long_names_keep_their_start_and_end():
    shown = figure_labels(["digit_seven_alice", "digit_seven_bob", "3"])
    assert shown == ["digit_s…_alice", "digit_s…en_bob", "3"]
    assert all(len(s) <= LABEL_WIDTH for s in shown)


def test_names_that_would_look_alike_are_kept_whole():
    names = ["handwritten-one-by-alice", "handwritten-two-by-alice"]  # same start, same end
    assert figure_labels(names) == names


@pytest.fixture()
def drawn(monkeypatch):
    """``(file name, figure box, [(title, title box)])`` of every figure saved while the test runs."""
    saved = []
    real = figure_set.save_figure

    def keep(fig, path, **kw):
        savefig = fig.savefig

        def measured(*args, **kwargs):  # the layout as written to the file
            savefig(*args, **kwargs)
            r = fig.canvas.get_renderer()
            saved.append((path.name, fig.bbox.frozen(),
                          [(ax.get_title(), ax.title.get_window_extent(r)) for ax in fig.axes if ax.get_title()]))

        fig.savefig = measured
        return real(fig, path, **kw)

    monkeypatch.setattr(figure_set, "save_figure", keep)
    return saved


def test_long_class_names_cannot_squeeze_the_figures(digits, drawn, tmp_path):
    """Check a detector on a class with a 60-character name: every figure is laid out (matplotlib
    warns when long labels collapse the axes), each title lies inside its figure (a long one
    breaks a line), and the captions still name the class in full."""
    import digitlab

    long = "the handwritten digit five, as drawn by the second-year class"
    ds = replace(digits, classes=tuple(long if c == "5" else c for c in digits.classes))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "constrained_layout not applied ..."
        run = digitlab.train(ds, "sgd", detect=5, test_size=0.25, cv=2, runs_dir=tmp_path)
    assert {name for name, _, _ in drawn} >= {"confusion.png", "precision_recall.png", "roc.png"}
    for name, box, titles in drawn:
        for text, extent in titles:
            assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, (name, text)
    index = figure_set.read_index(run)
    assert any(long in f["caption"] for f in index)


def test_displays_from_a_run_name_classes_as_its_figures_do(digits, tmp_path, pyplot):
    """Check the Displays' ``from_run`` (a notebook's way in) show a long class name as the run's
    saved figures do, not whole: the confusion matrix's ticks, the detector curves' legends."""
    import digitlab
    from digitlab.plots import ConfusionMatrixDisplay, ErrorGalleryDisplay, PrecisionRecallDisplay, RocCurveDisplay

    long = "the handwritten digit five, as drawn by the second-year class"
    ds = replace(digits, classes=tuple(long if c == "5" else c for c in digits.classes))
    run = digitlab.train(ds, "sgd", detect=5, test_size=0.25, cv=0, figures=False, runs_dir=tmp_path)
    short = figure_labels(["not " + long, long])
    assert all(len(s) <= LABEL_WIDTH for s in short)
    cm = ConfusionMatrixDisplay.from_run(run)
    assert [t.get_text() for t in cm.ax_.get_yticklabels()] == short
    for curve in (PrecisionRecallDisplay, RocCurveDisplay):
        assert curve.from_run(run).line_.get_label().startswith(f"{short[1]} detector")
    gallery = ErrorGalleryDisplay.from_run(run)
    assert not any(long in ax.get_title() for ax in gallery.figure_.axes)

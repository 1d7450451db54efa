"""RobustnessDisplay: accuracy against severity, one line per corruption, runs side by side."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitlab.corruptions import CORRUPTIONS
from digitlab.robustness import robustness
from digitlab.plots import RobustnessDisplay


@pytest.fixture(scope="module")
def results(digits):
    """Real robustness results of two models fitted on scikit-learn's 8x8 digits."""
    from digitlab.models import make_model

    split = digits.train_test(test_size=0.25, seed=0)
    out = {}
    for name in ("logreg", "knn"):
        model = make_model(name).fit(split.X_train, split.y_train)
        out[name] = robustness(model.predict, split.test.images, split.y_test, seed=0)
    return out


def test_one_line_per_corruption_from_clean_through_severities(pyplot, results):
    """Check each corruption's line holds its clean baseline then its accuracy at severities 1-3."""
    r = results["logreg"]
    disp = RobustnessDisplay.from_result(r, name="logreg")
    lines = disp.lines_["logreg"]
    assert list(lines) == list(CORRUPTIONS)
    for name, line in lines.items():
        assert list(line.get_xdata()) == [0, 1, 2, 3]
        assert np.allclose(line.get_ydata(), [r.baseline[name], *r.accuracy[name]])
        assert line.get_label() == name
    mean = disp.mean_lines_["logreg"].get_ydata()
    assert np.allclose(mean[1:], [np.mean([v[k] for v in r.accuracy.values()]) for k in range(3)])
    assert disp.clean_lines_["logreg"].get_ydata()[0] == pytest.approx(r.clean_accuracy)
    ax = disp.ax_
    assert ax.get_xlabel() == "Severity" and ax.get_ylabel() == "Accuracy"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["clean", "1", "2", "3"]
    assert ax.get_title() == f"logreg: clean {r.clean_accuracy:.3f}, mean under corruption {r.mean_accuracy:.3f}"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [*CORRUPTIONS, "mean over corruptions", "clean accuracy"]
    assert disp.figure_ is ax.figure and disp.axes_ == [ax]


def test_colours_tell_corruptions_apart(pyplot, results):
    """Check no two corruption lines share both colour and marker (the legend stays readable)."""
    disp = RobustnessDisplay.from_result(results["logreg"])
    styles = {(line.get_color(), line.get_marker()) for line in disp.lines_[""].values()}
    assert len(styles) == len(CORRUPTIONS)
    assert disp.ax_.get_title().startswith("clean ")


def test_runs_side_by_side_share_the_accuracy_axis(pyplot, results):
    """Check several runs get one panel each, on one shared y axis, with the legend once."""
    disp = RobustnessDisplay.from_results(results, title="Robustness")
    assert len(disp.axes_) == 2 and disp.ax_ is disp.axes_[0]
    for ax, (name, r) in zip(disp.axes_, results.items()):
        assert ax.get_title().startswith(f"{name}: clean {r.clean_accuracy:.3f}")
        assert np.allclose(disp.lines_[name]["shift"].get_ydata()[1:], r.accuracy["shift"])
    assert disp.axes_[0].get_shared_y_axes().joined(disp.axes_[0], disp.axes_[1])
    assert disp.axes_[0].get_legend() is None and disp.axes_[1].get_legend() is not None
    assert disp.figure_._suptitle.get_text() == "Robustness"
    assert disp.axes_[1].get_ylabel() == ""


def test_from_stored_dict_and_existing_axes(pyplot, results):
    """Check a stored to_dict() result draws the same lines, and plot() reuses given axes."""
    r = results["knn"]
    stored = json.loads(json.dumps(r.to_dict()))
    _, ax = pyplot.subplots()
    disp = RobustnessDisplay.from_result(stored, name="knn", ax=ax)
    assert disp.ax_ is ax
    assert np.allclose(disp.lines_["knn"]["blur"].get_ydata()[1:], r.accuracy["blur"])


def test_bad_arguments(pyplot, results):
    """Check a wrong number of axes, nothing to draw or a wrong type fail clearly."""
    _, ax = pyplot.subplots()
    with pytest.raises(ValueError, match="2 results need 2 axes, got 1"):
        RobustnessDisplay.from_results(results, axes=[ax])
    with pytest.raises(ValueError, match="no results"):
        RobustnessDisplay.from_results({})
    with pytest.raises(TypeError, match="RobustnessResult"):
        RobustnessDisplay.from_result([0.9])
    from digitlab.exceptions import DataError

    with pytest.raises(DataError, match="robustness.format"):
        RobustnessDisplay.from_result({"format": 99})

"""Runs trained once per module on scikit-learn's 8x8 digits (fast) for the Display tests."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, digits):
    """A multiclass logreg run on digits (25% test split), evaluated with the default 3 folds."""
    import digitlab

    return digitlab.train(digits, "logreg", test_size=0.25, runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory, digits):
    """A 5-detector: SGD on raw pixels, as the notebooks, on digits."""
    import digitlab

    return digitlab.train(digits, "sgd", detect=5, raw_pixels=True, test_size=0.25,
                          runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture
def run_copy(tmp_path):
    """Copy a module-scoped run so a test may rewrite or damage it."""
    from digitlab.runs import read_run

    def copy(run):
        dst = tmp_path / "runs" / run.id
        shutil.copytree(run.path, dst)
        return read_run(dst)

    return copy

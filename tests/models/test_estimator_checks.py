"""scikit-learn's estimator checks on every estimator digitlab defines."""

import importlib.util

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from digitlab.models.deskew import Deskewer
from digitlab.models.fast_logreg import FastLogisticRegression

ESTIMATORS = [FastLogisticRegression(), FastLogisticRegression(C=0.1, fit_intercept=False), Deskewer()]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


HAS_TORCH = importlib.util.find_spec("torch") is not None


def _cnn():
    from digitlab.models.cnn import CNNClassifier

    # small and few epochs: the checks fit dozens of times on tiny data (peak 0.4: at 0.2 these
    # few steps leave check_classifiers_train's blobs below its 83%)
    return CNNClassifier(max_epochs=3, channels=(4, 8), batch_size=16, lr=0.4, n_threads=1)


@pytest.mark.torch
@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch not installed")
@parametrize_with_checks([_cnn()])
def test_cnn_sklearn_compatible(estimator, check):
    check(estimator)

"""Runs for the web tests: a MNIST logreg, a digits 5-detector, an un-evaluated run.

``predictions.npz`` is written here in the documented format (``y_true``, ``y_pred``, ``y_proba``
and/or ``y_score``; no pickles) so the web tests do not depend on the evaluation module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/_render.py

from digitlab import training  # noqa: E402


def write_predictions(run, **arrays):
    with open(run.path / "predictions.npz", "wb") as fh:
        np.savez(fh, **arrays)


@pytest.fixture(scope="session")
def web_runs(tmp_path_factory, mnist, digits):
    """{name: Run} in one runs folder."""
    root = tmp_path_factory.mktemp("webruns")
    out = {"root": root}
    r = training.train(mnist, "logreg", limit=3000, seed=0, evaluate=False, runs_dir=root)
    test = r.load_split().test
    model = r.load_model()
    write_predictions(r, y_true=test.labels, y_pred=model.predict(test.X), y_proba=model.predict_proba(test.X))
    out["mnist"] = r
    d = training.train(digits, "sgd", detect=5, test_size=0.25, evaluate=False, runs_dir=root)
    dtest = d.load_split().test
    dmodel = d.load_model()
    write_predictions(d, y_true=(dtest.labels == 5).astype(np.int64), y_pred=dmodel.predict(dtest.X).astype(np.int64),
                      y_score=dmodel.decision_function(dtest.X))
    out["detector"] = d
    out["plain"] = training.train(digits, "logreg", test_size=0.25, evaluate=False, runs_dir=root)
    return out


@pytest.fixture
def app(web_runs):
    from digitlab.web import create_app

    return create_app(web_runs["root"], web_runs["mnist"].id)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as c:  # runs the lifespan (model loading)
        yield c

"""Runs for the web tests: a MNIST logreg, a digits 5-detector, an un-evaluated run.

All made by a real ``train()`` with its evaluation (no figures, no CV: fast), so the web tests see
exactly what evaluation writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/_render.py

from digitlab import training  # noqa: E402


@pytest.fixture(scope="session")
def web_runs(tmp_path_factory, mnist, digits):
    """{name: Run} in one runs folder."""
    root = tmp_path_factory.mktemp("webruns")
    out = {"root": root}
    quick = dict(cv=0, figures=False, runs_dir=root)
    out["mnist"] = training.train(mnist, "logreg", limit=3000, seed=0, **quick)
    out["detector"] = training.train(digits, "sgd", detect=5, test_size=0.25, **quick)
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

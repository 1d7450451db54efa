"""Runs written by digitlab 0.1.0 (committed under tests/data/runs-0.1.0) still load and work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from digitlab.runs import list_runs

FIXTURE = Path(__file__).parent / "data" / "runs-0.1.0"


@pytest.fixture
def old_runs(tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("README.md"))
    return root


def test_old_runs_are_listed_and_valid(old_runs):
    runs = list_runs(old_runs)
    assert [r.info.model.name for r in runs] == ["logreg", "sgd"]
    assert all(r.info.format == 1 and r.info.versions["digitlab"] == "0.1.0" for r in runs)
    assert runs[1].info.task.kind == "binary" and runs[1].info.task.detect == 5


def test_old_models_load_and_predict_as_recorded(old_runs, digits):
    """Each old model reproduces the test predictions stored next to it."""
    for run in list_runs(old_runs):
        model = run.load_model()
        split = run.load_split()
        with np.load(run.path / "predictions.npz", allow_pickle=False) as z:
            stored = z["y_pred"]
        pred = model.predict(split.test.X)  # a detector predicts booleans, stored as 0/1
        np.testing.assert_array_equal(np.asarray(pred).astype(stored.dtype), stored)


def test_old_runs_in_the_cli_and_report(old_runs, run_cli, tmp_path):
    code, out, err = run_cli("runs", "--runs-dir", old_runs, "--json")
    assert code == 0 and len(json.loads(out)) == 2, err
    report = tmp_path / "old.html"
    code, _, err = run_cli("report", "--runs-dir", old_runs, "latest", "--out", report)
    assert code == 0, err
    assert report.stat().st_size > 10_000


def test_old_run_on_the_web(old_runs):
    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    rid = list_runs(old_runs)[0].id
    with TestClient(create_app(old_runs), base_url="http://127.0.0.1") as client:
        r = client.get(f"/api/runs/{rid}")
    assert r.status_code == 200 and r.json()["id"] == rid

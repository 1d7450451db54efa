"""The run reference `best` (issue 13 §1): the evaluated multi-class run with the highest test
accuracy, used by `serve` and `predict` when no run is named, and said to be so."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import digitlab
from digitlab.exceptions import InputMissingError
from digitlab.runs import choose_run, resolve_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits):
    """A detector (high accuracy, but not multi-class), logreg, dummy, then an un-evaluated knn
    (the newest run)."""
    root = tmp_path_factory.mktemp("best-runs")
    quick = dict(test_size=0.25, cv=0, figures=False, runs_dir=root)
    out = {"root": root}
    out["detector"] = digitlab.train(digits, "sgd", detect=5, **quick)
    out["logreg"] = digitlab.train(digits, "logreg", **quick)
    out["dummy"] = digitlab.train(digits, "dummy", **quick)
    out["plain"] = digitlab.train(digits, "knn", test_size=0.25, evaluate=False, runs_dir=root)
    return out


@pytest.fixture
def eight(tmp_path, digits):
    """A digits test image saved as a PNG (8x8 grey, white ink on black)."""
    img = digits.images[np.flatnonzero(digits.labels == 8)[0]]
    path = tmp_path / "eight.png"
    Image.fromarray(np.asarray(img, dtype=np.uint8)).save(path)
    return path


def test_best_is_the_most_accurate_evaluated_multiclass_run(runs):
    det, logreg = runs["detector"], runs["logreg"]
    # the premise: the detector scores higher, and would win if detectors counted
    assert det.info.metrics.test_accuracy > logreg.info.metrics.test_accuracy
    run, why = choose_run("best", runs["root"])
    assert run.id == logreg.id
    assert why == (f"best: the highest test accuracy ({logreg.info.metrics.test_accuracy:.4f}) of 2 evaluated "
                   "multi-class runs on digits")
    assert resolve_run("latest", runs["root"]).id == runs["plain"].id
    assert resolve_run("best:digits", runs["root"]).id == logreg.id
    assert choose_run(logreg.id, runs["root"])[1] == "named"


def test_best_for_a_dataset_without_runs_says_so(runs, tmp_path):
    with pytest.raises(InputMissingError, match=r"best:fashion: no evaluated multi-class run on fashion in "):
        resolve_run("best:fashion", runs["root"])
    with pytest.raises(InputMissingError, match="no runs yet"):
        resolve_run("best", tmp_path / "empty")


def test_predict_without_a_run_uses_best_and_says_why(run_cli, runs, eight):
    code, out, err = run_cli("predict", eight, "--runs-dir", runs["root"], "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["run"] == runs["logreg"].id and row["run_reason"].startswith("best: the highest test accuracy")
    code, out, err = run_cli("predict", eight, "--runs-dir", runs["root"])
    assert code == 0 and f"run {runs['logreg'].id} (best: " in err
    # naming a run still works, and a named run needs no explanation
    code, out, err = run_cli("predict", runs["dummy"].id, eight, "--runs-dir", runs["root"], "--json")
    assert code == 0 and json.loads(out)[0]["run"] == runs["dummy"].id
    assert json.loads(out)[0]["run_reason"] == "named"
    code, out, err = run_cli("predict", "latest", eight, "--runs-dir", runs["root"], "--json")
    assert code == 0 and json.loads(out)[0]["run"] == runs["plain"].id


def test_predict_with_a_run_and_no_files_is_a_usage_error(run_cli, runs):
    code, out, err = run_cli("predict", "best", "--runs-dir", runs["root"])
    assert code == 2 and "no FILES to predict after the run 'best'" in err


def test_web_default_is_best_and_the_answer_says_why(runs, eight):
    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    client = TestClient(create_app(runs["root"]), base_url="http://127.0.0.1")
    body = eight.read_bytes()
    r = client.post("/api/predict", content=body, headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    assert r.json()["run"] == runs["logreg"].id and r.json()["run_reason"].startswith("best: ")
    r = client.post(f"/api/predict?run={runs['dummy'].id}", content=body, headers={"content-type": "image/png"})
    assert r.json()["run"] == runs["dummy"].id and r.json()["run_reason"] == "requested"
    listed = {x["id"]: x for x in client.get("/api/runs").json()}
    assert listed[runs["logreg"].id]["default"] and listed[runs["logreg"].id]["default_reason"].startswith("best: ")
    assert not listed[runs["plain"].id]["default"]


def test_a_missing_file_alone_is_named_as_a_file(run_cli, runs):
    """`digitlab predict typo.png`: a name no run can have is a file, and its error says so."""
    code, out, err = run_cli("predict", "typo.png", "--runs-dir", runs["root"])
    assert code == 66 and "typo.png: no such file" in err

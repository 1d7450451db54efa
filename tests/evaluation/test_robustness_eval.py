"""`digitlab evaluate RUN --robustness` (issue 13 §2): accuracy under corruption stored in the run's
evaluation, drawn, shown in the report, the web app's run view and `runs compare`."""

from __future__ import annotations

import json

import pytest

import digitlab
from digitlab.evaluation import evaluate, load_result
from digitlab.exceptions import ParameterError
from digitlab.runs import read_run

N = 300  # robustness sample: 36 corrupted copies of each are predicted


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, mnist):
    root = tmp_path_factory.mktemp("rob-runs")
    return digitlab.train(mnist, "logreg", limit=3000, seed=0, cv=0, figures=False, runs_dir=root)


def test_evaluate_robustness_is_stored_drawn_and_reported(run_cli, mnist_run, tmp_path):
    run = mnist_run
    code, out, err = run_cli("evaluate", run.path, "--robustness", "--robustness-images", N, "--cv", "0", "--json")
    assert code == 0, err
    doc = json.loads(out)
    rob = load_result(run).robustness_result
    assert rob.n_test == N and len(rob.accuracy) == 12 and rob.severities == (1, 2, 3)
    # corruptions hurt a pixel-based linear model: the harshest severity is worse than clean, on average
    assert rob.mean_by_severity()[3] < rob.clean_accuracy
    assert 0 < rob.mean_accuracy < rob.clean_accuracy
    assert doc["metrics"]["robustness_mean"] == pytest.approx(rob.mean_accuracy)
    assert read_run(run.path).info.metrics.robustness_mean == pytest.approx(rob.mean_accuracy)
    assert "figures/robustness.png" in [f["file"] for f in doc["figures"]]
    assert (run.path / "figures" / "robustness.png").read_bytes()[:4] == b"\x89PNG"

    report = tmp_path / "r.html"
    code, _, err = run_cli("report", run.path, "--out", report)
    assert code == 0, err
    html = report.read_text()
    assert "Accuracy under corruption" in html and "severity 3" in html

    code, out, err = run_cli("runs", "--runs-dir", run.path.parent, "compare", run.id, "--json")
    assert code == 0, err
    rows = dict((k, v) for k, v in json.loads(out)["rows"])
    assert rows["robustness_mean"] == [pytest.approx(rob.mean_accuracy)]

    code, out, err = run_cli("evaluate", run.path, "--robustness", "--robustness-images", N, "--cv", "0")
    assert code == 0 and "Robustness (300 test images" in out


def test_robustness_is_reproducible_and_replaced_by_a_plain_evaluation(mnist_run, mnist_small):
    model = mnist_run.load_model()
    a = evaluate(model, mnist_small, cv=0, robustness=True, robustness_images=120)
    b = evaluate(model, mnist_small, cv=0, robustness=True, robustness_images=120)
    assert a.robustness == b.robustness and a.robustness["n_test"] == 120
    assert evaluate(model, mnist_small, cv=0).robustness is None
    digitlab.evaluate_run(mnist_run, cv=0, robustness=True, robustness_images=100)
    assert read_run(mnist_run.path).info.metrics.robustness_mean is not None
    digitlab.evaluate_run(mnist_run, cv=0)  # one evaluation pass: nothing stale survives it
    assert load_result(mnist_run).robustness is None
    assert read_run(mnist_run.path).info.metrics.robustness_mean is None


def test_web_run_view_has_the_robustness_table(mnist_run):
    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    digitlab.evaluate_run(mnist_run, cv=0, robustness=True, robustness_images=100)
    client = TestClient(create_app(mnist_run.path.parent), base_url="http://127.0.0.1")
    d = client.get(f"/api/runs/{mnist_run.id}").json()
    assert d["robustness"]["n_test"] == 100 and set(d["robustness"]["accuracy"]) >= {"shift", "blur", "elastic"}
    assert all(len(v) == 3 for v in d["robustness"]["accuracy"].values())


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_bad_sample_size_is_refused_before_any_work(mnist_run, mnist_small, n):
    with pytest.raises(ParameterError, match=r"robustness_images=.*: must be a whole number of test images"):
        evaluate(mnist_run.load_model(), mnist_small, cv=0, robustness=True, robustness_images=n)


def test_cli_bad_sample_size(run_cli, mnist_run):
    code, out, err = run_cli("evaluate", mnist_run.path, "--robustness", "--robustness-images", "0")
    assert code == 2 and "--robustness-images" in err


@pytest.mark.parametrize("field, value", [("clean_accuracy", 2.0), ("severities", [1, 1]), ("format", 99),
                                          ("corruptions", "all")])
def test_hostile_robustness_in_eval_json_is_refused(run_cli, mnist_run, tmp_path, field, value):
    """An eval.json from elsewhere with a malformed robustness report: one line, exit 65."""
    import shutil

    digitlab.evaluate_run(mnist_run, cv=0, robustness=True, robustness_images=60)
    copy = tmp_path / "runs" / mnist_run.id
    shutil.copytree(mnist_run.path, copy)
    ev = json.loads((copy / "eval.json").read_text())
    ev["robustness"][field] = value
    (copy / "eval.json").write_text(json.dumps(ev))
    code, out, err = run_cli("report", copy, "--out", tmp_path / "r.html")
    assert code == 65 and "invalid evaluation" in err and "robustness" in err and len(err.splitlines()) == 1

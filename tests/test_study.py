"""The whole study, on the small digits set (fast) and on MNIST (quick subset, slow group)."""

import json

import pytest

from digitlab.runs import list_runs
from digitlab.study import run_study


def test_study_on_digits_writes_runs_and_report(tmp_path):
    """Every step becomes a run, and one report holds them all with their figures."""
    res = run_study("digits", out=tmp_path / "study.html", runs_dir=tmp_path / "runs", progress=False)
    runs = list_runs(tmp_path / "runs")
    assert {r.info.model.name for r in runs} >= {"sgd", "logreg", "dummy", "knn"}
    det = res.runs["detector"]
    assert det.is_binary and det.info.model.raw_pixels
    assert len(det.info.metrics.cv_scores) == 3
    html = res.report.read_text()
    for heading in ("The data", "the 5-detector", "logistic regression", "Comparing models"):
        assert heading in html
    assert html.count("data:image/png;base64,") >= 8
    # the dummy baseline sits next to the detector's CV scores
    assert f"{det.info.metrics.dummy_cv_mean:.5f}" in html


@pytest.mark.slow
def test_study_cli_quick_on_mnist(run_cli, mnist_dir, tmp_path, monkeypatch):
    """`digitlab study --quick` on MNIST from an empty folder: runs under ./runs, report printed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGITLAB_RUNS_DIR")
    code, out, err = run_cli("study", "--quick", "--data-dir", mnist_dir, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert (tmp_path / "report.html").exists() and d["report"] == "report.html"
    assert len(list((tmp_path / "runs").iterdir())) == 4
    assert d["runs"]["logreg"]["test_accuracy"] > 0.85
    assert d["runs"]["detector"]["dummy_cv_mean"] == pytest.approx(0.9097, abs=0.01)
    # its fits ran together in one pool, and every number equals a train() of the same step alone
    from test_scheduling import assert_same_runs

    from digitlab import datasets
    from digitlab.runs import read_run
    from digitlab.study import study_trainings

    assert {s["where"] for s in d["timeline"] if ": fit " in s["what"]} == {"worker 1", "worker 2"}
    ds = datasets.load("mnist", data_dir=mnist_dir)
    runs = {key: read_run(r["path"]) for key, r in d["runs"].items()}
    assert_same_runs(runs, study_trainings(ds, quick=True, runs_dir=tmp_path / "alone"), ds)


FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not __import__("os").path.isdir(FASHION), reason="Debian's dataset-fashion-mnist not installed")
def test_study_words_follow_the_dataset(tmp_path):
    """On Fashion-MNIST the report speaks of clothing and classes, never of handwritten digits."""
    from digitlab import datasets
    from digitlab.study import _overview

    ds = datasets.load("fashion-mnist")
    section = _overview(ds, ds.train_test().limit(500, seed=0), tmp_path)
    text = section.text + " ".join(f["caption"] for f in section.figures)
    assert "clothing" in text and "each class" in text
    assert "handwritten" not in text and "digit" not in text
    assert datasets._registry.words(ds.name, ds.classes).all_items == "all ten classes"
    assert datasets._registry.words("mnist", [str(d) for d in range(10)]).all_items == "all ten digits"

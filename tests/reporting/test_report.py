"""The HTML report: self-contained, readable, escaped."""

import re

import pytest

from digitlab import train
from digitlab.reporting import report


@pytest.fixture(scope="module")
def digit_runs(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("runs")
    lr = train("digits", "logreg", test_size=0.25, cv=3, runs_dir=runs_dir)
    det = train("digits", "sgd", detect=5, test_size=0.25, cv=3, runs_dir=runs_dir)
    return runs_dir, lr, det


def test_report_is_self_contained(digit_runs, tmp_path):
    """Figures are embedded as data URLs and nothing is fetched from the network."""
    runs_dir, lr, det = digit_runs
    out = report([lr.id, det.id], tmp_path / "r.html", runs_dir=runs_dir)
    html = out.read_text()
    imgs = re.findall(r'<img src="([^"]+)"', html)
    assert len(imgs) >= 4
    assert all(src.startswith("data:image/png;base64,") for src in imgs)
    assert not re.search(r'(src|href)="https?://', html)


def test_report_shows_scores_and_captions(digit_runs, tmp_path):
    """Each run has its scores, its confusion counts and a caption under every figure."""
    runs_dir, lr, det = digit_runs
    html = report([lr, det], tmp_path / "r.html").read_text()
    acc = lr.info.metrics.test_accuracy
    assert f"{acc:.4f}" in html
    folds = ", ".join(f"{s:.5f}" for s in det.info.metrics.cv_scores)
    assert f"[{folds}]" in html
    assert "Runs side by side" in html
    n_fig = html.count("<figure>")
    assert html.count("<figcaption>") == n_fig and n_fig > 0
    assert "Confusion matrix of the cross-validated predictions" in html


def test_report_escapes_html_in_run_metadata(digit_runs, tmp_path):
    """A run description with HTML in it is shown as text, never executed."""
    import json

    import shutil

    from digitlab.runs import read_run

    runs_dir, lr, _ = digit_runs
    copy = shutil.copytree(lr.path, tmp_path / lr.id)
    meta = json.loads((copy / "run.json").read_text())
    meta["dataset"]["name"] = "<script>alert(1)</script>"
    (copy / "run.json").write_text(json.dumps(meta))
    html = report([read_run(copy)], tmp_path / "r.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_report_cli_unknown_run_is_one_line(run_cli, tmp_path):
    """An unknown run id: exit 66, one line, no report written."""
    code, out, err = run_cli("report", "no-such-run", "--out", tmp_path / "r.html")
    assert code == 66
    assert err.strip().startswith("digitlab: error: no-such-run")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_report_cli_writes_file(run_cli, digit_runs, tmp_path):
    runs_dir, lr, _ = digit_runs
    code, out, err = run_cli("report", lr.id, "--runs-dir", runs_dir, "--out", tmp_path / "one.html")
    assert code == 0, err
    assert "report:" in out and (tmp_path / "one.html").stat().st_size > 10_000


@pytest.mark.parametrize("option, expected", [({"target_precision": 0.95}, "Threshold for precision ≥ 0.95"),
                                              ({}, "Threshold for precision ≥ 0.9<")])
def test_report_names_the_target_the_detector_was_trained_for(tmp_path, option, expected):
    """The threshold row says the precision asked for (was always "0.9": the report read another key)."""
    det = train("digits", "sgd", detect=5, raw_pixels=True, test_size=0.25, cv=0, runs_dir=tmp_path / "runs",
                **option)
    html = report([det], tmp_path / "r.html").read_text()
    assert expected in html

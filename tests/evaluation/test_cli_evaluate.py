"""``digitlab evaluate RUN``: output, exit codes, and nothing overwritten on failure."""

from __future__ import annotations

import json

import pytest


def test_evaluate_prints_summary_and_rewrites(digits_run, run_copy, run_cli):
    """Check the table output and that run.json metrics follow the new evaluation."""
    run = run_copy(digits_run)
    code, out, err = run_cli("evaluate", run.path, "--cv", "2", "--no-figures")
    assert code == 0, err
    assert "test accuracy" in out and "cv accuracy (2 folds)" in out and "most-frequent baseline" in out
    meta = json.loads((run.path / "run.json").read_text())
    assert len(meta["metrics"]["cv_scores"]) == 2
    assert f"{meta['metrics']['test_accuracy']:.4f}" in out


def test_evaluate_json(detector_run, run_copy, run_cli):
    """Check --json prints the metrics stored in run.json, with the detector's threshold."""
    run = run_copy(detector_run)
    code, out, err = run_cli("evaluate", run.path, "--json", "--target-precision", "0.95", "--no-figures")
    assert code == 0, err
    doc = json.loads(out)
    meta = json.loads((run.path / "run.json").read_text())
    assert doc["metrics"] == meta["metrics"]
    ev = json.loads((run.path / "eval.json").read_text())
    assert ev["detector"]["target"]["target"] == 0.95
    assert doc["metrics"]["threshold_at_target"] == ev["detector"]["target"]["threshold"]


def test_evaluate_by_id_through_runs_dir(digits_run, run_copy, run_cli):
    """Check RUN may be a unique part of a run id, resolved in --runs-dir."""
    run = run_copy(digits_run)
    code, out, err = run_cli("evaluate", "digits-logreg", "--runs-dir", run.path.parent, "--cv", "0",
                             "--json", "--no-figures")
    assert code == 0, err
    assert json.loads(out)["id"] == run.id


def test_both_targets_is_usage_error(digits_run, run_cli):
    """Check --target-precision with --target-recall exits 2."""
    code, out, err = run_cli("evaluate", digits_run.path, "--target-precision", "0.9", "--target-recall", "0.9")
    assert code == 2 and "not both" in err


def test_help_has_example(run_cli):
    """Check --help documents RUN and shows an example."""
    code, out, _ = run_cli("evaluate", "--help")
    assert code == 0 and "digitlab evaluate latest" in out and "--target-recall" in out


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digitlab: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_unknown_run_exits_66(run_cli, tmp_path):
    """Check an unknown run id: one line, exit 66."""
    code, _, err = run_cli("evaluate", "no-such-run", "--runs-dir", tmp_path)
    assert code == 66
    assert "no-such-run: no such run" in _one_line(err)


def test_missing_model_exits_66_and_changes_nothing(digits_run, run_copy, run_cli, snapshot):
    """Check a run folder without model.skops: exit 66, files untouched."""
    run = run_copy(digits_run)
    run.model_path.unlink()
    before = snapshot(run.path)
    code, _, err = run_cli("evaluate", run.path)
    assert code == 66
    assert "model.skops: model not found" in _one_line(err)
    assert snapshot(run.path) == before


def test_tampered_model_exits_65_and_changes_nothing(digits_run, run_copy, run_cli, snapshot):
    """Check a modified model file (SHA-256 differs): exit 65, files untouched."""
    run = run_copy(digits_run)
    data = bytearray(run.model_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    run.model_path.write_bytes(bytes(data))
    before = snapshot(run.path)
    code, _, err = run_cli("evaluate", run.path)
    assert code == 65
    assert "corrupted or modified" in _one_line(err)
    assert snapshot(run.path) == before


def test_8x8_model_on_28x28_data_exits_65(digits_run, run_copy, run_cli, snapshot, mnist_dir, monkeypatch):
    """Check a digits model pointed at MNIST: exit 65 naming both image sizes, files untouched."""
    run = run_copy(digits_run)
    meta = json.loads((run.path / "run.json").read_text())
    meta["dataset"].update(name="mnist", ref="mnist", checksums={})
    meta["split"].update(test_size=None, limit=600)
    (run.path / "run.json").write_text(json.dumps(meta))
    before = snapshot(run.path)
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(mnist_dir))
    code, _, err = run_cli("evaluate", run.path)
    assert code == 65
    line = _one_line(err)
    assert "expects 64 pixels (8×8 images)" in line and "784 (28×28)" in line
    assert snapshot(run.path) == before


@pytest.mark.parametrize("bad", ["0", "1.5"])
def test_bad_target_is_usage_error(digits_run, run_cli, bad):
    """Check a target outside (0, 1] exits 2."""
    code, _, err = run_cli("evaluate", digits_run.path, "--target-precision", bad)
    assert code == 2


def test_evaluate_refuses_folds_the_run_cannot_fill(tmp_path, run_cli):
    """H9 in `evaluate --cv`: more folds than a class has images, or a k-NN whose k exceeds a fold,
    is exit 2 naming the value before any fit; the run's files are untouched."""
    import digitlab
    from digitlab.exceptions import ParameterError

    runs = tmp_path / "runs"
    small = digitlab.train("digits", "logreg", test_size=0.25, limit=100, cv=0, figures=False, runs_dir=runs)
    knn = digitlab.train("digits", "knn", params={"n_neighbors": 150, "pca__n_components": 20},
                         test_size=0.25, limit=200, cv=0, figures=False, runs_dir=runs)
    for run, cv, needle in ((small, "20", "--cv 20: the smallest class, "),
                            (knn, "3", "n_neighbors=150: more neighbours than the 133 training images of a "
                                       "cross-validation fold")):
        before = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
        code, out, err = run_cli("evaluate", run.path, "--cv", cv, "--no-figures")
        assert code == 2, err
        assert needle in _one_line(err)
        assert {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()} == before
    with pytest.raises(ParameterError, match="n_neighbors=150"):
        digitlab.evaluate_run(knn, cv=3)

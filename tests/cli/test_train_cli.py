"""`digitlab train` and `digitlab runs`: runs are written whole, bad input is one line."""

import json

import pytest


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("digitlab: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_train_writes_a_complete_run(run_cli, tmp_path):
    """A run folder with model, run.json and metrics; `runs` lists it; `--json` is parseable."""
    runs = tmp_path / "runs"
    code, out, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--cv", "0",
                             "--runs-dir", runs, "--json")
    assert code == 0, err
    d = json.loads(out)
    run_dir = runs / d["id"]
    assert (run_dir / "model.skops").is_file() and (run_dir / "run.json").is_file()
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["split"]["n_train"] == 1347 and meta["split"]["n_test"] == 450
    assert meta["fit"]["converged"] is True and meta["fit"]["n_iter"] > 0
    assert meta["versions"]["sklearn"].startswith("1.")
    assert 0.9 < d["metrics"]["test_accuracy"] <= 1.0
    code, out, err = run_cli("runs", "--runs-dir", runs, "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [d["id"]]


def test_train_notebook_params_are_typed(run_cli, tmp_path):
    """The notebooks' spelling penalty=l1 is translated (with a note) and values are typed."""
    code, out, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--no-eval",
                             "--param", "penalty=l1", "--param", "solver=saga", "--param", "C=50",
                             "--param", "tol=0.01", "--raw-pixels", "--runs-dir", tmp_path, "--json")
    assert code == 0, err
    assert "penalty=l1" in err and "l1_ratio=1" in err
    meta = json.loads((tmp_path / json.loads(out)["id"] / "run.json").read_text())
    p = meta["model"]["all_params"]
    assert p["C"] == 50.0 and p["l1_ratio"] == 1.0 and p["solver"] == "saga" and p["tol"] == 0.01
    assert meta["model"]["raw_pixels"] is True


@pytest.mark.parametrize("args, needle", [
    (["--model", "logregg"], "unknown model 'logregg'; did you mean 'logreg'?"),
    (["--param", "Cc=1"], "--param Cc: unknown parameter for model logreg; did you mean 'C'?"),
    (["--param", "C=abc"], "--param C: expected a number, got 'abc'"),
    (["--param", "C=-1"], "'C' parameter of"),
    (["--param", "C"], "--param: expected key=value, got 'C'"),
    (["--detect", "12"], "--detect: must be a class index 0–9, got 12"),
], ids=["model", "unknown-param", "type", "range", "no-equals", "detect"])
def test_train_usage_errors(run_cli, tmp_path, args, needle):
    """Each usage error: exit 2, one line naming the option, and no run folder."""
    runs = tmp_path / "runs"
    code, out, err = run_cli("train", "--dataset", "digits", "--runs-dir", runs, *args)
    assert code == 2
    assert needle in _one_line(err)
    assert not runs.exists() or not any(runs.iterdir())


def test_runs_compare_and_unknown(run_cli, tmp_path):
    runs = tmp_path / "runs"
    for model in ("dummy", "logreg"):
        assert run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--model", model,
                       "--no-eval", "--runs-dir", runs)[0] == 0
    code, out, err = run_cli("runs", "--runs-dir", runs, "compare", "dummy", "logreg", "--json")
    assert code == 0, err
    rows = dict((k, v) for k, v in json.loads(out)["rows"])
    assert rows["model"] == ["dummy", "logreg"]
    code, out, err = run_cli("runs", "--runs-dir", runs, "compare", "nope")
    assert code == 66 and "nope: no such run" in _one_line(err)


def test_train_interrupted_leaves_no_run(tmp_path, monkeypatch):
    """Ctrl-C during fit: no run folder and no temp folder remain."""
    from digitlab import training

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "fit_model", boom)
    with pytest.raises(KeyboardInterrupt):
        training.train("digits", "logreg", test_size=0.25, runs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_run_and_report_get_normal_file_modes(run_cli, tmp_path):
    """Temp-then-rename must not leave outputs private (mkstemp's 0600, mkdtemp's 0700)."""
    import os
    import stat

    umask = os.umask(0o022)
    try:
        runs = tmp_path / "runs"
        code, out, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--cv", "0",
                                 "--runs-dir", runs, "--json")
        assert code == 0, err
        run_dir = runs / json.loads(out)["id"]
        assert run_cli("report", "latest", "--runs-dir", runs, "--out", tmp_path / "r.html")[0] == 0
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o755
        assert stat.S_IMODE((run_dir / "model.skops").stat().st_mode) == 0o644
        assert stat.S_IMODE((tmp_path / "r.html").stat().st_mode) == 0o644
    finally:
        os.umask(umask)

"""digitlab.searching.search and `digitlab search`: spaces, progress, run folders, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitlab.exceptions import ParameterError
from digitlab.runs import list_runs
from digitlab.plots import SearchParamDisplay
from digitlab.searching import build_space, load_search, make_distribution, search

GRID = {"C": ["0.01", "0.1", "1"]}


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, digits):
    """One sequential grid search on digits, shared by the read-only checks below."""
    events = []
    run = search(digits, "logreg", grid=GRID, test_size=0.25, cv=3, n_jobs=1, evaluate=False,
                 runs_dir=tmp_path_factory.mktemp("runs"), callback=events.append)
    return run, events


def test_search_writes_a_run_folder(digits_run):
    """Check run.json (contract fields, best params), search.json and one figure per parameter."""
    run, _ = digits_run
    meta = json.loads((run.path / "run.json").read_text())
    for key in ("format", "created", "dataset", "split", "task", "classes", "n_features", "model",
                "versions", "seed", "fit", "metrics", "search"):
        assert key in meta
    record = load_search(run)
    scores = record["cv_results"]["mean_test_score"]
    best = int(np.argmax(scores))
    assert record["best_index"] == best
    assert record["best_score"] == scores[best] == meta["metrics"]["cv_mean"]
    assert record["best_params"] == record["cv_results"]["params"][best] == meta["model"]["params"]
    assert record["cv_results"]["params"] == [{"C": 0.01}, {"C": 0.1}, {"C": 1.0}]
    assert record["backend"] == "sequential" and record["lost_workers"] == []
    assert [r["rank"] for r in record["results"]] == [1, 2, 3]
    assert (run.path / "figures" / "search_C.png").stat().st_size > 1000
    assert run.id in [r.id for r in list_runs(run.path.parent)]


def test_search_best_model_is_refitted_with_best_params(digits_run):
    """The saved model loads safely, carries the best C and was fitted on the whole train split."""
    run, _ = digits_run
    model = run.load_model()
    assert model.get_params()["clf__C"] == load_search(run)["best_params"]["C"]
    assert model[-1].n_features_in_ == 64
    assert run.info.split.n_train == 1347


def test_search_progress_reports_each_candidate_with_best_so_far(digits_run):
    """One event per candidate, counted up, best-so-far equal to the running maximum."""
    run, events = digits_run
    record = load_search(run)
    assert [e.finished for e in events] == [1, 2, 3]
    assert all(e.total == 3 for e in events)
    running = -np.inf
    by_params = {json.dumps(p, sort_keys=True): m for p, m in
                 zip(record["cv_results"]["params"], record["cv_results"]["mean_test_score"])}
    for e in events:
        assert e.mean_score == pytest.approx(by_params[json.dumps(e.params, sort_keys=True)], abs=1e-12)
        running = max(running, e.mean_score)
        assert e.best_score == running
    assert events[-1].best_params == record["best_params"]


def test_search_same_scores_in_worker_processes(digits_run, tmp_path, digits):
    """Two loky processes give the sequential run's scores to the last digit, with live progress."""
    run, _ = digits_run
    events = []
    run2 = search(digits, "logreg", grid=GRID, test_size=0.25, cv=3, n_jobs=2, evaluate=False,
                  runs_dir=tmp_path, callback=events.append)
    a, b = load_search(run), load_search(run2)
    assert b["backend"] == "loky" and b["workers"] == 2
    for col in ("mean_test_score", "std_test_score", "split0_test_score", "split2_test_score"):
        assert a["cv_results"][col] == b["cv_results"][col]
    assert b["best_params"] == a["best_params"]
    assert sorted(e.finished for e in events) == [1, 2, 3]
    assert events[-1].best_score == a["best_score"]


def test_build_space_types_values_like_param():
    """Grid strings are typed from the estimator defaults; bad values fail before fitting."""
    space = build_space("logreg", {"C": ["0.1", "1"], "max_iter": ["50", "100"]}, None)
    assert space == {"clf__C": [0.1, 1.0], "clf__max_iter": [50, 100]}
    assert all(type(v) is int for v in space["clf__max_iter"])
    with pytest.raises(ParameterError, match="C"):
        build_space("logreg", {"C": ["-1"]}, None)
    with pytest.raises(ParameterError, match="expected a number"):
        build_space("logreg", {"C": ["abc"]}, None)
    with pytest.raises(ParameterError, match="unknown parameter"):
        build_space("logreg", {"Cc": ["1"]}, None)
    with pytest.raises(ParameterError, match="l1_ratio"):
        build_space("logreg", {"penalty": ["l1", "l2"]}, None)
    with pytest.raises(ParameterError, match="nothing to search"):
        build_space("logreg", None, None)


@pytest.mark.parametrize("spec, match", [
    ("normal:0:1", "expected one of"), ("loguniform:0:1", "LOW > 0"), ("uniform:2:1", "LOW < HIGH"),
    ("uniform:a:1", "numbers"), ("randint:1.5:4", "integers"),
], ids=["kind", "log0", "order", "nan", "int"])
def test_make_distribution_errors(spec, match):
    """Bad --dist specs name the parameter and the problem."""
    with pytest.raises(ParameterError, match=match):
        make_distribution("C", spec)


def test_make_distribution_integer_parameter_needs_randint():
    """An integer parameter cannot be drawn from a float distribution."""
    with pytest.raises(ParameterError, match="randint"):
        build_space("knn", None, {"n_neighbors": "uniform:1:10"})
    space = build_space("knn", None, {"n_neighbors": "randint:1:10"})
    assert space["clf__n_neighbors"].support() == (1, 9)


def test_random_search_draws_in_bounds_and_repeats(digits, tmp_path):
    """--random N draws N candidates from the distribution; the same seed draws the same ones."""
    kw = dict(distributions={"C": "loguniform:1e-3:1e2"}, n_iter=4, test_size=0.25, limit=400, cv=2,
              n_jobs=1, evaluate=False, runs_dir=tmp_path)
    a = load_search(search(digits, "logreg", **kw))
    b = load_search(search(digits, "logreg", **kw))
    cs = [p["C"] for p in a["cv_results"]["params"]]
    assert len(cs) == 4 and all(1e-3 <= c <= 1e2 for c in cs)
    assert a["cv_results"]["params"] == b["cv_results"]["params"]
    assert a["cv_results"]["mean_test_score"] == b["cv_results"]["mean_test_score"]
    assert a["kind"] == "random" and a["space"] == {"C": "loguniform(0.001, 100)"}


def test_halving_search_records_rounds(digits, tmp_path):
    """Successive halving keeps fewer candidates on more images each round."""
    run = search(digits, "logreg", grid={"C": ["0.001", "0.01", "0.1", "1", "10", "100"]}, halving=True,
                 test_size=0.25, cv=2, n_jobs=1, evaluate=False, runs_dir=tmp_path)
    rec = load_search(run)
    assert rec["kind"] == "halving-grid" and rec["n_iterations"] >= 2
    assert rec["n_resources"] == sorted(rec["n_resources"]) and rec["n_resources"][0] < rec["n_resources"][-1]
    last = max(rec["cv_results"]["iter"])
    survivors = [p for p, i in zip(rec["cv_results"]["params"], rec["cv_results"]["iter"]) if i == last]
    assert rec["best_params"] in survivors
    assert rec["results"][0]["iter"] == last


def test_detector_search(digits, tmp_path):
    """--detect searches a binary task with the chosen scorer and records the task."""
    run = search(digits, "logreg", grid={"C": ["0.1", "1"]}, detect=5, scoring="f1", test_size=0.25, cv=2,
                 n_jobs=1, runs_dir=tmp_path, evaluate=False)
    assert run.info.task.kind == "binary" and run.info.task.detect == 5
    assert run.classes == ["not 5", "5"]
    assert list(run.load_model().classes_) == [False, True]
    assert 0.5 < load_search(run)["best_score"] <= 1


def test_bad_scoring_and_folds(digits, tmp_path):
    with pytest.raises(ParameterError, match="scorer"):
        search(digits, "logreg", grid=GRID, scoring="accurasy", test_size=0.25, n_jobs=1, runs_dir=tmp_path)
    with pytest.raises(ParameterError, match="smallest class"):
        search(digits, "logreg", grid=GRID, cv=20, limit=50, test_size=0.25, n_jobs=1, runs_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_search_param_display_draws_best_per_value(pyplot):
    """Grid: one point per value (best over the other parameters), log x for decades, labels."""
    table = {"params": [{"C": 0.01, "l1_ratio": 0}, {"C": 0.01, "l1_ratio": 1}, {"C": 1.0, "l1_ratio": 0},
                        {"C": 1.0, "l1_ratio": 1}],
             "mean_test_score": [0.8, 0.85, 0.9, None], "std_test_score": [0.01, 0.02, 0.03, None]}
    disp = SearchParamDisplay.from_results(table, "C")
    ax = disp.ax_
    assert disp.figure_ is ax.figure and disp.values == [0.01, 1.0]
    line = ax.lines[0]
    assert list(line.get_xdata()) == [0.01, 1.0]
    assert list(line.get_ydata()) == [0.85, 0.9]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "C" and ax.get_ylabel() == "mean CV accuracy (±1 std)"
    ax2 = SearchParamDisplay.from_results(table, "l1_ratio").ax_
    assert list(ax2.lines[0].get_ydata()) == [0.9, 0.85]


def test_cli_search_json_and_progress(run_cli, tmp_path):
    """`digitlab search --json`: best params, score, results; progress lines on stderr; listed by runs."""
    code, out, err = run_cli("search", "--dataset", "digits", "--test-size", "0.25", "--grid", "C=0.1,1",
                             "--cv", "2", "--jobs", "1", "--no-eval", "--json", "--runs-dir", tmp_path)
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc["best_params"]) == {"C"} and 0.9 < doc["best_score"] < 1
    assert [r["rank"] for r in doc["results"]] == [1, 2]
    lines = [ln for ln in err.splitlines() if ln.startswith("[")]
    assert [ln.split("]")[0] for ln in lines] == ["[1/2", "[2/2"]
    assert "| best" in lines[-1]
    code, out, _ = run_cli("runs", "--json", "--runs-dir", tmp_path)
    assert [r["id"] for r in json.loads(out)] == [doc["run"].rsplit("/", 1)[1]]


@pytest.mark.parametrize("args, code, match", [
    (["--grid", "C=abc"], 2, "--grid C=abc: expected a number"),
    (["--grid", "C"], 2, "--grid: expected KEY=VALUES"),
    (["--dist", "C=loguniform:1e-3:1"], 2, "--dist: need a random search"),
    (["--grid", "C=1", "--cluster", "bogus"], 2, "--cluster bogus: expected tcp://HOST:PORT"),
    (["--grid", "C=1", "--cluster", "tcp://127.0.0.1:9"], 69, "cannot reach the Dask scheduler"),
], ids=["type", "syntax", "dist-no-random", "cluster-syntax", "cluster-unreachable"])
def test_cli_search_errors(run_cli, tmp_path, monkeypatch, args, code, match):
    """Each bad option is one line with its exit code, and no run folder is left behind."""
    monkeypatch.setenv("DIGITLAB_CLUSTER_TIMEOUT", "1")
    got, out, err = run_cli("search", "--dataset", "digits", "--test-size", "0.25", "--jobs", "1",
                            "--runs-dir", tmp_path, *args)
    assert got == code, err
    assert match in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_cluster_from_environment(run_cli, tmp_path, monkeypatch):
    """DIGITLAB_CLUSTER is used when --cluster is not given."""
    monkeypatch.setenv("DIGITLAB_CLUSTER", "tcp://127.0.0.1:9")
    monkeypatch.setenv("DIGITLAB_CLUSTER_TIMEOUT", "1")
    code, _, err = run_cli("search", "--dataset", "digits", "--test-size", "0.25", "--grid", "C=1",
                           "--runs-dir", tmp_path)
    assert code == 69 and "tcp://127.0.0.1:9" in err


def test_search_refuses_values_the_folds_cannot_take(digits, tmp_path, run_cli):
    """H9 in search: a grid value (or a distribution's bound) too big for a fold, or a bad seed, is
    refused before any fit, naming the value; nothing is written."""
    with pytest.raises(ParameterError, match="n_neighbors=5000: more neighbours than the 898 training images"):
        search(digits, "knn", grid={"n_neighbors": ["3", "5000"]}, test_size=0.25, n_jobs=1, runs_dir=tmp_path)
    with pytest.raises(ParameterError, match="n_neighbors=1999: more neighbours"):
        search(digits, "knn", distributions={"n_neighbors": "randint:1:2000"}, n_iter=2, test_size=0.25,
               n_jobs=1, runs_dir=tmp_path)
    with pytest.raises(ParameterError, match=r"seed=-1: must be an integer between 0 and 2\*\*32-1"):
        search(digits, "logreg", grid=GRID, seed=-1, test_size=0.25, n_jobs=1, runs_dir=tmp_path)
    assert not list(tmp_path.iterdir())
    code, out, err = run_cli("search", "--dataset", "digits", "--model", "knn", "--grid", "n_neighbors=3,5000",
                             "--test-size", "0.25", "--jobs", "1", "--runs-dir", tmp_path)
    assert code == 2 and "n_neighbors=5000" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())

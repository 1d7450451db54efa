"""The study's trainings fitted together in one pool give exactly the numbers of one-at-a-time runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitlab import datasets
from digitlab.scheduling import Timeline, _ordered
from digitlab.study import run_study, study_trainings
from digitlab.training import train

# what legitimately differs between two runs of the same training: when, how long, and the model
# file's bytes (its zip entries carry the time of writing; the fitted arrays are compared instead)
_TIMES = {"seconds", "timings", "created", "id", "sha256"}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in _TIMES and not k.endswith("_seconds")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _record(run) -> dict:
    """Everything a run computed: run.json and eval.json without times, and every prediction array."""
    path = run.path
    with np.load(path / "predictions.npz") as z:
        arrays = {k: z[k] for k in z.files}
    model = run.load_model()[-1]
    arrays.update({f"model.{k}": v for k, v in vars(model).items() if isinstance(v, np.ndarray)})
    return {"run": _strip(json.loads((path / "run.json").read_text())),
            "eval": _strip(json.loads((path / "eval.json").read_text())), "arrays": arrays}


def assert_same_runs(runs: dict, steps, ds) -> None:
    """Each run of *runs* equals, number for number, a train() of the same step."""
    assert set(runs) == {key for key, _, _ in steps}
    for key, _, kw in steps:
        together, alone = _record(runs[key]), _record(train(ds, **kw))
        assert together["run"] == alone["run"], key
        assert together["eval"] == alone["eval"], key
        assert together["arrays"].keys() == alone["arrays"].keys()
        for name, arr in alone["arrays"].items():
            np.testing.assert_array_equal(together["arrays"][name], arr, err_msg=f"{key}: {name}")


def test_study_in_one_pool_equals_one_training_at_a_time(tmp_path):
    """Two worker processes (forced: digits alone would run in this process) and this thread
    evaluating alongside: every metric, threshold, prediction and fitted array equals train()'s."""
    res = run_study("digits", out=tmp_path / "study.html", runs_dir=tmp_path / "together", progress=False,
                    n_jobs=2)
    ds = datasets.load("digits")
    # train() fits digits in this process, with all its threads: the pool's calls get as many
    # (float32 sums depend on the thread count); tests/test_study.py compares on MNIST
    assert_same_runs(res.runs, study_trainings(ds, runs_dir=tmp_path / "alone"), ds)
    # the fits ran in two worker processes; this process loaded, evaluated and wrote the report
    spans = res.timeline
    fits = [s for s in spans if ": fit " in s["what"]]
    assert len(fits) == 4 + 4  # detector and logreg: final + 3 folds, in the pool
    assert {s["where"] for s in fits} <= {"worker 1", "worker 2"}
    # the kNN and the dummy (one fit each) are fitted here, as train() fits them
    assert {s["what"] for s in spans if s["what"].endswith(": fit")} == {"knn: fit", "dummy: fit"}
    finishes = [s["what"].split(":")[0] for s in spans if s["where"] == "main" and "evaluation" in s["what"]]
    assert sorted(finishes) == sorted(res.runs)
    assert all(0 <= s["start"] <= s["end"] <= res.seconds + 1 and s["cpu"] >= 0 for s in spans)


def test_digits_study_runs_its_fits_in_this_process(tmp_path):
    """Small data: no pool (starting workers would cost more than the fits)."""
    res = run_study("digits", out=tmp_path / "study.html", runs_dir=tmp_path / "runs", progress=False)
    assert {s["where"] for s in res.timeline} == {"main"}
    assert res.runs["detector"].info.metrics.cv_scores  # and the study is whole


def test_dispatch_order():
    calls = [(("a", 0), 1), (("a", 1), 2), (("b", 0), 3), (("c", 0), 4), (("c", 1), 5)]
    assert [c[1] for c in _ordered(calls, ["a:0", "c", "a"])] == [1, 4, 5, 2, 3]
    assert [c[1] for c in _ordered(calls, [])] == [1, 2, 3, 4, 5]


def test_timeline_names_workers_in_order_and_this_process_main():
    import os

    t = Timeline()
    t.add("x", 111, t.t0 + 1, t.t0 + 2, 0.5)
    t.add("y", 222, t.t0 + 1.5, t.t0 + 3, 1.5)
    t.add("z", 111, t.t0 + 2, t.t0 + 4, 2.0)
    t.add("w", os.getpid(), t.t0, t.t0 + 1, 1.0)
    with t.span("here"):
        pass
    where = {s["what"]: s["where"] for s in t.to_list()}
    assert where == {"x": "worker 1", "y": "worker 2", "z": "worker 1", "w": "main", "here": "main"}
    assert t.spans[0].share == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "2", True])
def test_study_n_jobs_at_the_edge_is_refused_before_any_work(tmp_path, bad):
    from digitlab.exceptions import ParameterError

    with pytest.raises(ParameterError, match=r"^n_jobs="):
        run_study("digits", out=tmp_path / "r.html", runs_dir=tmp_path / "runs", progress=False, n_jobs=bad)
    assert not (tmp_path / "runs").exists()


def test_a_huge_n_jobs_starts_no_more_workers_than_fits():
    """n_jobs=10**6 would start a million processes: the pool never has more workers than calls."""
    from digitlab._progress import Board
    from digitlab.scheduling import Schedule
    from digitlab.training import Training

    t = Training("digits", "logreg", cv=2, test_size=0.25)
    assert Schedule([("a", "a", t)], board=Board(False, 1), n_jobs=10**6).n_jobs == len(t.calls) == 3

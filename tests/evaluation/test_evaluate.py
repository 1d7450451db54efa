"""``digitlab.evaluate``: the Python API, the run files it writes, and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

import digitlab
from digitlab.evaluation import EvalResult, evaluate, evaluate_run, load_result
from digitlab.plots.figure_set import read_index
from digitlab.exceptions import DigitlabError, ModelError, ParameterError
from digitlab.models import make_model

SUMMARY_KEYS = {"test_accuracy", "train_accuracy", "cv_scores", "cv_mean", "dummy_cv_mean"}
DETECTOR_KEYS = {"precision", "recall", "f1", "roc_auc", "threshold_at_target", "recall_at_target"}


@pytest.fixture(scope="module")
def digits_split(digits):
    return digits.train_test(0.25, seed=0)


def test_evaluate_model_and_split_writes_nothing(digits_split, tmp_path, monkeypatch):
    """Check ``evaluate(model, split)`` returns scores consistent with the model and writes no file."""
    monkeypatch.chdir(tmp_path)
    model = make_model("logreg").fit(digits_split.X_train, digits_split.y_train)
    r = digitlab.evaluate(model, digits_split)
    assert r.task == "multiclass" and r.classes == [str(i) for i in range(10)]
    assert r.test_accuracy == model.score(digits_split.X_test, digits_split.y_test)
    assert r.train_accuracy == model.score(digits_split.X_train, digits_split.y_train)
    assert np.array_equal(r.y_pred, model.predict(digits_split.X_test))
    assert np.allclose(r.y_proba, model.predict_proba(digits_split.X_test))
    assert np.array_equal(r.y_proba.argmax(axis=1), r.y_pred)
    assert set(r.summary()) == SUMMARY_KEYS
    assert len(r.cv_scores) == 3 and r.cv_mean == pytest.approx(np.mean(r.cv_scores))
    assert r.dummy_cv_mean < 0.2 < r.cv_mean  # most frequent of 10 balanced classes: about 10%
    assert np.sum(r.confusion_matrix) == len(digits_split.y_test)
    assert list(tmp_path.iterdir()) == []


def test_evaluate_detector_from_python(digits_split):
    """Check ``detect=5``: binary targets, detector scores from CV, threshold at 90% precision."""
    y5 = digits_split.y_train == 5
    model = make_model("sgd", raw_pixels=True).fit(digits_split.X_train, y5)
    r = digitlab.evaluate(model, digits_split, detect=5)
    assert r.is_binary and r.classes == ["not 5", "5"] and r.detect == 5
    assert np.array_equal(r.y_true, (digits_split.y_test == 5).astype(int))
    assert np.allclose(r.y_score, model.decision_function(digits_split.X_test))
    assert set(r.summary()) == SUMMARY_KEYS | DETECTOR_KEYS
    d = r.detector
    assert d["source"] == "cv" and d["target"]["precision"] >= 0.9
    assert r.dummy_cv_mean == pytest.approx(np.mean(~y5), abs=0.01)
    assert r.cv_confusion_matrix[1][1] + r.cv_confusion_matrix[1][0] == y5.sum()


def test_evaluate_target_recall(digits_split):
    """Check a recall target reports precision at the target instead."""
    model = make_model("sgd", raw_pixels=True).fit(digits_split.X_train, digits_split.y_train == 3)
    s = evaluate(model, digits_split, detect=3, target_recall=0.95).summary()
    assert "precision_at_target" in s and "recall_at_target" not in s


def test_evaluate_without_cv(digits_split):
    """Check cv=0: no fold scores, detector scores from the test set."""
    model = make_model("sgd", raw_pixels=True).fit(digits_split.X_train, digits_split.y_train == 5)
    r = evaluate(model, digits_split, detect=5, cv=0)
    assert r.cv_scores == [] and r.cv_mean is None and r.cv_confusion_matrix is None
    assert r.detector["source"] == "test" and "cv_pred" not in r.predictions


def test_eval_result_json_round_trip(digits_run):
    """Check an EvalResult survives to_json/from_json unchanged, and eval.json is that JSON."""
    r = load_result(digits_run)
    again = EvalResult.from_json(r.to_json())
    assert again == r
    assert json.loads((digits_run.path / "eval.json").read_text()) == r.to_dict()


def test_run_files_written(digits_run):
    """Check the run folder: eval.json, predictions.npz keys, figures with captions, run.json metrics."""
    ev = json.loads((digits_run.path / "eval.json").read_text())
    with np.load(digits_run.path / "predictions.npz", allow_pickle=False) as z:
        keys = set(z.files)
        assert z["y_proba"].shape == (ev["n_test"], 10)
        assert z["cv_pred"].shape == (ev["n_train"],)
        assert ev["test_accuracy"] == np.mean(z["y_true"] == z["y_pred"])
    assert {"y_true", "y_pred", "y_proba", "cv_y_true", "cv_pred"} <= keys
    index = read_index(digits_run)
    files = [f["file"] for f in index]
    assert {"figures/confusion.png", "figures/confusion_errors.png", "figures/coefficients.png",
            "figures/errors.png", "figures/proba_bars.png"} <= set(files)
    assert index == json.loads((digits_run.path / "figures" / "figures.json").read_text())
    for f in index:
        png = digits_run.path / f["file"]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f["title"] and f["caption"].endswith(".") and "\n" not in f["caption"]
    assert sorted(p.name for p in (digits_run.path / "figures").iterdir()) == sorted(
        [f.rsplit("/", 1)[1] for f in files] + ["figures.json"])
    meta = json.loads((digits_run.path / "run.json").read_text())
    stored = {k: v for k, v in meta["metrics"].items() if v is not None}  # the record lists every key
    assert stored == {k: v for k, v in EvalResult.from_json(ev).summary().items() if v is not None}
    assert not [p for p in digits_run.path.iterdir() if ".part_" in p.name]


def test_detector_run_files(detector_run):
    """Check a detector run stores decision scores and draws its curves."""
    ev = json.loads((detector_run.path / "eval.json").read_text())
    with np.load(detector_run.path / "predictions.npz") as z:
        assert {"y_score", "cv_score"} <= set(z.files) and "y_proba" not in z.files
        assert np.array_equal(z["cv_pred"], (z["cv_score"] > 0).astype(int))
    names = {f["file"] for f in read_index(detector_run)}
    assert {"figures/precision_recall.png", "figures/precision_recall_threshold.png",
            "figures/roc.png"} <= names
    assert ev["score_kind"] == "decision_function"


def test_reevaluate_replaces_files_and_metrics(digits_run, run_copy):
    """Check evaluating a run again with other settings rewrites eval files and run.json metrics."""
    run = run_copy(digits_run)
    r = evaluate_run(run, cv=2)
    assert len(r.cv_scores) == 2
    assert load_result(run) == r  # what is returned is what was written
    meta = json.loads((run.path / "run.json").read_text())
    assert meta["metrics"]["cv_scores"] == r.cv_scores
    assert meta["model"] == json.loads((digits_run.path / "run.json").read_text())["model"]  # the rest is kept
    assert json.loads((run.path / "eval.json").read_text())["cv"] == 2
    assert list((run.path / "figures").iterdir()) == []  # no stale figures of the old evaluation
    assert not [p for p in run.path.iterdir() if ".part_" in p.name]


def test_unfitted_model_refused(digits_split):
    """Check an unfitted model gives a ModelError, not sklearn's traceback."""
    with pytest.raises(ModelError, match="not fitted"):
        evaluate(make_model("logreg"), digits_split)


def test_8x8_model_on_28x28_data_refused(digits_split, mnist_small):
    """Check a digits model on MNIST data names both image sizes."""
    model = make_model("logreg").fit(digits_split.X_train, digits_split.y_train)
    with pytest.raises(ModelError, match=r"expects 64 pixels \(8×8 images\) but mnist has 784 \(28×28\)") as e:
        evaluate(model, mnist_small)
    assert isinstance(e.value, ValueError) and e.value.exit_code == 65
    assert "\n" not in str(e.value)


def test_detector_evaluated_as_multiclass_refused(digits_split):
    """Check a yes/no model is not silently scored against ten classes."""
    model = make_model("sgd").fit(digits_split.X_train, digits_split.y_train == 5)
    with pytest.raises(ModelError, match="yes/no detector"):
        evaluate(model, digits_split)


@pytest.mark.parametrize("kwargs,match", [({"detect": 12}, "detect=12: must be a class index 0–9"),
                                          ({"cv": 1}, "cv=1: use 0")])
def test_bad_arguments_refused(digits_split, kwargs, match):
    """Check impossible arguments give a ParameterError naming the field."""
    model = make_model("logreg").fit(digits_split.X_train, digits_split.y_train)
    with pytest.raises(ParameterError, match=match):
        evaluate(model, digits_split, **kwargs)


def test_evaluate_run_needs_a_run(tmp_path):
    """Check evaluate_run on something that is not a run folder says so (66)."""
    with pytest.raises(DigitlabError, match="no such run") as e:
        evaluate_run("no-such-run", data_dir=tmp_path)
    assert e.value.exit_code == 66


def test_missing_model_file_python_api(digits_run, run_copy, snapshot):
    """Check evaluate_run(run) without model.skops raises InputMissingError (66) and writes nothing."""
    from digitlab.exceptions import InputMissingError

    run = run_copy(digits_run)
    run.model_path.unlink()
    before = snapshot(run.path)
    with pytest.raises(InputMissingError, match="model not found") as e:
        evaluate_run(run.path)
    assert isinstance(e.value, FileNotFoundError) and e.value.exit_code == 66
    assert snapshot(run.path) == before


def test_tampered_model_file_python_api(digits_run, run_copy, snapshot):
    """Check a modified model file raises ModelError (65) and writes nothing."""
    run = run_copy(digits_run)
    data = bytearray(run.model_path.read_bytes())
    data[-100] ^= 0x01
    run.model_path.write_bytes(bytes(data))
    before = snapshot(run.path)
    with pytest.raises(ModelError, match="corrupted or modified") as e:
        evaluate_run(run.path)
    assert e.value.exit_code == 65
    assert snapshot(run.path) == before


def test_failure_while_drawing_leaves_run_unchanged(digits_run, run_copy, snapshot, monkeypatch):
    """Check an error after scoring (here: while drawing) leaves every file as it was, no temp files."""
    from digitlab.plots import figure_set

    run = run_copy(digits_run)
    before = snapshot(run.path)

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(figure_set, "draw_all", boom)
    with pytest.raises(OSError):
        evaluate_run(run, cv=2, figures=figure_set.drawer(run.load_split().test.images))
    assert snapshot(run.path) == before
    assert not [p for p in run.path.rglob("*") if ".part_" in p.name]


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("k", [2, 4])
def test_knn_labels_from_one_neighbour_search_equal_predict(digits_split, weights, k):
    """Check score() takes kNN labels from predict_proba's argmax and still equals predict (ties too)."""
    from digitlab.evaluation.scoring import score

    model = make_model("knn", {"n_neighbors": k, "weights": weights}).fit(digits_split.X_train, digits_split.y_train)
    clf = model[-1]
    calls = []
    original = type(clf).kneighbors

    def counting(self, *a, **kw):
        calls.append(1)
        return original(self, *a, **kw)

    type(clf).kneighbors = counting
    try:
        scored = score(model, digits_split.X_test, binary=False)
    finally:
        type(clf).kneighbors = original
    assert np.array_equal(scored.y_pred, model.predict(digits_split.X_test))
    assert scored.y_proba is not None and len(calls) <= 1

"""`digitlab train` and `digitlab runs`: runs are written whole, bad input is one line."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "datasets"))  # shared test data makers
from _dataset_factory import image_folder  # noqa: E402


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
    (["--model", "logregg"], "--model logregg: unknown model; did you mean 'logreg'?"),
    (["--param", "Cc=1"], "--param Cc: unknown parameter for model logreg; did you mean 'C'?"),
    (["--param", "C=abc"], "--param C=abc: expected a number"),
    (["--param", "C=-1"], "'C' parameter of"),
    (["--param", "C"], "--param: expected key=value, got 'C'"),
    (["--detect", "12"], "--detect 12: must be a class index 0–9"),
    (["--augment", "shift,blur"], ("--augment shift,blur: unknown kind 'blur'; choose from shift, affine, elastic, "
                                   "thickness (comma-separated)")),
], ids=["model", "unknown-param", "type", "range", "no-equals", "detect", "augment-kind"])
def test_train_usage_errors(run_cli, tmp_path, args, needle):
    """Each usage error: exit 2, one line naming the option, and no run folder."""
    runs = tmp_path / "runs"
    code, out, err = run_cli("train", "--dataset", "digits", "--runs-dir", runs, *args)
    assert code == 2
    assert needle in _one_line(err)
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("args, kinds", [(["--augment"], ["shift"]), (["--augment", "affine,shift"], ["shift", "affine"]),
                                         ([], [])])
def test_train_augment_kinds_recorded(run_cli, tmp_path, args, kinds):
    """Plain --augment (before another option) is the book's shift; kinds combine; run.json says
    which kinds were applied and how (copies for a scikit-learn model)."""
    runs = tmp_path / "runs"
    code, out, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", *args, "--no-eval",
                             "--runs-dir", runs, "--json")
    assert code == 0, err
    split = json.loads((runs / json.loads(out)["id"] / "run.json").read_text())["split"]
    assert split["augment"] == kinds and split["augment_how"] == ("copies" if kinds else "")


def test_train_param_verbose_reaches_the_model(run_cli, tmp_path):
    """`--param verbose=True` was refused as unknown (with "did you mean 'verbose'?"). The model's
    progress lines then go to stderr, so --json output stays parseable."""
    code, out, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--no-eval",
                             "--param", "verbose=True", "--runs-dir", tmp_path, "--json")
    assert code == 0, err
    assert "iter   1" in err
    run_id = json.loads(out)["id"]
    assert json.loads((tmp_path / run_id / "run.json").read_text())["model"]["all_params"]["verbose"] is True


def test_expensive_model_skips_cv_by_default_and_says_so(run_cli, tmp_path):
    """§9: an expensive model (svm: minutes on MNIST, fast on digits) gets no folds unless asked,
    and one line on stderr says so; --cv 3 brings them back; a cheap model keeps its 3 folds."""
    base = ("train", "--dataset", "digits", "--test-size", "0.25", "--runs-dir", tmp_path, "--json")
    code, out, err = run_cli(*base, "--model", "svm")
    assert code == 0, err
    assert err.strip().splitlines() == ["cv: skipped for svm (expensive); pass --cv 3 to cross-validate"]
    assert json.loads(out)["metrics"]["cv_scores"] == []
    code, out, err = run_cli(*base, "--model", "svm", "--cv", "3")
    assert code == 0 and "cv: skipped" not in err
    assert len(json.loads(out)["metrics"]["cv_scores"]) == 3
    code, out, err = run_cli(*base, "--model", "sgd")
    assert code == 0 and "cv: skipped" not in err
    assert len(json.loads(out)["metrics"]["cv_scores"]) == 3


@pytest.mark.torch
def test_cnn_default_has_no_folds_and_evaluate_keeps_it(run_cli, tmp_path):
    """§9: `train --model cnn` used to fit three CV folds and the final CNN at once on 2 cores."""
    pytest.importorskip("torch")
    code, out, err = run_cli("train", "--dataset", "digits", "--model", "cnn", "--limit", "200", "--test-size",
                             "0.25", "--param", "max_epochs=1", "--runs-dir", tmp_path, "--json")
    assert code == 0, err
    assert "cv: skipped for cnn (expensive); pass --cv 3 to cross-validate" in err.splitlines()
    doc = json.loads(out)
    assert doc["metrics"]["cv_scores"] == []
    code, out, err = run_cli("evaluate", doc["run"], "--no-figures", "--json")
    assert code == 0, err
    assert "cv: skipped for cnn (expensive)" in err and json.loads(out)["metrics"]["cv_scores"] == []


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
        training.train("digits", "logreg", test_size=0.25, cv=0, runs_dir=tmp_path)
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


# --------------------------------------------------------------------------- H9: values the data refuses
# Each passes the option parser but used to crash inside scikit-learn with exit 70 ("please
# report"), some only after minutes of fitting. Now: exit 2 (a value to change) or 65 (the data
# itself can't be trained on), one line naming the value, no run written, and no fit started.


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders")
    return {"one-class": image_folder(root / "threes", {"3": 6}),
            "twelve": image_folder(root / "twelve", {f"c{i:02d}": 3 for i in range(12)})}


@pytest.fixture
def no_fit(monkeypatch):
    """Any fit fails the test (as exit 70): the checks must come before the first fit."""
    from sklearn.pipeline import Pipeline

    def fit(self, *args, **kwargs):
        raise AssertionError("a fit started before the values were checked")

    monkeypatch.setattr(Pipeline, "fit", fit)


REFUSED = [
    (["--seed", "-1", "--test-size", "0.25"], 2, "--seed -1: must be an integer between 0 and 2**32-1"),
    (["--seed", "1099511627776", "--test-size", "0.25"], 2, "--seed 1099511627776: must be an integer"),
    (["--limit", "15"], 2, "--cv 3: the smallest class, "),
    (["--test-size", "0.999"], 2, "--test-size 0.999: gives 1 training image of 1,797, fewer than the 10 classes"),
    (["--model", "knn", "--param", "n_neighbors=100000", "--test-size", "0.25"], 2,
     "n_neighbors=100000: more neighbours than the 1,347 training images of digits"),
    (["--model", "knn", "--param", "n_neighbors=1000", "--test-size", "0.25"], 2,
     "n_neighbors=1000: more neighbours than the 898 training images of a cross-validation fold"),
    (["--model", "knn", "--limit", "60"], 2, "pca__n_components=50: more principal components than the 40"),
    (["--model", "mlp", "--param", "hidden_layer_sizes=0", "--test-size", "0.25"], 2,
     "hidden_layer_sizes=(0,): every layer needs a whole number of units"),
    (["--model", "mlp", "--limit", "50", "--cv", "0"], 2, "validation_fraction=0.1: leaves 5 validation images"),
    (["--model", "dummy", "--param", "strategy=constant", "--test-size", "0.25"], 2,
     "strategy='constant': also give constant=<a class>"),
    (["--model", "dummy", "--param", "strategy=constant", "--param", "constant=12", "--test-size", "0.25"], 2,
     "constant=12: not a class of the 1,347 training images of digits"),
    (["--cv", "1", "--test-size", "0.25"], 2, "--cv 1: use 0 to skip cross-validation, or 2 or more folds"),
    (["--model", "knn", "--param", "pca__n_components=0", "--test-size", "0.25"], 2,
     "pca__n_components=0: keep at least 1 component"),
    (["--param", "solver=liblinear", "--test-size", "0.25"], 2,
     "solver='liblinear': fits two classes only (a detector), and the 1,347 training images of digits hold 10"),
]


@pytest.mark.parametrize("args, code, needle", REFUSED,
                         ids=["seed-negative", "seed-2**40", "limit-15", "test-size-0.999", "knn-k-huge",
                              "knn-k-fold", "knn-pca-limit", "mlp-layer-0", "mlp-early-stopping",
                              "dummy-constant", "dummy-constant-12", "cv-1", "pca-0", "liblinear-multiclass"])
def test_train_refuses_values_the_data_cannot_take(run_cli, tmp_path, no_fit, args, code, needle):
    """H9: exit 2 with one line naming the value, nothing fitted, no run folder."""
    runs = tmp_path / "runs"
    got, out, err = run_cli("train", "--dataset", "digits", "--runs-dir", runs, *args)
    assert got == code, err
    assert needle in _one_line(err)
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("which, args, code, needle", [
    ("one-class", [], 65, "the 4 training images of threes are all of class '3'; a classifier needs images "
                          "of at least two classes"),
    ("one-class", ["--model", "dummy", "--cv", "0"], 65, "are all of class '3'"),
    ("twelve", [], 2, "--test-size 0.2: gives 8 test images of 36, fewer than the 12 classes (a stratified "
                      "split needs one of each on both sides); use test_size between 0.334 and 0.666"),
    ("twelve", ["--test-size", "0.5"], 2, "--cv 3: the smallest class, 'c00', has only 1 training image"),
], ids=["one-class", "one-class-dummy", "twelve-classes", "twelve-classes-cv"])
def test_train_refuses_image_folders_too_small(run_cli, tmp_path, no_fit, folders, which, args, code, needle):
    runs = tmp_path / "runs"
    got, out, err = run_cli("train", "--dataset", folders[which], "--runs-dir", runs, *args)
    assert got == code, err
    assert needle in _one_line(err)
    assert not runs.exists() or not any(runs.iterdir())


def test_train_twelve_classes_with_a_split_they_allow(run_cli, tmp_path, folders):
    """The same folder trains once test size and folds fit its 3 images per class."""
    code, out, err = run_cli("train", "--dataset", folders["twelve"], "--test-size", "0.5", "--cv", "0",
                             "--runs-dir", tmp_path, "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["test_accuracy"] is not None


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(seed=-1, test_size=0.25), "ParameterError", r"seed=-1"),
    (dict(seed=2**40, test_size=0.25), "ParameterError", r"seed=1099511627776"),
    (dict(limit=15), "ParameterError", r"cv=3: the smallest class"),
    (dict(test_size=0.999), "ParameterError", r"test_size=0\.999"),
    (dict(model="knn", params={"n_neighbors": 100000}, test_size=0.25), "ParameterError", r"n_neighbors=100000"),
    (dict(model="mlp", params={"hidden_layer_sizes": (64, 0)}, test_size=0.25), "ParameterError",
     r"params\['hidden_layer_sizes'\]=\(64, 0\)"),
    (dict(cv=1, test_size=0.25), "ParameterError", r"cv=1"),
], ids=["seed-negative", "seed-2**40", "limit-15", "test-size-0.999", "knn-k-huge", "mlp-layer-0", "cv-1"])
def test_train_api_raises_typed_errors(tmp_path, no_fit, kwargs, exc, match):
    """The same values through the Python API: a ParameterError (a ValueError), nothing written."""
    import digitlab
    from digitlab import exceptions

    kwargs = {"model": "logreg", **kwargs}
    with pytest.raises(getattr(exceptions, exc), match=match):
        digitlab.train("digits", runs_dir=tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_train_api_single_class_is_a_data_error(tmp_path, no_fit, folders):
    import digitlab
    from digitlab.exceptions import DataError

    with pytest.raises(DataError, match="all of class '3'"):
        digitlab.train(str(folders["one-class"]), "logreg", runs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_split_api_checks_seed_and_sizes(digits):
    from digitlab.exceptions import DataError, ParameterError

    with pytest.raises(ParameterError, match=r"seed=-1"):
        digits.train_test(0.25, seed=-1)
    with pytest.raises(ParameterError, match=r"seed=4294967296"):
        digits.train_test(0.25, seed=2**32)
    assert len(digits.train_test(0.25, seed=2**32 - 1).test) == 450  # the top of the range works
    with pytest.raises(ParameterError, match=r"test_size=1\.5: must be between 0 and 1"):
        digits.train_test(1.5)
    with pytest.raises(ParameterError, match=r"test_size=5: gives 5 test images of 1,797, fewer than the 10"):
        digits.train_test(5)
    with pytest.raises(ParameterError, match=r"limit=0"):
        digits.train_test(0.25, limit=0)
    lonely = digits.subset(np.r_[np.flatnonzero(digits.labels != 7), np.flatnonzero(digits.labels == 7)[:1]])
    with pytest.raises(DataError, match=r"class '7' has only 1 image"):
        lonely.train_test(0.25)
    assert len(lonely.train_test(0.25, stratify=False).train) > 0  # unstratified, the single 7 is fine


def test_split_limit_keeping_almost_everything(tmp_path):
    """Found by the property test: --limit 15 of 24 training images in 12 classes drops 9, fewer
    than the classes, and the stratified subset raised ValueError (exit 70)."""
    from digitlab import datasets

    ds = datasets.load(str(image_folder(tmp_path / "twelve", {f"c{i:02d}": 4 for i in range(12)})))
    split = ds.train_test(0.5, seed=0)
    assert len(split.train) == 24
    small = split.limit(15, seed=0)
    assert len(small.train) == 15 and len(small.test) == 15


@pytest.mark.parametrize("name", ["$x^{2$", r"$\frac{$", "a$b$"], ids=["unclosed-group", "bad-command", "dollars"])
def test_attack_class_folder_named_like_a_formula_is_drawn_as_text(run_cli, tmp_path, name):
    """Check a class sub-folder whose name matplotlib would parse as a formula (`$...$`): train
    draws every figure with the name as plain text (it ended in 'unexpected internal error',
    exit 70), and so do `data show` and `data hist`."""
    data = image_folder(tmp_path / "data", {name: 12, "one": 12})
    code, out, err = run_cli("train", "--dataset", data, "--model", "logreg", "--cv", "2",
                             "--runs-dir", tmp_path / "runs", "--json")
    assert code == 0, err
    figures = tmp_path / "runs" / json.loads(out)["id"] / "figures"
    assert len(list(figures.glob("*.png"))) >= 4
    for command in ("show", "hist"):
        code, _, err = run_cli("data", command, data, "-o", tmp_path / f"{command}.png")
        assert code == 0 and (tmp_path / f"{command}.png").stat().st_size > 0, err

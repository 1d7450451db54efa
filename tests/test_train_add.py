"""``train --add DIR``: MNIST plus the user's collected digits, scored on the held-out ones separately."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitlab import datasets, training
from digitlab.datasets import Collection
from digitlab.evaluation import load_result
from digitlab.exceptions import DataError

QUICK = dict(limit=1000, cv=0, figures=False)


@pytest.fixture(autouse=True)
def _needs_mnist(mnist_dir):
    """Every test here trains on MNIST (skipped without the files)."""


@pytest.fixture(scope="module")
def rotated(tmp_path_factory, mnist):
    """A collection of 60 MNIST test digits turned 90°: a "handwriting" the training set never shows."""
    folder = tmp_path_factory.mktemp("col") / "mine"
    c = Collection.open(folder)
    for i in range(60):
        c.add(np.rot90(mnist.images[60000 + i]).copy(), str(mnist.labels[60000 + i]))
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mnist, rotated):
    """The same 1-NN model on 1,000 MNIST images, with and without the collection added."""
    root = tmp_path_factory.mktemp("runs")
    params = {"n_neighbors": 1}
    with_add = training.train(mnist, "knn", params=params, runs_dir=root, add=rotated, **QUICK)
    without = training.train(mnist, "knn", params=params, runs_dir=root, **QUICK)
    return with_add, without


def test_train_add_learns_the_added_handwriting(runs):
    """Check the held-out added digits are read far better by the run trained with them."""
    with_add, without = runs
    held = with_add.load_split().added
    assert len(held) == 15  # a quarter of 60
    before = float(np.mean(without.load_model().predict(held.X) == held.y))
    after = with_add.metrics()["added_accuracy"]
    assert after >= before + 0.3, (before, after)
    assert with_add.metrics()["added_test_n"] == 15


def test_train_add_records_and_rebuilds_the_split(runs, mnist, rotated):
    """Check run.json records the added samples, the split is rebuilt exactly, and the test set is MNIST's."""
    with_add, without = runs
    add = with_add.info.split.add
    assert (add.n, add.n_train, add.n_test, add.name) == (60, 45, 15, "mine")
    assert add.ref == str(rotated.resolve()) and add.checksums == datasets.load(rotated).checksums
    assert with_add.info.split.n_train == without.info.split.n_train + 45
    split = with_add.load_split()
    assert len(split.train) == 1045 and split.n_added_train == 45
    assert np.array_equal(split.test.images, without.load_split().test.images)
    # the held-out digits are not in the training set
    train_rows = {r.tobytes() for r in split.train.images}
    assert not any(r.tobytes() in train_rows for r in split.added.images)
    result = load_result(with_add)
    assert result.added.n_test == 15 and result.added.accuracy == with_add.metrics()["added_accuracy"]
    assert sum(p["n"] for p in result.added.per_class) == 15
    assert load_result(without).added is None and without.metrics()["added_accuracy"] is None


def test_train_add_split_refused_after_the_collection_changed(runs, rotated, tmp_path):
    """Check a run whose collection grew since cannot silently rebuild another split (65)."""
    import shutil

    from digitlab.runs import read_run

    with_add, _ = runs
    copy = tmp_path / "copy"
    shutil.copytree(rotated, copy)
    run = read_run(with_add.path)
    info = run.info
    import msgspec

    run.info = msgspec.structs.replace(info, split=msgspec.structs.replace(
        info.split, add=msgspec.structs.replace(info.split.add, ref=str(copy))))
    Collection(copy).add(np.full((28, 28), 7, np.uint8), "7")
    with pytest.raises(DataError, match="the added samples changed since run"):
        run.load_split()


def test_train_add_few_samples_none_held_out(tmp_path, mnist):
    """Check with fewer than 4 added samples all are trained on and no added accuracy is claimed."""
    c = Collection.open(tmp_path / "few")
    for i in range(3):
        c.add(mnist.images[60000 + i], str(mnist.labels[60000 + i]))
    run = training.train(mnist, "dummy", runs_dir=tmp_path / "runs", add=tmp_path / "few", **QUICK)
    assert (run.info.split.add.n_train, run.info.split.add.n_test) == (3, 0)
    assert run.metrics()["added_accuracy"] is None and run.metrics()["added_test_n"] == 0


def test_train_add_cli_output_and_json(run_cli, runs, rotated, tmp_path):
    """Check `train --add` prints the added accuracy line and --json carries it."""
    code, out, err = run_cli("train", "--dataset", "mnist", "--model", "knn", "--param", "n_neighbors=1",
                             "--limit", "1000", "--cv", "0", "--add", rotated, "--runs-dir", tmp_path)
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.strip().startswith("added accuracy"))
    assert "on 15 held out; trained on 45 added from mine" in line
    code, out, err = run_cli("train", "--dataset", "mnist", "--model", "dummy", "--limit", "1000", "--cv", "0",
                             "--add", rotated, "--runs-dir", tmp_path, "--json")
    assert code == 0, err
    m = json.loads(out)["metrics"]
    assert m["added_test_n"] == 15 and 0 <= m["added_accuracy"] <= 1


def test_train_add_other_image_size_cli(run_cli, rotated, tmp_path):
    """--add of 28x28 digits to the 8x8 `digits`: one line naming --add, exit 65, no run written."""
    code, _, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--add", rotated,
                           "--runs-dir", tmp_path / "runs")
    assert code == 65, err
    assert err.strip() == (f"digitlab: error: --add {rotated}: its images are 28×28, digits's are 8×8; "
                           "added samples need the dataset's image size")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_train_add_other_classes_empty_or_missing(run_cli, tmp_path):
    """--add of named classes (65), of an empty collection (65), of a missing folder (66)."""
    from PIL import Image

    for name in ("cat", "bird"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        a = np.zeros((40, 40), np.uint8)
        a[10:30, 15:25] = 255
        Image.fromarray(a).save(tmp_path / "pets" / name / "a.png")
    args = ("train", "--dataset", "mnist", "--limit", "500", "--no-eval", "--runs-dir", tmp_path / "runs")
    code, _, err = run_cli(*args, "--add", tmp_path / "pets")
    assert code == 65 and "its classes are bird, cat, mnist's are 0, 1," in err, err
    Collection.open(tmp_path / "empty")
    code, _, err = run_cli(*args, "--add", tmp_path / "empty")
    assert code == 65 and "no samples yet" in err, err
    code, _, err = run_cli(*args, "--add", tmp_path / "nope")
    assert code == 66 and "nope" in err, err
    assert len(err.strip().splitlines()) == 1


def test_train_add_report_shows_the_added_accuracy(runs, tmp_path):
    """Check the report's score table has the added accuracy with its count."""
    import digitlab

    with_add, _ = runs
    out = digitlab.report([with_add], tmp_path / "r.html")
    html = out.read_text() if hasattr(out, "read_text") else (tmp_path / "r.html").read_text()
    assert "Accuracy on added samples" in html
    assert f"{with_add.metrics()['added_accuracy']:.4f}" in html
    assert "15 of the 60 samples added from mine were held out" in html

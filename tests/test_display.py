"""Jupyter's rich displays (``_repr_html_``) of digitlab's objects: what they show, and that every
user-provided name reaches the page as text, never as markup."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import pytest

import digitlab
from digitlab import datasets
from digitlab.evaluation import load_result
from digitlab.runs import read_run
from digitlab.searching import search_results

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class _Page(HTMLParser):
    """The tags, attributes and visible text of an HTML fragment, as a browser would parse it."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []
        self.feed(html)
        self.close()
        self.text = " ".join(self.text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]

    def handle_data(self, data):
        self.text.append(data)


def page(obj) -> _Page:
    html = obj._repr_html_()
    assert isinstance(html, str) and html.startswith("<div")
    return _Page(html)


def assert_inert(p: _Page):
    assert "script" not in p.tags
    assert "img" not in p.tags or all(not a.startswith("on") for a in p.attrs)
    assert not [a for a in p.attrs if a.startswith("on")]


def test_dataset_display_shows_facts_and_a_small_strip_of_the_first_images(mnist):
    p = page(mnist)
    assert "70,000 of 28×28 pixels" in p.text and "first 60,000 train" in p.text
    assert "verified against the registry" in p.text
    assert "labels: 5 0 4 1 9 2 1 3 1 4" in p.text  # MNIST's first training labels
    m = re.search(r'src="data:image/png;base64,([^"]+)"', mnist._repr_html_())
    png = base64.b64decode(m.group(1))
    assert len(png) <= 30_000
    from io import BytesIO

    from PIL import Image

    img = Image.open(BytesIO(png))
    assert img.size == (16 * 28 * 2, 28 * 2)  # 16 digits side by side, doubled
    # dark ink on white, as the notebooks' binary colormap: the first digit's background is white
    assert np.asarray(img)[0, 0] == 255
    assert repr(mnist).startswith("Dataset('mnist'")


def test_split_display_counts_each_side(digits):
    split = digits.train_test(0.25, seed=0)
    p = page(split)
    assert "1,347 train / 450 test" in p.text and "test_size=0.25" in p.text
    assert repr(split) == "Split('digits', 'stratified, test_size=0.25, seed=0', n_train=1,347, n_test=450)"


def test_run_display_shows_the_fit_and_detector_scores(detector_run):
    p = page(detector_run)
    m = detector_run.info.metrics
    assert f"{m.precision:.4f}" in p.text and f"{m.recall:.4f}" in p.text and f"{m.f1:.4f}" in p.text
    assert f"{m.threshold_at_target:.2f}" in p.text and "threshold (target precision)" in p.text
    assert "detect 5" in p.text and "raw pixels" in p.text
    assert "converged" in p.text and "iterations" in p.text
    assert ", ".join(f"{s:.5f}" for s in m.cv_scores) in p.text
    r = repr(detector_run)
    assert r.startswith(f"Run({detector_run.id!r}, 'digits', 'sgd', detect=5, f1=") and len(r) < 120


def test_eval_display_has_scores_confusion_matrices_and_per_class_table(digits_run, detector_run):
    ev = load_result(digits_run)
    html = ev._repr_html_()
    p = _Page(html)
    assert f"{ev.test_accuracy:.4f}" in p.text
    # every cell of the test confusion matrix, and one row per class
    cm = np.array(ev.confusion_matrix)
    assert cm.sum() == 450 and html.count("confusion matrix on the test set") == 1
    first_row = re.search(r"on the test set</caption>.*?</tr><tr>(.*?)</tr>", html).group(1)
    assert [int(c) for c in re.findall(r">(\d+)</td>", first_row)] == cm[0].tolist()
    assert len(re.findall(r"<tr><td[^>]*>\d</td>", html)) == 10  # per-class rows "0".."9"
    det = load_result(detector_run)
    p = page(det)
    assert "cross-validated predictions" in p.text and "threshold for precision ≥ 0.9" in p.text
    assert repr(det).startswith("EvalResult(detect '5', n_test=450")


def test_runs_listing_display_and_frame(digits_run, detector_run, tmp_path):
    import shutil

    for r in (digits_run, detector_run):
        shutil.copytree(r.path, tmp_path / r.id)
    (tmp_path / "broken-run").mkdir()
    (tmp_path / "broken-run" / "run.json").write_text("{")
    runs = digitlab.list_runs(tmp_path)
    assert isinstance(runs, list) and [r.id for r in runs] == sorted([digits_run.id, detector_run.id])
    assert [b.id for b in runs.bad] == ["broken-run"]
    p = page(runs)
    assert "2 runs" in p.text and digits_run.id in p.text and "not usable: broken-run" in p.text
    assert repr(runs).startswith("Runs(2 runs, 1 not usable:")
    pd = pytest.importorskip("pandas")
    frame = runs.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == [r.id for r in runs]
    assert frame.loc[digits_run.id, "accuracy"] == digits_run.info.metrics.test_accuracy
    assert frame.loc[detector_run.id, "task"] == "detect 5"


def test_runs_to_frame_without_pandas_says_how_to_install(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now raises ImportError
    with pytest.raises(ImportError, match="pip install pandas"):
        digitlab.list_runs(tmp_path).to_frame()


@pytest.fixture(scope="module")
def evil_dataset(digits):
    """digits with hostile names: the dataset and one class are named like markup."""
    classes = tuple(EVIL if c == "5" else c for c in digits.classes)
    return replace(digits, name=EVIL, classes=classes, source=EVIL)


def test_attack_hostile_names_are_shown_as_text_everywhere(evil_dataset, tmp_path):
    """A class or dataset named `<script>…` shows as text in every display, never as markup."""
    split = evil_dataset.train_test(0.25, seed=0)
    run = digitlab.train(evil_dataset, "sgd", detect=5, raw_pixels=True, test_size=0.25, cv=2,
                         runs_dir=tmp_path)
    multi = digitlab.train(evil_dataset, "logreg", test_size=0.25, cv=0, figures=False, runs_dir=tmp_path)
    for obj in (evil_dataset, split, run, multi, load_result(run), load_result(multi), digitlab.list_runs(tmp_path)):
        p = page(obj)
        assert_inert(p)
        assert EVIL in p.text, type(obj).__name__  # shown, as text


def test_attack_hostile_search_json_is_shown_as_text(tmp_path, digits):
    run = digitlab.search(digits, "logreg", grid={"C": [0.1, 1.0]}, test_size=0.25, n_jobs=1,
                          runs_dir=tmp_path, evaluate=False)
    res = search_results(run)
    assert [r["rank"] for r in res.rows] == [1, 2]
    assert res.rows[0]["mean_test_score"] >= res.rows[1]["mean_test_score"]
    assert res.best_params == run.info.search.best_params
    p = page(res)
    assert "2 candidates" in p.text and f"{res.best_score:.4f}" in p.text
    # a search.json from elsewhere, with markup in a parameter name and value
    rec = json.loads((run.path / "search.json").read_text())
    rec["results"][0]["params"] = {EVIL: EVIL}
    rec["best_params"] = {EVIL: EVIL}
    rec["scoring"] = EVIL
    (run.path / "search.json").write_text(json.dumps(rec))
    p = page(search_results(read_run(run.path)))
    assert_inert(p)
    assert EVIL in p.text

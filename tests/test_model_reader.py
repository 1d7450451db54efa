"""The strict model reader: every registry model round-trips, and its allow-list is exact."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from digitlab import _skops_reader as reader
from digitlab.models import available_models, get_spec, make_model
from digitlab.persist import load_model, save_model

# every registry model, plus the parameter choices that put other classes or Cython objects inside
VARIANTS = [(name, None) for name in available_models()] + [
    ("logreg", {"l1_ratio": 1, "solver": "saga", "C": 50, "tol": 0.01}),  # sklearn's LogisticRegression
    ("sgd", {"loss": "log_loss"}), ("sgd", {"loss": "modified_huber"}), ("sgd", {"loss": "huber"}),
    ("knn", {"algorithm": "kd_tree"}), ("knn", {"algorithm": "ball_tree"}),
    ("mlp", {"solver": "sgd"}),
]
CNNS = {name for name in available_models() if get_spec(name).needs == "torch"}
FAST = {"forest": {"n_estimators": 5}, "mlp": {"max_iter": 3}} | {name: {"max_epochs": 1, "min_steps": 0} for name in CNNS}


def _fit(name, params, digits):
    if name in CNNS:
        pytest.importorskip("torch")
    params = {**FAST.get(name, {}), **(params or {})}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 3-iteration MLP has not converged; that is the point
        return make_model(name, params).fit(digits.X, digits.y)


def _classes_in(path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    found = set()

    def walk(n):
        if isinstance(n, dict):
            if n.get("__loader__") == "ObjectNode":
                name = f"{n['__module__']}.{n['__class__']}"
                found.add(name)
                if name in reader.NEIGHBOUR_TREES:
                    return  # never read (rebuilt), so what it holds is never constructed
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)
    walk(schema)
    return found


@pytest.fixture(scope="module")
def saved(tmp_path_factory, digits):
    """{(name, params-json): (fitted model, saved path)} for every variant."""
    out = {}
    folder = tmp_path_factory.mktemp("models")
    for i, (name, params) in enumerate(VARIANTS):
        if name in CNNS:
            try:
                import torch  # noqa: F401
            except ImportError:
                continue
        model = _fit(name, params, digits)
        path = folder / f"{i}-{name}.skops"
        save_model(model, path)
        out[(name, json.dumps(params))] = (model, path)
    return out


@pytest.mark.parametrize("name, params", VARIANTS, ids=[f"{n}-{json.dumps(p)}" for n, p in VARIANTS])
def test_every_registry_model_round_trips(saved, digits, name, params):
    """Loaded through the strict reader, a model predicts exactly as the one that was saved."""
    key = (name, json.dumps(params))
    if key not in saved:
        pytest.skip("needs torch")
    model, path = saved[key]
    loaded = load_model(path)
    assert type(loaded) is type(model) and [n for n, _ in loaded.steps] == [n for n, _ in model.steps]
    np.testing.assert_array_equal(loaded.predict(digits.X), model.predict(digits.X))
    for method in ("predict_proba", "decision_function"):
        if hasattr(model, method):
            np.testing.assert_allclose(getattr(loaded, method)(digits.X), getattr(model, method)(digits.X))


def test_allow_list_is_exactly_what_the_registry_builds(saved):
    """Every class the registry's models contain is allowed, and nothing else is."""
    seen = set().union(*(_classes_in(p) for _, p in saved.values())) - reader.NEIGHBOUR_TREES
    expected = set(reader.ALLOWED)
    if not any(n in CNNS for n, _ in saved):
        expected.discard("digitlab.models.cnn.CNNClassifier")
    assert seen == expected


def test_loading_does_not_import_skops(saved, tmp_path):
    """Loading needs neither skops nor its ~1.7 s scan of scikit-learn."""
    _, path = saved[("logreg", json.dumps(None))]
    code = ("import sys; from digitlab.persist import load_model; m = load_model(sys.argv[1]); "
            "print('skops' in sys.modules, type(m).__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "Pipeline"]


def test_neighbour_tree_is_rebuilt_not_read(saved):
    """A k-d tree's arrays never come from the file: it is rebuilt from the training data."""
    model, path = saved[("knn", json.dumps({"algorithm": "kd_tree"}))]
    loaded = load_model(path)
    tree = loaded[-1]._tree
    assert type(tree).__name__ == "KDTree"
    np.testing.assert_array_equal(np.asarray(tree.data), loaded[-1]._fit_X)


def test_array_header_claiming_more_than_the_member_holds(saved, tmp_path):
    """An .npy header claiming a huge shape is refused before numpy allocates it."""
    _, path = saved[("logreg", json.dumps(None))]
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    name = next(n for n in members if n.endswith(".npy"))
    header = members[name]
    i = header.index(b"'shape': (") + len(b"'shape': (")
    j = header.index(b")", i)
    forged = header[:i] + b"4000000000, 4000000000" + header[j:]
    members[name] = forged
    target = tmp_path / "forged.skops"
    with zipfile.ZipFile(target, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    from digitlab.exceptions import ModelError

    with pytest.raises(ModelError, match="corrupted or modified.*header claims"):
        load_model(target)


@pytest.mark.parametrize("protocol", [1, 3, "2", None])
def test_other_skops_protocols_are_refused(saved, tmp_path, protocol):
    """Only the node format this reader implements is read; the protocol is under the file's control."""
    _, path = saved[("logreg", json.dumps(None))]
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(members["schema.json"])
    schema["protocol"] = protocol
    members["schema.json"] = json.dumps(schema).encode()
    target = tmp_path / "p.skops"
    with zipfile.ZipFile(target, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    from digitlab.exceptions import ModelError

    with pytest.raises(ModelError, match="skops protocol"):
        load_model(target)

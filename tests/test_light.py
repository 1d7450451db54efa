"""Numpy-only prediction for linear runs (issue 14 §1): `predict` does not pay for importing
scikit-learn, and answers exactly as the full model does."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import digitlab
from digitlab._light import LinearPipeline, linear_pipeline
from digitlab.runs import read_run


@pytest.fixture(scope="module")
def linear_runs(tmp_path_factory, mnist):
    root = tmp_path_factory.mktemp("light-runs")
    quick = dict(limit=3000, seed=0, cv=0, figures=False, runs_dir=root)
    return {
        "logreg": digitlab.train(mnist, "logreg", **quick),
        "sgd": digitlab.train(mnist, "sgd", **quick),
        "detector": digitlab.train(mnist, "sgd", detect=5, raw_pixels=True, **quick),
        "logreg-detector": digitlab.train(mnist, "logreg", detect=5, **quick),
        "knn": digitlab.train(mnist, "knn", limit=3000, seed=0, evaluate=False, runs_dir=root),
    }


@pytest.mark.parametrize("name", ["logreg", "sgd", "detector", "logreg-detector"])
def test_light_model_answers_as_the_full_model(linear_runs, mnist, name):
    run = linear_runs[name]
    light, full = run.load_model(light=True), run.load_model()
    assert isinstance(light, LinearPipeline) and not isinstance(full, LinearPipeline)
    X = mnist.train_test().X_test  # all 10,000 test images
    np.testing.assert_array_equal(light.predict(X), full.predict(X))
    np.testing.assert_allclose(light.decision_function(X), full.decision_function(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(light.classes_, full.classes_)
    assert light.n_features_in_ == full.n_features_in_ == 784
    assert hasattr(light, "predict_proba") == hasattr(full, "predict_proba")
    if hasattr(full, "predict_proba"):
        np.testing.assert_allclose(light.predict_proba(X), full.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_other_models_load_in_full(linear_runs):
    assert not isinstance(linear_runs["knn"].load_model(light=True), LinearPipeline)


def test_predict_path_imports_no_sklearn(linear_runs, tmp_path):
    """The point of it: a fresh process predicting with a logreg run never imports scikit-learn."""
    from PIL import Image

    png = tmp_path / "one.png"
    img = np.zeros((28, 28), np.uint8)
    img[5:23, 13:15] = 255
    Image.fromarray(img).save(png)
    code = textwrap.dedent(f"""
        import sys
        from digitlab.predicting import Predictor
        p = Predictor.from_run({str(linear_runs["logreg"].path)!r})
        print(p.predict_files([{str(png)!r}])[0].prediction, "sklearn" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "False"]


def test_a_part_saved_by_another_sklearn_version_is_not_light(linear_runs):
    """The full reader then refuses it (or loads it with --allow-version-mismatch)."""
    import zipfile

    from digitlab import _skops_reader as reader

    run = linear_runs["sgd"]
    with zipfile.ZipFile(run.model_path) as zf:
        plain = reader._PlainBuilder(zf).build(reader._schema(zf, "m"))
    import sklearn

    assert linear_pipeline(plain, sklearn.__version__) is not None
    major, minor = sklearn.__version__.split(".")[:2]
    assert linear_pipeline(plain, f"{major}.{int(minor) + 1}.0") is None


def test_light_loading_keeps_every_check(linear_runs, tmp_path):
    """The SHA-256 and run.json checks come before the light reader: a modified file is refused."""
    import shutil

    from digitlab.exceptions import ModelError

    copy = tmp_path / linear_runs["logreg"].id
    shutil.copytree(linear_runs["logreg"].path, copy)
    data = bytearray((copy / "model.skops").read_bytes())
    data[len(data) // 2] ^= 1  # inside a member: the zip directory stays valid
    (copy / "model.skops").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256 differs"):
        read_run(copy).load_model(light=True)


@pytest.mark.parametrize("light", [True, False])
def test_non_finite_weights_are_refused_when_loading(linear_runs, tmp_path, light):
    """A run whose model (SHA-256 updated to match) holds a NaN weight: exit 65 at load, not an
    internal error at the first prediction — through the numpy-only reader and the full one."""
    import shutil

    import msgspec

    from digitlab.exceptions import ModelError
    from digitlab.persist import save_model
    from digitlab.runs import write_description

    copy = tmp_path / linear_runs["logreg"].id
    shutil.copytree(linear_runs["logreg"].path, copy)
    run = read_run(copy)
    model = run.load_model()
    model[-1].coef_[0, 0] = np.nan
    sha = save_model(model, run.model_path)
    write_description(copy, msgspec.structs.replace(run.info, model=msgspec.structs.replace(run.info.model,
                                                                                          sha256=sha)))
    with pytest.raises(ModelError, match=r"coef_ holds NaN or infinity"):
        read_run(copy).load_model(light=light)

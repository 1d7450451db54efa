"""H1: hostile model files are refused before anything is constructed, and nothing they name runs.

The corpus (``_model_corpus.py``) hides payloads in a real run's ``model.skops``; each must be
refused by the Python API (``ModelError``), by the CLI (exit 65, one line) and by the web app
(HTTP 4xx), and the payload's effect (a marker file created, a victim file or folder deleted) must
never appear. A guard test shows the payloads are live: skops' own loader, told to trust the types
the file names (what an allow-list by prefix amounted to), runs them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _model_corpus as mc  # noqa: E402

from digitlab.exceptions import ModelError  # noqa: E402
from digitlab.runs import read_run  # noqa: E402

ENTRIES = sorted(mc.corpus(mc.Effect(Path("/nonexistent"))))
TREE_ENTRIES = sorted(mc.tree_payloads())


@pytest.fixture(scope="module")
def logreg_run(tmp_path_factory, digits):
    from digitlab import train

    return train(digits, "logreg", test_size=0.25, evaluate=False, runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def forest_run(tmp_path_factory, digits):
    from digitlab import train

    return train(digits, "forest", params={"n_estimators": 3, "n_jobs": 1}, test_size=0.25, evaluate=False,
                 runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory, digits):
    from PIL import Image

    path = tmp_path_factory.mktemp("img") / "digit.png"
    Image.fromarray(digits.X[0].reshape(8, 8) * 16).resize((64, 64)).save(path)
    return path


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digitlab: error:") and "Traceback" not in err, err
    return lines[0]


def _refused_everywhere(run_dir: Path, effect: mc.Effect, run_cli, digit_png):
    with pytest.raises(ModelError):
        read_run(run_dir).load_model()
    assert not effect.happened()
    code, _, err = run_cli("predict", run_dir, digit_png)
    assert code == 65, err
    _one_line(err)
    assert not effect.happened()

    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    with TestClient(create_app(run_dir.parent), base_url="http://127.0.0.1") as client:
        r = client.post(f"/api/predict?run={run_dir.name}", content=digit_png.read_bytes(),
                        headers={"content-type": "image/png"})
    assert 400 <= r.status_code < 500 and set(r.json()) == {"error", "detail"}, r.text
    assert not effect.happened()


@pytest.mark.parametrize("entry", ENTRIES)
def test_hostile_model_is_refused(entry, logreg_run, tmp_path, run_cli, digit_png):
    """Every corpus entry: ModelError, exit 65, HTTP 4xx; its effect never happens."""
    effect = mc.Effect(tmp_path / "home")
    effect.arm()
    run_dir = mc.copy_run(logreg_run.path, tmp_path / "runs", logreg_run.id)
    mc.install(run_dir, mc.corpus(effect)[entry])
    _refused_everywhere(run_dir, effect, run_cli, digit_png)


@pytest.mark.parametrize("entry", TREE_ENTRIES)
def test_memory_unsafe_tree_is_refused(entry, forest_run, tmp_path, run_cli, digit_png):
    """A forest whose node arrays would make scikit-learn read out of bounds or loop forever."""
    effect = mc.Effect(tmp_path / "home")
    effect.arm()
    run_dir = mc.copy_run(forest_run.path, tmp_path / "runs", forest_run.id)
    mc.install_members(run_dir, mc.tree_payloads()[entry])
    with pytest.raises(ModelError, match="corrupted or modified"):
        read_run(run_dir).load_model()
    code, _, err = run_cli("predict", run_dir, digit_png)
    assert code == 65 and "corrupted or modified" in _one_line(err)


def test_the_untouched_runs_load_and_predict(logreg_run, forest_run, digits):
    """The corpus' base runs are real, working models (so refusals are about the payloads)."""
    for run in (logreg_run, forest_run):
        assert read_run(run.path).load_model().predict(digits.X[:5]).shape == (5,)


LIVE = ["sklearn.check_output@pipeline-attr", "sklearn.os.remove@list", "scipy.shutil.rmtree@deep",
        "digitlab.write_text@param", "builtins.eval@pipeline-attr", "numpy.load-pickle@pipeline-attr",
        "functools.reduce-exec@list", "operator.call-exec@deep", "dict-key.sklearn-os.remove",
        "dict-key.builtins-eval", "loss-node.check_output"]


@pytest.mark.parametrize("entry", LIVE)
def test_guard_payloads_are_live_in_a_trust_everything_loader(entry, logreg_run, tmp_path):
    """Guard: loaded by skops trusting the names the file lists, the payload's effect happens."""
    effect = mc.Effect(tmp_path / "home")
    effect.arm()
    run_dir = mc.copy_run(logreg_run.path, tmp_path / "runs", logreg_run.id)
    mc.install(run_dir, mc.corpus(effect)[entry])
    code = ("import sys, skops.io as sio; p = sys.argv[1]\n"
            "try:\n    sio.load(p, trusted=sio.get_untrusted_types(file=p))\nexcept Exception:\n    pass\n")
    subprocess.run([sys.executable, "-c", code, str(run_dir / "model.skops")], cwd=tmp_path, timeout=120,
                   capture_output=True)
    assert effect.happened(), entry


def test_corpus_covers_the_issue(logreg_run):
    """The corpus has every family the issue names, at every position."""
    names = " ".join(ENTRIES)
    for family in ("sklearn.", "numpy.", "scipy.", "digitlab.", "builtins.eval", "builtins.exec",
                   "builtins.getattr", "builtins.__import__", "numpy.load-pickle", "operator.", "functools.",
                   "@pipeline-attr", "@list", "@param", "@deep", "dict-key.", "loss-node.", "tree-node."):
        assert family in names, family
    assert len(ENTRIES) >= 80


def test_corpus_entries_change_the_file(logreg_run, tmp_path):
    """Each entry really rewrites the model (no entry is a no-op)."""
    effect = mc.Effect(tmp_path / "home")
    original = json.loads(mc.read_members(logreg_run.path / "model.skops")["schema.json"])
    for entry, mutate in mc.corpus(effect).items():
        schema = json.loads(json.dumps(original))
        mutate(schema)
        assert schema != original, entry

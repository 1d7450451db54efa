"""Shared fixtures: real MNIST (through DIGITLAB_DATA_DIR or ../shared), figures, isolated caches."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]


def _mnist_dir() -> Path | None:
    env = os.environ.get("DIGITLAB_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data" / "mnist"]:
        if (cand / "train-labels-idx1-ubyte.gz").exists() or (cand / "train-labels-idx1-ubyte").exists():
            return cand
    return None


MNIST_DIR = _mnist_dir()
needs_mnist = pytest.mark.skipif(MNIST_DIR is None, reason="MNIST files not available (set DIGITLAB_DATA_DIR)")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if MNIST_DIR is None:
        pytest.skip("MNIST files not available (set DIGITLAB_DATA_DIR)")
    return MNIST_DIR


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """Full MNIST (70,000 images), loaded once per session. Do not modify."""
    from digitlab import datasets

    return datasets.load("mnist", data_dir=mnist_dir, download=False)


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """A stratified 3,000 / 500 split of MNIST for fast tests."""
    return mnist.train_test().limit(3000, seed=0)


@pytest.fixture(scope="session")
def digits():
    from digitlab import datasets

    return datasets.load("digits")


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Never touch the user's cache or ./runs; keep DIGITLAB_DATA_DIR as CI set it."""
    base = tmp_path_factory.mktemp("iso")
    monkeypatch.setenv("DIGITLAB_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("DIGITLAB_RUNS_DIR", str(base / "runs"))


@pytest.fixture
def pyplot():
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture
def run_cli():
    """Run the CLI in-process like the console script: returns (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from digitlab.cli import main

    def run(*args, input=None):
        runner = CliRunner()
        result = runner.invoke(_Main(main), list(map(str, args)), input=input, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


class _Main:
    """Adapter so CliRunner can call `main(argv)` (which sys.exit()s with our exit codes)."""

    def __init__(self, fn):
        self.fn = fn
        self.name = "digitlab"

    def main(self, args=None, prog_name=None, **extra):
        self.fn(list(args or []))


# Runs trained once per module on scikit-learn's 8x8 digits (fast), for the evaluation and
# Display tests.
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, digits):
    """A multiclass logreg run on digits (25% test split), evaluated with the default 3 folds."""
    import digitlab

    return digitlab.train(digits, "logreg", test_size=0.25, runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory, digits):
    """A 5-detector: SGD on raw pixels, as the notebooks, on digits."""
    import digitlab

    return digitlab.train(digits, "sgd", detect=5, raw_pixels=True, test_size=0.25,
                          runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture
def run_copy(tmp_path):
    """Copy a module-scoped run so a test may rewrite or damage it."""
    import shutil

    from digitlab.runs import read_run

    def copy(run):
        dst = tmp_path / "runs" / run.id
        shutil.copytree(run.path, dst)
        return read_run(dst)

    return copy

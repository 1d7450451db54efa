"""The accuracy ladder's registered models: their pipelines, and the cnn rung without PyTorch."""

import sys

import pytest
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from digitlab.exceptions import ParameterError
from digitlab.models import available_models, make_model
from digitlab.models.deskew import Deskewer


def test_ladder_models_registered():
    """Check every rung of the ladder is a registered model."""
    assert {"logreg", "knn", "knn-deskew", "svm", "svm-deskew", "forest", "mlp", "cnn"} <= set(available_models())


@pytest.mark.parametrize("name, steps, clf", [
    ("knn", ["scale", "pca", "clf"], KNeighborsClassifier),
    ("knn-deskew", ["scale", "deskew", "pca", "clf"], KNeighborsClassifier),
    ("svm-deskew", ["scale", "deskew", "pca", "clf"], SVC),
])
def test_ladder_pipeline_steps(name, steps, clf):
    """Check the deskewed rungs deskew after scaling and before PCA."""
    pipe = make_model(name)
    assert [n for n, _ in pipe.steps] == steps
    assert isinstance(pipe[-1], clf)
    assert isinstance(pipe.named_steps["pca"], PCA) and pipe.named_steps["pca"].n_components == 50
    if "deskew" in steps:
        assert isinstance(pipe.named_steps["deskew"], Deskewer)


def test_ladder_step_params_reach_their_step():
    """Check `pca__n_components=30` is typed and routed to the PCA step."""
    pipe = make_model("knn-deskew", {"pca__n_components": "30", "n_neighbors": "3"})
    assert pipe.named_steps["pca"].n_components == 30
    assert pipe[-1].n_neighbors == 3


def test_cnn_without_torch_gives_install_hint(monkeypatch):
    """Check `--model cnn` without PyTorch is a one-line ParameterError with the install hint."""
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ParameterError, match=r"pip install 'digitlab\[torch\]'"):
        make_model("cnn")


def test_cnn_module_imports_without_torch(monkeypatch):
    """Check digitlab.models.cnn imports without PyTorch and fit says how to install it."""
    import subprocess

    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ImportError('No module named torch')\n"
            "sys.meta_path.insert(0, Block())\n"
            "from digitlab.models.cnn import CNNClassifier\n"
            "try:\n    CNNClassifier(max_epochs=1).fit([[0.0] * 4] * 4, [0, 1, 0, 1])\n"
            "except ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "CNNClassifier needs PyTorch: pip install 'digitlab[torch]'" in out

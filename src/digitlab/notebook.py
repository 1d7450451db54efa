"""The study as a Jupyter notebook: :func:`build` writes its cells, :func:`execute` runs it in a kernel.

The cells call digitlab's Python API with the same arguments as :func:`digitlab.study.run_study`
(its constants ``DETECT``, ``QUICK_LIMIT`` and ``comparison_models`` are imported, not copied), so
the notebook's numbers are the study report's. ``notebooks/chapter3.ipynb`` is :func:`build`'s
output for full MNIST, committed with outputs cleared (a test keeps the two equal; rebuild it with
``digitlab notebook -o notebooks/chapter3.ipynb``).
nbformat and nbclient come with the ``notebook`` extra and are imported only here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import exceptions
from ._atomic import atomic_path, check_output
from .exceptions import (
    EX_SOFTWARE,
    EX_UNAVAILABLE,
    DigitlabError,
    InputMissingError,
    ParameterError,
    WorkerError,
)

KERNEL = "python3"
INSTALL_HINT = "pip install 'digitlab[notebook]'"


class NotebookError(DigitlabError, RuntimeError):
    """A cell of the notebook failed; the exit code is that of the digitlab error the cell raised
    (65 for bad data, ...), else 70."""

    def __init__(self, message: str, exit_code: int = EX_SOFTWARE):
        super().__init__(message)
        self.exit_code = exit_code


class NoKernelError(DigitlabError, RuntimeError):
    """No Jupyter kernel to run the notebook in (ipykernel not installed)."""

    exit_code = EX_UNAVAILABLE


def _nbformat():
    try:
        import nbformat
    except ImportError:
        raise ParameterError(f"notebooks need nbformat: {INSTALL_HINT}") from None
    return nbformat


def _params(dataset: str, quick: bool, seed: int, runs_dir, progress: bool) -> str:
    return (
        "# Parameters: the dataset (mnist, fashion-mnist, digits or a path) and the quick subset\n"
        f"DATASET = {dataset!r}\n"
        f"QUICK = {quick!r}  # True: {{QUICK_LIMIT}} training images, a run in seconds; False: the whole dataset\n"
        f"SEED = {seed!r}\n"
        f"RUNS_DIR = {None if runs_dir is None else str(runs_dir)!r}  # None: $DIGITLAB_RUNS_DIR or ./runs\n"
        f"PROGRESS = {progress!r}  # one live progress line per long step; False: silent\n"
    ).replace("{QUICK_LIMIT}", "6,000")


CELLS = [
    ("md", "# The classification chapter with digitlab\n\n"
           "Each step of the chapter, done with digitlab's Python API. Every model trained here is an "
           "ordinary run folder: `digitlab runs`, `digitlab report` and `digitlab serve` show them too. "
           "Set the parameters below, then run all cells."),
    ("params", None),
    ("code", "%matplotlib inline\n"
             "import digitlab\n"
             "from digitlab import datasets, plots\n"
             "from digitlab.study import DETECT, QUICK_LIMIT, comparison_models  # the study's own settings\n\n"
             "LIMIT = QUICK_LIMIT if QUICK else None\n"
             "COMMON = dict(limit=LIMIT, seed=SEED, runs_dir=RUNS_DIR, progress=PROGRESS)\n"
             "# the cells below draw the figures they show; the runs' own figure files (for `digitlab report`\n"
             "# and `serve`) are skipped here, `digitlab evaluate RUN` draws them later\n"
             "FIGURES = False"),
    ("md", "Figures from digitlab's Displays (`plots`) appear once below their cell; `from_run` draws "
           "them, as scikit-learn's `from_predictions` does."),
    ("md", "## The data\n\nLoad the dataset (downloaded once if it is missing, checksums compared) and "
           "look at it: how many images, of which size, which classes."),
    ("code", "ds = datasets.load(DATASET, download=True, progress=PROGRESS)\nds"),
    ("md", "The training images come first; the model is judged on test images it never saw."),
    ("code", "split = ds.train_test(limit=LIMIT, seed=SEED) if LIMIT else ds.train_test()\nsplit"),
    ("code", "plots.DigitGridDisplay.from_dataset(split.train, grid=(3, 10), suptitle='The first training images').plot();"),
    ("md", "## A binary classifier: the 5-detector\n\n"
           "One yes/no question first: is this a 5? A linear classifier trained by stochastic gradient "
           "descent on the raw pixel values, scored by 3-fold cross-validation on the training set."),
    ("code", "detect = DETECT if DETECT < len(ds.classes) else len(ds.classes) - 1\n"
             "detector = digitlab.train(ds, 'sgd', detect=detect, raw_pixels=True, cv=3, target_precision=0.9,\n"
             "                          figures=FIGURES, **COMMON)\n"
             "detector"),
    ("code", "m = detector.metrics()\nprint('CV accuracy:', [round(s, 5) for s in m['cv_scores']])"),
    ("md", "Accuracy looks excellent. But a model that always answers *not 5* is right about 90% of the "
           "time too, because only about one image in ten is a 5:"),
    ("code", "ev = digitlab.load_result(detector)\n"
             "print('never-5 baseline, CV accuracy:', [round(s, 5) for s in ev.dummy_cv_scores])"),
    ("md", "The confusion matrix of the cross-validated predictions tells more: rows are the true "
           "classes, columns the predicted ones."),
    ("code", "print('confusion matrix (cross-validated):', ev.cv_confusion_matrix)\n"
             "plots.ConfusionMatrixDisplay.from_run(detector);"),
    ("md", "Precision (how many predicted 5s are 5s), recall (how many 5s are found) and their harmonic "
           "mean F1, from the same cross-validated predictions:"),
    ("code", "print(f\"precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f}\")\n"
             "ev"),
    ("md", "Moving the decision threshold trades precision for recall. The threshold that reaches 90% "
           "precision, and the recall that is left there:"),
    ("code", "print(f\"threshold for 90% precision: {m['threshold_at_target']:.2f}, recall there: {m['recall_at_target']:.4f}\")\n"
             "plots.PrecisionRecallThresholdDisplay.from_run(detector);"),
    ("code", "plots.PrecisionRecallDisplay.from_run(detector);"),
    ("md", "The ROC curve plots the true positive rate against the false positive rate; the area under "
           "it (AUC) is 1 for a perfect detector and 0.5 for a coin."),
    ("code", "print(f\"ROC AUC: {m['roc_auc']:.4f}\")\nplots.RocCurveDisplay.from_run(detector);"),
    ("md", "## All classes: logistic regression\n\n"
           "Multinomial logistic regression on pixels scaled to [0, 1]: one weight per pixel and class."),
    ("code", "logreg = digitlab.train(ds, 'logreg', cv=3, figures=FIGURES, **COMMON)\n"
             "print(f\"test accuracy: {logreg.metrics()['test_accuracy']:.4f}\")\nlogreg"),
    ("md", "The weights of each class, drawn as images: red pixels speak for the class, blue against it."),
    ("code", "plots.CoefficientImagesDisplay.from_run(logreg);"),
    ("md", "Some of the test images it gets wrong, with what it answered:"),
    ("code", "plots.ErrorGalleryDisplay.from_run(logreg, max_images=12);"),
    ("md", "The confusion matrix as a heat map, errors only: which classes are mistaken for which."),
    ("code", "plots.ConfusionMatrixDisplay.from_run(logreg, source='test', errors_only=True);"),
    ("md", "## Comparing models\n\nThe same split for every model: the dummy baseline shows what no "
           "learning scores; k-nearest neighbours (on 50 principal components) climbs above the linear model."),
    ("code", "compared = [logreg]\n"
             "for name, kw in comparison_models(QUICK):\n"
             "    if name != 'logreg':\n"
             "        compared.append(digitlab.train(ds, name, cv=0, figures=False, train_sample=10_000, **COMMON, **kw))\n"
             "for r in compared:\n"
             "    print(f\"{r.info.model.name:8s} test accuracy {r.metrics()['test_accuracy']:.4f}\")\n"
             "digitlab.Runs(compared)"),
    ("md", "## Predicting your own image\n\nAny PNG or JPEG of a digit: it is cropped, centred and scaled "
           "like the training images. Here a test image is saved as a file and read back; put the path of "
           "your own file instead."),
    ("code", "from pathlib import Path\nfrom PIL import Image\nfrom digitlab.predicting import Predictor\n\n"
             "image_file = Path('my_digit.png')\n"
             "Image.fromarray(255 - split.test.images[0]).save(image_file)  # dark ink on white, as on paper\n"
             "answer = Predictor.from_run(logreg).predict(image_file)\n"
             "print(f'{image_file}: {answer.prediction} (probability {answer.probability:.2f}); '\n"
             "      f'true label {ds.classes[split.test.labels[0]]}')"),
    ("md", "## A small search\n\nTry a few values of the regularisation strength C by cross-validation "
           "(on at most 3,000 training images, to stay quick) and keep the best."),
    ("code", "searched = digitlab.search(ds, 'logreg', grid={'C': [0.01, 0.1, 1.0]}, cv=3, seed=SEED,\n"
             "                           limit=min(LIMIT or 3_000, 3_000), n_jobs=1, runs_dir=RUNS_DIR)\n"
             "digitlab.search_results(searched)"),
]


def build(dataset: str = "mnist", *, quick: bool = False, seed: int = 0, runs_dir=None, progress: bool = True):
    """The study notebook (an ``nbformat`` v4 node), its parameter cell set from the arguments."""
    nbf = _nbformat()
    v4 = nbf.v4
    cells = []
    for kind, text in CELLS:
        if kind == "md":
            cells.append(v4.new_markdown_cell(text))
        elif kind == "params":
            cells.append(v4.new_code_cell(_params(dataset, quick, seed, runs_dir, progress),
                                          metadata={"tags": ["parameters"]}))
        else:
            cells.append(v4.new_code_cell(text))
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: a rebuilt notebook diffs cleanly
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def set_parameters(nb, **values):
    """Replace values in the cell tagged ``parameters`` (``DATASET="digits"``), keeping its comments."""
    import re

    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise ParameterError("notebook: no cell tagged 'parameters'")
    src = cell.source
    for name, value in values.items():
        src, n = re.subn(rf"^{name} = [^#\n]*?(\s*(#.*)?)$", lambda m: f"{name} = {value!r}{m.group(1)}", src,
                         count=1, flags=re.M)
        if not n:
            raise ParameterError(f"notebook: the parameters cell has no {name}")
    cell.source = src
    return nb


def execute(nb, *, cwd=None, timeout: int = 600, env: dict | None = None):
    """Run every cell of *nb* in a fresh kernel (nbclient), outputs stored in *nb*; return it.

    Raises
    ------
    NotebookError
        The kernel could not start or died, or a cell raised (the cell's error line is quoted).
    """
    try:
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient import NotebookClient
        from nbclient.exceptions import (
            CellExecutionError,
            CellTimeoutError,
            DeadKernelError,
        )
    except ImportError:
        raise ParameterError(f"executing notebooks needs nbclient and ipykernel: {INSTALL_HINT}") from None
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(cwd or Path.cwd())}})
    try:
        # the kernel's own stderr (a warning about unencrypted local TCP) is not for the user; its
        # errors reach us through the messaging protocol
        client.execute(env={**os.environ, **(env or {})}, stderr=subprocess.DEVNULL)
    except NoSuchKernel:
        raise NoKernelError(f"no Jupyter kernel {KERNEL!r}: {INSTALL_HINT}") from None
    except DeadKernelError:
        raise WorkerError("the notebook's kernel died") from None
    except CellTimeoutError:
        raise NotebookError(f"a cell ran longer than {timeout} s") from None
    except CellExecutionError as exc:
        raise _cell_error(exc) from None
    return nb


def _cell_error(exc) -> NotebookError:
    """One line from a failed cell: the exception the kernel raised, with its digitlab exit code."""
    name, value = getattr(exc, "ename", "") or "", getattr(exc, "evalue", "") or ""
    lines = [ln for ln in str(value).splitlines() if ln.strip()]
    cls = getattr(exceptions, name, None)
    code = cls.exit_code if isinstance(cls, type) and issubclass(cls, DigitlabError) else EX_SOFTWARE
    return NotebookError(f"a notebook cell failed: {name}: {lines[-1] if lines else ''}".rstrip(": "), code)


def write(nb, out) -> Path:
    """Write *nb* to *out* atomically (the usual output rules: see :mod:`digitlab._atomic`)."""
    nbf = _nbformat()
    with atomic_path(out) as tmp:
        nbf.write(nb, str(tmp))
    return Path(out)


def _check_dataset(dataset) -> None:
    """A dataset the notebook cannot load fails now, not in its fourth cell (or never, unexecuted)."""
    from .datasets import REMOTE

    if str(dataset).lower() in {*REMOTE, "digits", "wild-digits"}:
        return
    if not Path(dataset).exists():
        raise InputMissingError(f"{dataset}: no such dataset (mnist, fashion-mnist, digits, or a path)")


def make_notebook(out, dataset: str = "mnist", *, quick: bool = False, execute_it: bool = False, seed: int = 0,
                  runs_dir=None, timeout: int = 900):
    """``digitlab notebook``: write the study notebook to *out*, executed when *execute_it*.

    The output path is checked before anything runs (a folder, socket or symlink is refused, 73);
    the file appears only when the notebook is complete.
    """
    check_output(out)
    _check_dataset(dataset)
    nb = build(dataset, quick=quick, seed=seed, runs_dir=runs_dir, progress=True)
    if execute_it:
        here = Path(out).parent if str(out) != "-" else Path.cwd()
        execute(nb, cwd=here if here.is_dir() else Path.cwd(), timeout=timeout)
    return write(nb, out)

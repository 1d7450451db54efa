"""``study``: the whole MNIST chapter in one call, ending in one HTML report.

Steps: dataset overview; the 5-detector with SGD on raw pixels (the notebooks' exact setting:
cross-validation, the "never 5" baseline, confusion matrix, precision/recall/F1, curves, the
threshold for 90% precision); multi-class logistic regression (coefficients as images,
misclassified digits); a comparison of several models. Every step is an ordinary run folder, so
``digitlab runs``, ``report`` and ``serve`` show them too.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from . import datasets as dsets
from .exceptions import ParameterError
from .datasets._registry import words
from .reporting import Section, report, run_section
from .reporting.build import comparison_table, data_url

DETECT = 5
QUICK_LIMIT = 6000
# The order the pool's fits start in (two workers on two cores), while this process draws the
# data figures and fits and evaluates the kNN and the dummy (about 15 s): the detector's final fit
# first, the longest; logistic regression's next, so its evaluation here follows the kNN's; the
# detector's folds last. Chosen with a simulation of the measured step costs and checked on full
# MNIST (BENCHMARKS.md has the timeline).
ORDER = ["detector:0", "logreg", "detector"]
MAX_WORKERS = 8  # the study's pooled fits: two trainings, each a final fit and 3 folds


@dataclass
class StudyResult:
    report: Path
    runs: dict = field(default_factory=dict)  # step name -> Run
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)  # step label -> seconds from its start to its end
    timeline: list = field(default_factory=list)  # what ran when and where (scheduling.Span as dicts)


def _overview(ds, split, fig_dir: Path) -> Section:
    from .plots import ClassDistributionDisplay, DigitGridDisplay, save_figure

    grid = DigitGridDisplay.from_dataset(split.train, grid=(4, 8), suptitle=f"The first {ds.name} training images").plot()
    hist = ClassDistributionDisplay.from_split(split, title=f"{ds.name}: class distribution").plot()
    g, h = save_figure(grid.figure_, fig_dir / "digits.png"), save_figure(hist.figure_, fig_dir / "classes.png")
    hgt, wid = ds.shape
    w = words(ds.name, ds.classes)
    facts = [
        ("Images", f"{len(ds):,} of {hgt}×{wid} pixels, uint8 0–255 ({ds.nbytes / 2**20:.1f} MiB in memory)"),
        ("Split", f"{split.how}: {len(split.train):,} train / {len(split.test):,} test"),
        ("Source", ds.source),
        ("Checksums", "verified against the registry" if ds.verified else "recorded"),
    ]
    return Section(
        "The data", anchor="data",
        text=(f"{ds.name} holds {w.what}. "
              "Every model below learns from the training part and is judged on the test part it never saw."),
        facts=facts,
        figures=[
            {"src": data_url(g), "title": "The first training images",
             "caption": f"Each image with its label: the task is to read the {w.item} from the {hgt * wid} "
                        "pixel values."},
            {"src": data_url(h), "title": "Class distribution",
             "caption": f"Share of each {w.item} in train and test: the classes are roughly balanced, so "
                        f"accuracy is a fair first score — except for a one-{w.item} detector, where most images "
                        "are negatives."},
        ],
    )


def comparison_models(quick: bool) -> list[tuple[str, dict]]:
    """Models in the comparison table (name, train kwargs): the baseline, the linear model and
    the fastest strong rung. The slower rungs (forest, SVM, MLP, CNN) live in the benchmarks."""
    return [("dummy", {}), ("logreg", {}), ("knn", {})]


def study_trainings(ds, *, quick: bool = False, seed: int = 0, runs_dir=None) -> list[tuple[str, str, dict]]:
    """The study's trainings as ``(key, label, train() keyword arguments)``, in report order."""
    common = dict(limit=QUICK_LIMIT if quick else None, seed=seed, runs_dir=runs_dir, progress=False)
    detect = DETECT if DETECT < len(ds.classes) else len(ds.classes) - 1
    return [
        ("detector", f"the {ds.classes[detect]}-detector: SGD on raw pixels, 3-fold CV, threshold for 90% precision",
         dict(model="sgd", detect=detect, raw_pixels=True, cv=3, target_precision=0.9, **common)),
        ("logreg", "multi-class logistic regression with 3-fold CV", dict(model="logreg", cv=3, **common)),
    ] + [
        # only the table shows these runs: no figures (`digitlab evaluate RUN` draws them)
        (model, f"comparison: {model}", dict(model=model, cv=0, figures=False, train_sample=10_000, **common, **kw))
        for model, kw in comparison_models(quick) if model != "logreg"
    ]


def run_study(dataset: str = "mnist", *, quick: bool = False, out="report.html", runs_dir=None,
              data_dir=None, cache_dir=None, progress: bool = True, seed: int = 0,
              n_jobs: int | None = None) -> StudyResult:
    """Run the chapter's study and write the report; return where everything is.

    The four trainings' fits run together in one worker pool and each is evaluated here as soon as
    its fits are done (:mod:`digitlab.scheduling`): both cores work, and every number is the one a
    sequential run gives.

    Parameters
    ----------
    dataset : str or path-like, default="mnist"
        Dataset name or path (see :func:`digitlab.datasets.load`); downloaded if missing.
    quick : bool, default=False
        A stratified subset of 6,000 training images (and 1,000 test) for a run in seconds.
    out : path-like, default="report.html"
        The HTML report; ``"-"`` for standard output.
    runs_dir : path-like, default=None
        Where the run folders go (``$DIGITLAB_RUNS_DIR``, else ``./runs``).
    data_dir, cache_dir : path-like, default=None
        Where the dataset's files are looked for (see :func:`digitlab.datasets.load`).
    progress : bool, default=True
        Show the steps as they run (stderr, or one output in Jupyter).
    seed : int, default=0
        Seed of the quick subset and of the models.
    n_jobs : int, default=None
        Worker processes for the fits, at most one per pooled fit (8); ``None``: one per core
        (none for small data, whose fits run in this process).
    """
    import tempfile

    from ._atomic import check_output
    from ._progress import Board
    from .scheduling import Schedule, Timeline, WarmPool, cores
    from .training import Training

    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1):
        raise ParameterError(f"n_jobs={n_jobs!r}: a number of worker processes, at least 1 (None: one per core)")
    t0 = time.perf_counter()
    streamed = check_output(out)  # a bad --out fails now, not after the training (H4)
    limit = QUICK_LIMIT if quick else None
    out = Path(out)
    result = StudyResult(report=out)
    timeline = Timeline()
    models = ["sgd", "logreg"] + [m for m, _ in comparison_models(quick) if m != "logreg"]
    # the workers start (and import scikit-learn) while the data loads; for the registry's large
    # datasets only: a small one (digits) is fitted in this process, where a pool costs more
    warm = WarmPool(min(n_jobs or cores(), MAX_WORKERS), models) if str(dataset).lower() in ("mnist", "fashion-mnist") else None
    with Board(progress, total=3 + len(comparison_models(quick))) as board, warm or nullcontext():
        board.start("load", f"loading {dataset}")
        with timeline.span("loading the data"):
            ds = dsets.load(dataset, data_dir=data_dir, cache_dir=cache_dir, progress=progress, download=True)
            split = ds.train_test(limit=limit, seed=seed) if limit else ds.train_test()
        board.end("load")
        if warm is not None:
            with timeline.span("waiting for the workers' imports"):
                warm.wait()
        steps = study_trainings(ds, quick=quick, seed=seed, runs_dir=runs_dir)
        trainings = [(key, label, Training(ds, **kw)) for key, label, kw in steps]
        name = ds.classes[steps[0][2]["detect"]]
        # the report's figures are made beside it, unless it goes to stdout, a device or a FIFO
        near = out.parent if not streamed and out.parent.exists() else None
        with tempfile.TemporaryDirectory(prefix=".study-figs-", dir=near) as tmp:
            with Schedule(trainings, board=board, timeline=timeline, n_jobs=n_jobs, order=ORDER) as schedule:
                with timeline.span("the data: figures"):  # while the workers fit
                    overview = _overview(ds, split, Path(tmp))
                result.runs = schedule.finish_all()
            board.start("report", "writing the report")
            with timeline.span("writing the report"):
                result.report = _write_report(result, ds, name, overview, out, quick)
            board.end("report")
    result.seconds = time.perf_counter() - t0
    result.timings = board.timings
    result.timeline = timeline.to_list()
    return result


def _write_report(result: StudyResult, ds, name: str, overview: Section, out: Path, quick: bool) -> Path:
    runs = result.runs
    det = run_section(runs["detector"], title=f"A binary classifier: the {name}-detector", text=(
        f"Before ten classes, one yes/no question: is this a {name}? An SGD linear classifier on raw "
        f"pixels, exactly as in the notebooks. Accuracy looks excellent — until the baseline that always "
        f"answers 'not {name}' scores about 90% too; precision, recall and the curves tell the real story."))
    all_items = words(ds.name, ds.classes).all_items
    lr = run_section(runs["logreg"], title=f"{all_items[0].upper()}{all_items[1:]}: logistic regression", text=(
        "Multinomial logistic regression on pixels scaled to [0, 1]: one weight per pixel and class. "
        "The weights can be looked at as images, and the mistakes it makes are mostly images a person "
        "would hesitate over too."))
    compared = [runs["logreg"]] + [runs[m] for m, _ in comparison_models(quick) if m != "logreg"]
    comp = Section("Comparing models", anchor="comparison", text=(
        "The same split for every model. The dummy baseline shows what no learning scores; "
        "k-nearest neighbours (on 50 principal components) climbs well above the linear model; SVMs, "
        "an MLP and a CNN go further still — BENCHMARKS.md has the whole ladder."),
        tables=[comparison_table(compared)])
    mode = "quick run on a stratified subset" if quick else "full dataset"
    return report(
        [], out, title=f"digitlab study: {ds.name}",
        intro=(f"The classification chapter, done end to end on {ds.name} ({mode}). Every number below "
               f"comes from a run folder under {Path(runs['logreg'].path).parent}/ that can be "
               "re-evaluated, compared and served."),
        sections=[overview, det, lr, comp],
    )

"""``study``: the whole MNIST chapter in one call, ending in one HTML report.

Steps: dataset overview; the 5-detector with SGD on raw pixels (the notebooks' exact setting:
cross-validation, the "never 5" baseline, confusion matrix, precision/recall/F1, curves, the
threshold for 90% precision); multi-class logistic regression (coefficients as images,
misclassified digits); a comparison of several models. Every step is an ordinary run folder, so
``digitlab runs``, ``report`` and ``serve`` show them too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import datasets as dsets
from .datasets._registry import words
from .reporting import Section, report, run_section
from .reporting.build import comparison_table, data_url

DETECT = 5
QUICK_LIMIT = 6000


@dataclass
class StudyResult:
    report: Path
    runs: dict = field(default_factory=dict)  # step name -> Run
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)


class _Steps:
    """Numbered step lines on stderr with their wall time (a long study shows where it is)."""

    def __init__(self, total: int, progress: bool):
        self.total, self.k, self.progress = total, 0, progress
        self.timings: dict = {}
        if progress:
            from rich.console import Console

            self.console = Console(stderr=True, highlight=False)

    def __call__(self, label: str):
        self.k += 1
        return _Step(self, label)


class _Step:
    def __init__(self, steps, label):
        self.steps, self.label = steps, label

    def __enter__(self):
        self.t0 = time.perf_counter()
        if self.steps.progress:
            self.status = self.steps.console.status(f"[{self.steps.k}/{self.steps.total}] {self.label} …")
            self.status.__enter__()
        return self

    def __exit__(self, *exc):
        dt = time.perf_counter() - self.t0
        self.steps.timings[self.label] = round(dt, 2)
        if self.steps.progress:
            self.status.__exit__(*exc)
            if exc[0] is None:
                self.steps.console.print(f"[green]✓[/] [{self.steps.k}/{self.steps.total}] {self.label}  "
                                         f"[dim]{dt:.1f} s[/]")
        return False


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


def run_study(dataset: str = "mnist", *, quick: bool = False, out="report.html", runs_dir=None,
              data_dir=None, cache_dir=None, progress: bool = True, seed: int = 0) -> StudyResult:
    """Run the chapter's study and write the report; return where everything is.

    Parameters
    ----------
    quick : bool, default=False
        A stratified subset of 6,000 training images (and 1,000 test) for a run in seconds.
    """
    from ._atomic import check_output
    from .training import train

    t0 = time.perf_counter()
    streamed = check_output(out)  # a bad --out fails now, not after the training (H4)
    limit = QUICK_LIMIT if quick else None
    steps = _Steps(4 + len(comparison_models(quick)) - 1, progress)
    result = StudyResult(report=Path(out))
    with steps(f"loading {dataset}"):
        ds = dsets.load(dataset, data_dir=data_dir, cache_dir=cache_dir, progress=progress, download=True)
        split = ds.train_test(limit=limit, seed=seed) if limit else ds.train_test()
    common = dict(limit=limit, seed=seed, runs_dir=runs_dir, progress=False)
    detect = DETECT if DETECT < len(ds.classes) else len(ds.classes) - 1
    name = ds.classes[detect]
    with steps(f"the {name}-detector: SGD on raw pixels, 3-fold CV, threshold for 90% precision"):
        result.runs["detector"] = train(ds, "sgd", detect=detect, raw_pixels=True, cv=3,
                                        target_precision=0.9, **common)
    with steps("multi-class logistic regression with 3-fold CV"):
        result.runs["logreg"] = train(ds, "logreg", cv=3, **common)
    compared = [result.runs["logreg"]]
    for model, kw in comparison_models(quick):
        if model == "logreg":
            continue
        with steps(f"comparison: {model}"):
            # only the table shows these runs: no figures (`digitlab evaluate RUN` draws them)
            r = train(ds, model, cv=0, figures=False, train_sample=10_000, **common, **kw)
            result.runs[model] = r
            compared.append(r)
    with steps("writing the report"):
        out = Path(out)
        import tempfile

        # beside the report, unless it goes to stdout, a device or a FIFO (never make folders in /dev)
        near = out.parent if not streamed and out.parent.exists() else None
        with tempfile.TemporaryDirectory(prefix=".study-figs-", dir=near) as tmp:
            overview = _overview(ds, split, Path(tmp))
            det = run_section(result.runs["detector"], title=f"A binary classifier: the {name}-detector", text=(
                f"Before ten classes, one yes/no question: is this a {name}? An SGD linear classifier on raw "
                f"pixels, exactly as in the notebooks. Accuracy looks excellent — until the baseline that always "
                f"answers 'not {name}' scores about 90% too; precision, recall and the curves tell the real story."))
            all_items = words(ds.name, ds.classes).all_items
            lr = run_section(result.runs["logreg"], title=f"{all_items[0].upper()}{all_items[1:]}: logistic "
                             "regression", text=(
                "Multinomial logistic regression on pixels scaled to [0, 1]: one weight per pixel and class. "
                "The weights can be looked at as images, and the mistakes it makes are mostly images a person "
                "would hesitate over too."))
            comp = Section("Comparing models", anchor="comparison", text=(
                "The same split for every model. The dummy baseline shows what no learning scores; "
                "k-nearest neighbours (on 50 principal components) climbs well above the linear model; SVMs, "
                "an MLP and a CNN go further still — BENCHMARKS.md has the whole ladder."),
                tables=[comparison_table(compared)])
            mode = "quick run on a stratified subset" if quick else "full dataset"
            result.report = report(
                [], out, title=f"digitlab study: {ds.name}",
                intro=(f"The classification chapter, done end to end on {ds.name} ({mode}). Every number below "
                       f"comes from a run folder under {Path(result.runs['logreg'].path).parent}/ that can be "
                       "re-evaluated, compared and served."),
                sections=[overview, det, lr, comp],
            )
    result.seconds = time.perf_counter() - t0
    result.timings = steps.timings
    return result

"""``train``: fit a registered model on a dataset split and write a run folder."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import numpy as np

from .exceptions import ParameterError
from .fitting import (
    DEFAULT_CV,
    default_cv,
    fit_model,
    fit_returning,
    library_versions,
    progress_status,
)
from .runs import (
    MODEL_FILE,
    RUN_FORMAT,
    AddInfo,
    DatasetInfo,
    FitInfo,
    ModelInfo,
    Run,
    RunDescription,
    RunWriter,
    SplitInfo,
    TaskInfo,
    make_run_id,
    read_run,
)

__all__ = ["train", "Training", "describe_run", "DEFAULT_CV", "default_cv"]


def train(dataset="mnist", model="logreg", *, params: dict | None = None, detect: int | None = None,
          raw_pixels: bool = False, augment=False, test_size=None, seed: int = 0,
          limit: int | None = None, stratify: bool = True, evaluate: bool = True, cv: int | None = None,
          target_precision: float | None = 0.9, figures: bool = True, train_sample: int | None = None,
          runs_dir=None, data_dir=None, cache_dir=None, progress: bool = False, add=None) -> Run:
    """Fit a model and write a run folder; return the :class:`~digitlab.runs.Run`.

    Parameters
    ----------
    dataset : str, path-like or Dataset, default="mnist"
        Dataset name or path (see :func:`digitlab.datasets.load`), or an already loaded Dataset.
    model : str, default="logreg"
        A registered model name (:func:`digitlab.models.available_models`).
    params : dict, default=None
        Model parameters (``{"C": 50}``, or ``{"pca__n_components": 30}`` for another step);
        strings are typed from the defaults.
    detect : int, default=None
        Train a binary detector for this class index ("is it a 5?") instead of all classes.
    raw_pixels : bool, default=False
        Feed 0–255 pixels to the estimator, as the notebooks did (no scaling step).
    augment : str, list of str or bool, default=False
        Augmentation kinds from ``shift``, ``affine``, ``elastic``, ``thickness``, comma-separated
        (``"shift,affine"``) or a list; ``True`` means ``"shift"`` (see :mod:`digitlab.augment`).
        A model that augments its own batches (``cnn``) draws them afresh every batch in place of
        its default kinds; other models get augmented copies of the training images, made once
        (``shift``: the four one-pixel shifts of the book's exercise; each other kind: one copy).
        Training on copies skips cross-validation (folds would share an image's copies).

    test_size : float or int, default=None
        Split: ``None`` uses the dataset's canonical split (MNIST: 60,000 / 10,000), else a
        random stratified test fraction (float) or count (int); see :meth:`Dataset.train_test`.
    seed : int, default=0
        Split: seed of the random split and of ``limit`` (0 to 2**32-1).
    limit : int, default=None
        Split: a stratified subset of this many training images (the test set cut in proportion).
    stratify : bool, default=True
        Split: stratify the random split by class.

    evaluate : bool, default=True
        Evaluate the model (:func:`digitlab.evaluation.evaluate_run`) and store the results.
    cv : int, default=None
        Evaluation: cross-validation folds (0 skips); ``None``: 3, or 0 for the models marked
        expensive (``cnn``, ``svm``: one fit on MNIST takes minutes).
    target_precision : float, default=0.9
        Evaluation of a detector: the precision its threshold is chosen for.
    figures : bool, default=True
        Draw the evaluation's figures (``digitlab evaluate`` can add them later).
    train_sample : int, default=None
        Evaluation: score the train accuracy on a stratified sample of this many images.

    runs_dir : path-like, default=None
        Where the run folder goes (``$DIGITLAB_RUNS_DIR``, else ``./runs``).
    data_dir, cache_dir : path-like, default=None
        Where the dataset's files are looked for (see :func:`digitlab.datasets.load`).
    progress : bool, default=False
        Show what is happening on stderr.
    add : path-like or Dataset, default=None
        More samples to train on, e.g. the corrections ``serve --collect DIR`` saved: same image
        size and classes as *dataset*. A quarter of them (none below 4) is held out and scored
        separately (``metrics.added_accuracy``); the test set stays the dataset's.

    Examples
    --------
    >>> import digitlab
    >>> run = digitlab.train("digits", "logreg", test_size=0.25)  # doctest: +SKIP
    >>> run.info.metrics.test_accuracy  # doctest: +SKIP
    0.96
    """
    t = Training(dataset, model, params=params, detect=detect, raw_pixels=raw_pixels, augment=augment,
                 test_size=test_size, seed=seed, limit=limit, stratify=stratify, evaluate=evaluate, cv=cv,
                 target_precision=target_precision, figures=figures, train_sample=train_sample,
                 runs_dir=runs_dir, data_dir=data_dir, cache_dir=cache_dir, progress=progress, add=add)
    with t.writer() as w:  # its temp folder now: an unusable runs folder fails before the fits
        if not t.pooled:  # one fit: here, with its progress line (a pool would only add start-up)
            return t.finish([t.fit_here()], w)
        from ._workers import run_parallel
        from .evaluation.cv import default_n_jobs, runs_own_threads

        # the final fit and the CV folds share one worker pool, so no core sits idle
        n_jobs = 1 if runs_own_threads(t.pipe) else default_n_jobs(len(t.calls), np.asarray(t.X_train).size)
        with progress_status(progress, f"{t.label}, with {t.cv} cross-validation folds alongside"):
            t0 = time.perf_counter()
            out = run_parallel(t.calls, n_jobs)
        return t.finish(out, w, seconds=time.perf_counter() - t0)


class Training:
    """One :func:`train` call, split where a scheduler can step in.

    Building it checks everything and prepares the data (nothing is fitted or written);
    :attr:`calls` are the fits, as joblib calls any pool can run (the final fit first, then the
    CV folds); :meth:`finish` takes their outputs, in the order of :attr:`calls`, and writes the
    run folder (model, description, evaluation, figures) through :meth:`writer`, entered before
    the fits. ``train`` runs the calls in a pool of
    their own; ``digitlab study`` runs the calls of all its trainings in one pool
    (:mod:`digitlab.scheduling`). The parameters are :func:`train`'s.
    """

    def __init__(self, dataset="mnist", model="logreg", *, params=None, detect=None, raw_pixels=False,
                 augment=False, test_size=None, seed=0, limit=None, stratify=True, evaluate=True, cv=None,
                 target_precision=0.9, figures=True, train_sample=None, runs_dir=None, data_dir=None,
                 cache_dir=None, progress=False, add=None):
        from . import datasets as dsets
        from .augment import parse_augment
        from .datasets.dataset import check_seed
        from .models import make_model

        check_seed(seed)  # before loading the data; the rest is checked against it below
        kinds = parse_augment(augment)
        cv = default_cv(model) if cv is None else cv
        if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv == 1 or cv < 0:
            raise ParameterError(f"cv={cv!r}: use 0 to skip cross-validation, or 2 or more folds")
        ds = dataset if isinstance(dataset, dsets.Dataset) else dsets.load(
            dataset, data_dir=data_dir, cache_dir=cache_dir, progress=progress, download=True)
        pipe = make_model(model, params, raw_pixels=raw_pixels)
        self.own_batches = _set_own_augment(pipe, kinds, params)
        task = dsets.Task(ds.classes, detect)
        split = ds.train_test(test_size, seed=seed, limit=limit, stratify=stratify)
        self.add_info = None
        if add is not None:
            split, self.add_info = _add_samples(split, add, seed)
        X_train, y_train = split.X_train, split.y_train
        self.copies = bool(kinds) and not self.own_batches
        if self.copies:
            from .augment import augment_copies

            X_train, y_train = augment_copies(split.train.images, y_train, kinds, seed=seed)
        y_train = task.target(y_train)
        _check_data(pipe, split, y_train, task, cv=cv if evaluate else 0, limit=limit, name=ds.name)
        self.dataset, self.ds, self.model, self.params, self.pipe = dataset, ds, model, params, pipe
        self.task, self.split, self.X_train, self.y_train, self.kinds = task, split, X_train, y_train, kinds
        self.cv, self.evaluate, self.figures, self.progress = cv, evaluate, figures, progress
        self.raw_pixels, self.test_size, self.seed, self.limit, self.stratify = (
            raw_pixels, test_size, seed, limit, stratify)
        self.target_precision, self.train_sample, self.runs_dir = target_precision, train_sample, runs_dir
        self.label = f"fitting {model} on {len(y_train):,} {ds.name} images"
        self.cv_jobs = None
        # with CV the fits go to a worker pool (train's own, or a study's); one fit runs here
        self.pooled = bool(evaluate and cv >= 2 and not self.copies)
        if self.pooled:
            from .evaluation.cv import cv_jobs

            self.cv_jobs = cv_jobs(pipe, X_train, y_train, cv=cv, binary=task.is_binary, final=True)
            self.calls = self.cv_jobs.calls
        else:
            from joblib import delayed

            self.calls = [delayed(fit_returning)(pipe, X_train, y_train)]

    def fit_here(self):
        """The one fit of a training without cross-validation, in this process with its progress
        line; returns what its call would."""
        return self.pipe, fit_model(self.pipe, self.X_train, self.y_train, progress=self.progress,
                                    label=self.label)

    def writer(self) -> RunWriter:
        """The run folder's writer; entering it makes its temp folder, so an unusable runs folder
        fails before the fits, and leaving it without :meth:`finish` removes the folder."""
        detect = self.task.detect
        return RunWriter(make_run_id(self.ds.name, self.model, f"detect{detect}" if detect is not None else ""),
                         self.runs_dir)

    def finish(self, outputs: list, w: RunWriter, *, seconds: float = 0.0) -> Run:
        """Write the run folder from the outputs of :attr:`calls` through *w* (an entered
        :meth:`writer`), commit it and return the run."""
        from .augment import parse_augment
        from .persist import save_model

        cvr = None
        if self.cv_jobs is not None:
            cvr = self.cv_jobs.collect(outputs, seconds)
            pipe, fit = cvr.final_model, cvr.final_fit
        else:
            ((pipe, fit),) = outputs
        info = describe_run(self.dataset, self.ds, self.split, self.task, model=self.model, params=self.params,
                            raw_pixels=self.raw_pixels, estimator=pipe[-1], fit=fit, test_size=self.test_size,
                            seed=self.seed, limit=self.limit, stratify=self.stratify,
                            augment=parse_augment(pipe[-1].augment) if self.own_batches else self.kinds,
                            augment_how="per batch" if self.own_batches else "copies" if self.copies else "",
                            sha256=save_model(pipe, w.path / MODEL_FILE), add=self.add_info)
        w.write_description(info)
        if self.evaluate:
            from .evaluation import evaluate_run
            from .plots.figure_set import drawer

            evaluate_run(Run(w.path, info), split=self.split, model=pipe, cv=self.cv,
                         target_precision=self.target_precision, progress=self.progress, cv_result=cvr,
                         train_sample=self.train_sample,
                         figures=drawer(self.split.test.images, pipe) if self.figures else None)
        return read_run(w.commit())


def _add_samples(split, add, seed):
    """The split with *add*'s samples in it, and their record for run.json."""
    from . import datasets as dsets

    extra = add if isinstance(add, dsets.Dataset) else dsets.load(add, progress=False)
    ref = extra.source if isinstance(add, dsets.Dataset) else str(Path(add).resolve())
    split = split.add(extra, seed=seed, what=str(add) if not isinstance(add, dsets.Dataset) else extra.name)
    info = AddInfo(ref=ref, name=extra.name, checksums=dict(extra.checksums), n=len(extra),
                   n_train=split.n_added_train, n_test=len(split.added))
    return split, info


def _set_own_augment(pipe, kinds, params) -> bool:
    """Whether the model augments its own training batches (an ``augment`` parameter: the CNN);
    if so and *kinds* are given, they replace its default kinds."""
    own = "augment" in pipe[-1].get_params(deep=False)
    if own and kinds:
        if "augment" in (params or {}):
            raise ParameterError(f"params['augment']={params['augment']!r}: the augmentation is given twice, "
                                 f"also as {','.join(kinds)!r} (given as augment); give it once")
        pipe[-1].set_params(augment=",".join(kinds))
    return own


def _check_data(pipe, split, y_fit, task, *, cv, limit, name) -> None:
    """Everything the fits will need from the data, checked before the first one starts."""
    from .evaluation.cv import check_folds
    from .models._fit_checks import check_fit_data

    n_features = split.X_train.shape[1]
    check_fit_data(pipe, y_fit, n_features, what=f"the {len(y_fit):,} training images of {name}",
                   classes=task.names)
    if cv:  # the evaluation's folds are made from the split's training set, never augmented
        check_folds(task.target(split.y_train), cv, classes=task.names, models=[pipe], n_features=n_features,
                    more=f"a larger limit than {limit}" if limit else "more images")


def describe_run(dataset_arg, ds, split, task, *, model: str, params, raw_pixels: bool, estimator,
                 fit: FitInfo, test_size, seed, limit, stratify, augment, sha256: str, augment_how: str = "",
                 versions: dict | None = None, search=None, add: AddInfo | None = None) -> RunDescription:
    """The run description shared by ``train`` and ``search`` (see ARCHITECTURE.md)."""
    from ._json import plain

    return RunDescription(
        # microseconds: runs made within one second still sort by when they were made (`latest`)
        format=RUN_FORMAT, id="", created=datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S.%f%z"),
        dataset=DatasetInfo(name=ds.name, ref=_dataset_ref(dataset_arg, ds), source=ds.source,
                            checksums=dict(ds.checksums), verified=bool(ds.verified), shape=list(ds.shape),
                            classes=list(ds.classes)),
        split=SplitInfo(how=split.how, test_size=test_size, seed=seed, limit=limit, stratify=stratify,
                        n_train=len(split.train), n_test=len(split.test), augment=list(augment or ()),
                        augment_how=augment_how if augment else "", add=add),
        task=TaskInfo(kind=task.kind, detect=task.detect),
        classes=task.names, n_features=int(split.X_train.shape[1]),
        model=ModelInfo(name=model, params=plain(dict(params or {})), raw_pixels=raw_pixels,
                        estimator=repr(estimator), all_params=plain(_shallow_params(estimator)), sha256=sha256),
        versions=versions or library_versions(), seed=seed, fit=fit, search=search,
    )


def _dataset_ref(arg, ds) -> str:
    if isinstance(arg, str) and arg.lower() in ("mnist", "fashion-mnist", "digits", "wild-digits"):
        return arg.lower()
    p = Path(ds.source)
    return str(p.resolve()) if p.exists() else ds.name


def _shallow_params(est) -> dict:
    """The estimator's own parameters; objects (a sub-estimator) by their repr."""
    return {k: v if isinstance(v, (int, float, str, bool, type(None), tuple, list)) else repr(v)
            for k, v in est.get_params(deep=False).items()}

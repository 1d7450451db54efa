"""A finished run folder, read and validated: :class:`Run` and :func:`read_run`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from .._files import read_input_bytes
from ..exceptions import DataError, InputMissingError, ModelError
from . import _records
from ._names import MODEL_FILE, RUN_FILE
from ._records import RunDescription


@dataclass
class Run:
    """A finished run folder and its description (``info``, typed records of run.json)."""

    path: Path
    info: RunDescription

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def is_binary(self) -> bool:
        return self.info.task.kind == "binary"

    @property
    def detect(self) -> int | None:
        """The class index a detector run detects (None for multi-class runs)."""
        return self.info.task.detect if self.is_binary else None

    @property
    def classes(self) -> list[str]:
        """The task's class names (``["not 5", "5"]`` for a 5-detector)."""
        return list(self.info.classes)

    def load_model(self, *, allow_version_mismatch: bool = False, light: bool = False):
        """The fitted estimator, loaded safely and checked against what run.json says.

        *light*: for prediction only, a linear model may come back as a numpy-only stand-in
        (see :func:`digitlab.persist.load_model`)."""
        from ..persist import load_model

        info = self.info
        # H2: a check that is skipped when its key is missing protects nothing
        if info.model.sha256 is None:
            raise DataError(f"{self.path / RUN_FILE}: incomplete run description (model.sha256 missing)")
        if not info.versions.get("sklearn"):
            raise DataError(f"{self.path / RUN_FILE}: incomplete run description (versions.sklearn missing)")
        model = load_model(self.model_path, sha256=info.model.sha256, expect_sklearn=info.versions["sklearn"],
                           allow_version_mismatch=allow_version_mismatch, light=light)
        validate_model(model, self.model_path, n_features=info.n_features, n_classes=len(self.classes) or None)
        return model

    def load_split(self, *, data_dir=None, cache_dir=None, download: bool = False):
        """Rebuild the exact train/test split the run used (dataset reloaded, checksum compared).

        *download*: fetch a known dataset that is not on this machine (see ``datasets.load``).
        """
        from .. import datasets

        d, s = self.info.dataset, self.info.split
        ds = datasets.load(d.ref or d.name, data_dir=data_dir, cache_dir=cache_dir, download=download,
                           progress=False)
        if d.checksums and ds.checksums and d.checksums != ds.checksums:
            raise DataError(f"{ds.source}: dataset differs from the one run {self.id} was trained on "
                            "(checksums changed)")
        seed = s.seed if s.seed is not None else 0
        split = ds.train_test(s.test_size, seed=seed, limit=s.limit, stratify=s.stratify)
        if s.add is None:
            return split
        added = datasets.load(s.add.ref, progress=False)
        if s.add.checksums and added.checksums != s.add.checksums:
            raise DataError(f"{s.add.ref}: the added samples changed since run {self.id} was trained "
                            "(checksums differ); its split cannot be rebuilt")
        return split.add(added, seed=seed, what=s.add.ref)

    def __repr__(self) -> str:
        i, m = self.info, self.info.metrics
        task = "" if not self.is_binary else f", detect={i.task.detect!r}"
        score = m.f1 if self.is_binary else m.test_accuracy
        shown = f", {'f1' if self.is_binary else 'test_accuracy'}={score:.4f}" if score is not None else ""
        return f"Run({self.id!r}, {i.dataset.name!r}, {i.model.name!r}{task}{shown})"

    def _repr_html_(self) -> str:
        """Jupyter's display: what was trained on what, the fit, the key metrics (see :mod:`._display`)."""
        from ._display import run_html

        return run_html(self)

    def metrics(self) -> dict:
        """The metrics run.json holds, as a plain dict (``--json`` output): only those measured."""
        import msgspec

        return msgspec.to_builtins(self.info.metrics)

    def summary(self) -> dict:
        """One row of ``digitlab runs``."""
        i = self.info
        return {
            "id": self.id,
            "created": i.created or None,
            "dataset": i.dataset.name,
            "model": i.model.name,
            "task": "multiclass" if not self.is_binary else f"detect {i.task.detect}",
            "accuracy": i.metrics.test_accuracy,
            "f1": i.metrics.f1,
            "cv_mean": i.metrics.cv_mean,
            "fit_seconds": i.fit.seconds,
            "converged": i.fit.converged,
            "n_train": i.split.n_train,
        }


@dataclass
class BadRun:
    """A run folder whose run.json cannot be used; listed with its reason, never loaded."""

    path: Path
    reason: str

    @property
    def id(self) -> str:
        return self.path.name


def validate_model(model, path, *, n_features=None, n_classes=None) -> None:
    """D7: a loaded object must be a fitted classifier of the expected shape."""
    import numpy as np

    from .._light import LinearPipeline

    if not isinstance(model, LinearPipeline):
        from sklearn.base import is_classifier

        if not is_classifier(model):
            raise ModelError(f"{path}: not a classifier ({type(model).__name__})")
    if not hasattr(model, "predict"):
        raise ModelError(f"{path}: not a classifier ({type(model).__name__})")
    nf = getattr(model, "n_features_in_", None)
    if n_features is not None and nf is not None and nf != n_features:
        raise ModelError(f"{path}: model expects {nf} features, run.json says {n_features}")
    # a linear model's weights must be numbers: NaN or infinity would fail on every prediction
    clf = model[-1] if hasattr(model, "steps") else model
    for attr in ("coef_", "intercept_"):
        w = getattr(clf, attr, None)
        if isinstance(w, np.ndarray) and w.dtype.kind == "f" and not np.isfinite(w).all():
            raise ModelError(f"{path}: model file corrupted or modified ({attr} holds NaN or infinity)")
    classes = getattr(model, "classes_", None)
    if n_classes is not None and classes is not None and len(classes) != n_classes:
        raise ModelError(f"{path}: model has {len(classes)} classes, run.json says {n_classes}")


def read_run(path) -> Run:
    """The run in folder *path*, its run.json validated (H8): a bad one raises DataError (65)."""
    p = Path(path) / RUN_FILE
    if not p.exists():
        raise InputMissingError(f"{path}: not a run folder (no {RUN_FILE})")
    data = read_input_bytes(p, max_bytes=_records.MAX_BYTES, what="run description")  # H3
    try:
        info = _records.parse(data)
    except _records.InvalidRunDescription as exc:
        raise DataError(f"{p}: invalid run description ({exc})") from None
    return Run(Path(path), info)

"""Run folders: one trained model with everything needed to trust, re-evaluate and show it.

``runs/<id>/`` holds ``run.json`` (what was trained on what, library versions, fit time,
convergence, the model file's SHA-256 and a metrics summary), ``model.skops``, and, after
evaluation, ``eval.json``, ``predictions.npz`` and ``figures/``. A run is built in a hidden temp
folder and renamed into place in one step, so a crash or Ctrl-C never leaves a half-written run.
Run ids match ``[a-z0-9-]{1,64}`` so they are safe in URLs and paths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import _config, _json
from ._atomic import PART_MARK, ensure_dir, normal_mode, os_error, write_text
from . import run_format
from ._files import MAX_JSON_BYTES, read_input_bytes
from .exceptions import DataError, DigitlabError, InputMissingError, ModelError
from .run_format import RunDescription

ID_RE = re.compile(r"^[a-z0-9-]{1,64}$")
MODEL_FILE = "model.skops"


def make_run_id(*parts: str, when: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    slug = "-".join(re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts if p)
    return f"{stamp}-{slug}"[:56].rstrip("-")


@dataclass
class Run:
    """A finished run folder: ``meta`` is run.json as read, ``info`` the same as typed records."""

    path: Path
    meta: dict
    info: RunDescription | None = None

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def task(self) -> dict:
        return self.meta.get("task", {"kind": "multiclass"})

    @property
    def is_binary(self) -> bool:
        return self.task.get("kind") == "binary"

    @property
    def classes(self) -> list[str]:
        return list(self.meta.get("classes", []))

    def load_model(self, *, allow_version_mismatch: bool = False):
        """The fitted estimator, loaded safely and checked against what run.json says."""
        from .persist import load_model

        m, versions = self.meta.get("model"), self.meta.get("versions")
        sha = m.get("sha256") if isinstance(m, dict) else None
        sklearn_version = versions.get("sklearn") if isinstance(versions, dict) else None
        # H2: a check that is skipped when its key is missing protects nothing
        if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
            raise DataError(f"{self.path / 'run.json'}: incomplete run description (model.sha256 missing "
                            "or not a SHA-256)")
        if not isinstance(sklearn_version, str):
            raise DataError(f"{self.path / 'run.json'}: incomplete run description (versions.sklearn missing)")
        model = load_model(self.model_path, sha256=sha, expect_sklearn=sklearn_version,
                           allow_version_mismatch=allow_version_mismatch)
        validate_model(model, self.model_path, n_features=self.meta.get("n_features"),
                       n_classes=len(self.classes) or None)
        return model

    def load_eval(self) -> dict | None:
        p = self.path / "eval.json"
        if not p.exists():
            return None
        data = read_input_bytes(p, max_bytes=MAX_JSON_BYTES, what="evaluation")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise DataError(f"{p}: unreadable evaluation ({exc})") from None

    def load_split(self, *, data_dir=None, cache_dir=None):
        """Rebuild the exact train/test split the run used (dataset reloaded, checksum compared)."""
        from . import datasets

        d, s = self.meta["dataset"], self.meta["split"]
        ds = datasets.load(d.get("ref") or d["name"], data_dir=data_dir, cache_dir=cache_dir)
        if d.get("checksums") and ds.checksums and d["checksums"] != ds.checksums:
            raise DataError(f"{ds.source}: dataset differs from the one run {self.id} was trained on "
                            "(checksums changed)")
        split = ds.train_test(s.get("test_size"), seed=s.get("seed", 0), limit=s.get("limit"),
                              stratify=s.get("stratify", True))
        return split

    def summary(self) -> dict:
        m, t = self.meta, self.task
        metrics = m.get("metrics", {})
        return {
            "id": self.id,
            "created": m.get("created"),
            "dataset": m.get("dataset", {}).get("name"),
            "model": m.get("model", {}).get("name"),
            "task": "multiclass" if t.get("kind") != "binary" else f"detect {t.get('detect')}",
            "accuracy": metrics.get("test_accuracy"),
            "f1": metrics.get("f1"),
            "cv_mean": metrics.get("cv_mean"),
            "fit_seconds": m.get("fit", {}).get("seconds"),
            "converged": m.get("fit", {}).get("converged"),
            "n_train": m.get("split", {}).get("n_train"),
        }


def validate_model(model, path, *, n_features=None, n_classes=None) -> None:
    """D7: a loaded object must be a fitted classifier of the expected shape."""
    from sklearn.base import is_classifier

    if not is_classifier(model) or not hasattr(model, "predict"):
        raise ModelError(f"{path}: not a classifier ({type(model).__name__})")
    nf = getattr(model, "n_features_in_", None)
    if n_features is not None and nf is not None and nf != n_features:
        raise ModelError(f"{path}: model expects {nf} features, run.json says {n_features}")
    classes = getattr(model, "classes_", None)
    if n_classes is not None and classes is not None and len(classes) != n_classes:
        raise ModelError(f"{path}: model has {len(classes)} classes, run.json says {n_classes}")


def read_run(path: Path) -> Run:
    """The run in folder *path*, its run.json validated (H8): a bad one raises DataError (65)."""
    p = Path(path) / "run.json"
    if not p.exists():
        raise InputMissingError(f"{path}: not a run folder (no run.json)")
    data = read_input_bytes(p, max_bytes=run_format.MAX_BYTES, what="run description")  # H3
    try:
        meta, info = run_format.parse(data)
    except run_format.InvalidRunDescription as exc:
        raise DataError(f"{p}: invalid run description ({exc})") from None
    return Run(Path(path), meta, info)


@dataclass
class BadRun:
    """A run folder whose run.json cannot be used; listed with its reason, never loaded."""

    path: Path
    reason: str

    @property
    def id(self) -> str:
        return self.path.name


def scan_runs(runs_dir=None) -> tuple[list[Run], list[BadRun]]:
    """The valid runs (oldest first) and the invalid ones of a runs folder; one bad run.json
    never hides the others."""
    root = _config.runs_dir(runs_dir)
    good, bad = [], []
    if not root.is_dir():
        return good, bad
    for p in sorted(root.iterdir()):
        if p.is_dir() and ID_RE.match(p.name) and (p / "run.json").exists():
            try:
                good.append(read_run(p))
            except DigitlabError as exc:
                bad.append(BadRun(p, str(exc)))
    good.sort(key=lambda r: (r.info.created, r.id))
    return good, bad


def list_runs(runs_dir=None) -> list[Run]:
    """The valid runs of a runs folder, oldest first (see :func:`scan_runs` for the invalid ones)."""
    return scan_runs(runs_dir)[0]


def resolve_run(ref: str | os.PathLike, runs_dir=None) -> Run:
    """A run by id, unique id prefix, ``latest``, or folder path."""
    ref_s = str(ref)
    p = Path(ref_s)
    if (p / "run.json").exists():
        return read_run(p)
    root = _config.runs_dir(runs_dir)
    runs, bad = scan_runs(runs_dir)
    for b in bad:
        if b.id == ref_s:  # named explicitly: say why it can't be used (65)
            raise DataError(b.reason)
    if ref_s == "latest":
        if not runs:
            raise InputMissingError(f"{root}: no runs yet — run `digitlab train` first")
        return runs[-1]
    if not ID_RE.match(ref_s):
        raise InputMissingError(f"{ref_s}: no such run")
    exact = [r for r in runs if r.id == ref_s]
    matches = exact or [r for r in runs if ref_s in r.id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputMissingError(f"{ref_s}: no such run in {root} (see `digitlab runs`)")
    raise InputMissingError(f"{ref_s}: ambiguous, matches {len(matches)} runs ({matches[0].id}, ...)")


class RunWriter:
    """Build a run in a temp folder; :meth:`commit` renames it to ``runs/<id>``.

    Leaving the ``with`` block without committing (error, Ctrl-C) deletes the temp folder.
    """

    def __init__(self, run_id: str, runs_dir=None):
        self.root = _config.runs_dir(runs_dir)
        self.run_id = run_id
        self.path: Path | None = None
        self.final: Path | None = None

    def __enter__(self) -> "RunWriter":
        ensure_dir(self.root)
        if not os.access(self.root, os.W_OK):
            from .exceptions import NoPermissionError

            raise NoPermissionError(f"{self.root}: runs folder is not writable (Permission denied); "
                                    "pass --runs-dir or set DIGITLAB_RUNS_DIR")
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.run_id}{PART_MARK}", dir=self.root))
            normal_mode(self.path, directory=True)
        except OSError as exc:
            raise os_error(self.root, exc, "cannot create run folder") from None
        return self

    def write_json(self, name: str, obj) -> Path:
        return write_text(self.path / name, _json.dumps(obj) + "\n")

    def commit(self) -> Path:
        for k in range(1, 1000):
            final = self.root / (self.run_id if k == 1 else f"{self.run_id}-{k}")
            if final.exists():
                continue
            try:
                os.rename(self.path, final)  # atomic; fails if another process took the name
            except OSError:
                if final.exists():
                    continue
                raise
            self.final, self.path = final, None
            return final
        raise DataError(f"{self.root}: too many runs named {self.run_id}")

    def __exit__(self, *exc):
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        return False

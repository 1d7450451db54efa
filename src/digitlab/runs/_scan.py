"""Finding runs in a runs folder: :func:`scan_runs`, :func:`list_runs`, :func:`resolve_run`,
:func:`choose_run` (the run and why it was chosen) and :func:`best_run`."""

from __future__ import annotations

import os
from pathlib import Path

from .. import _config
from ..exceptions import DataError, DigitlabError, InputMissingError
from ._names import ID_RE, RUN_FILE
from ._run import BadRun, Run, read_run


def scan_runs(runs_dir=None) -> tuple[list[Run], list[BadRun]]:
    """The valid runs (oldest first) and the invalid ones of a runs folder; one bad run.json
    never hides the others."""
    root = _config.runs_dir(runs_dir)
    good, bad = [], []
    if not root.is_dir():
        return good, bad
    for p in sorted(root.iterdir()):
        if p.is_dir() and ID_RE.match(p.name) and (p / RUN_FILE).exists():
            try:
                good.append(read_run(p))
            except DigitlabError as exc:
                bad.append(BadRun(p, str(exc)))
    good.sort(key=lambda r: (r.info.created, r.id))
    return good, bad


class Runs(list):
    """The valid runs of a runs folder, oldest first: a list of :class:`Run`, shown as a table in
    Jupyter; ``bad`` holds the runs whose run.json cannot be used, ``root`` the folder."""

    def __init__(self, runs=(), bad=(), root=None):
        super().__init__(runs)
        self.bad, self.root = list(bad), root

    def __repr__(self) -> str:
        ids = ", ".join(r.id for r in self[:3]) + (", …" if len(self) > 3 else "")
        extra = f", {len(self.bad)} not usable" if self.bad else ""
        return f"Runs({len(self)} run{'s' * (len(self) != 1)}{extra}: {ids})"

    def _repr_html_(self) -> str:
        from ._display import runs_html

        return runs_html(self)

    def to_frame(self):
        """One row per run (the columns of ``digitlab runs``) as a pandas DataFrame, indexed by id."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Runs.to_frame() needs pandas: pip install pandas") from None
        from ._display import COLUMNS

        return pd.DataFrame([r.summary() for r in self], columns=COLUMNS + ["created"]).set_index("id")


def list_runs(runs_dir=None) -> Runs:
    """The valid runs of a runs folder, oldest first, as :class:`Runs` (a list; its ``bad`` holds
    the invalid ones, see :func:`scan_runs`)."""
    good, bad = scan_runs(runs_dir)
    return Runs(good, bad, _config.runs_dir(runs_dir))


def resolve_run(ref: str | os.PathLike, runs_dir=None) -> Run:
    """A run by id, unique part of an id, ``latest``, ``best``, ``best:DATASET`` or folder path."""
    return choose_run(ref, runs_dir)[0]


def best_run(runs: list[Run], dataset: str | None = None) -> tuple[Run | None, str]:
    """The evaluated multi-class run with the highest test accuracy (on *dataset*, else on the
    dataset of the newest such run), and a sentence saying why; ties go to the larger test set,
    then the newer run. Detectors are left out: their accuracy answers another question."""
    scored = [r for r in runs if not r.is_binary and r.info.metrics.test_accuracy is not None]
    if dataset is None and scored:
        dataset = scored[-1].info.dataset.name
    scored = [r for r in scored if r.info.dataset.name == dataset]
    if not scored:
        return None, f"no evaluated multi-class run{' on ' + dataset if dataset else ''}"
    best = max(scored, key=lambda r: (r.info.metrics.test_accuracy, r.info.split.n_test, r.info.created, r.id))
    n = len(scored)
    return best, (f"best: the highest test accuracy ({best.info.metrics.test_accuracy:.4f}) of "
                  f"{n} evaluated multi-class run{'s' if n != 1 else ''} on {dataset}")


def choose_run(ref: str | os.PathLike, runs_dir=None) -> tuple[Run, str]:
    """Like :func:`resolve_run`, with the reason the run was chosen (shown by ``serve`` and
    ``predict``): ``"named"``, ``"latest: ..."`` or ``"best: ..."``."""
    ref_s = str(ref)
    p = Path(ref_s)
    if (p / RUN_FILE).exists():
        return read_run(p), "named: a run folder"
    root = _config.runs_dir(runs_dir)
    runs, bad = scan_runs(runs_dir)
    for b in bad:
        if b.id == ref_s:  # named explicitly: say why it can't be used (65)
            raise DataError(b.reason)
    if not runs and (ref_s in ("latest", "best") or ref_s.startswith("best:")):
        raise InputMissingError(f"{root}: no runs yet — run `digitlab train` first")
    if ref_s == "latest":
        return runs[-1], "latest: the newest run"
    if ref_s == "best" or ref_s.startswith("best:"):
        dataset = ref_s.partition(":")[2] or None
        run, why = best_run(runs, dataset)
        if run is None:
            raise InputMissingError(f"{ref_s}: {why} in {root} (train one with `digitlab train`, or name a run)")
        return run, why
    if not ID_RE.match(ref_s):
        raise InputMissingError(f"{ref_s}: no such run")
    exact = [r for r in runs if r.id == ref_s]
    matches = exact or [r for r in runs if ref_s in r.id]
    if len(matches) == 1:
        return matches[0], "named"
    if not matches:
        raise InputMissingError(f"{ref_s}: no such run in {root} (see `digitlab runs`)")
    raise InputMissingError(f"{ref_s}: ambiguous, matches {len(matches)} runs ({matches[0].id}, ...)")

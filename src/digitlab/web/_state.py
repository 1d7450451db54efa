"""What the server keeps between requests: the runs it may show and their loaded models.

Runs are addressed only by their opaque id (``[a-z0-9-]{1,64}``) and looked up among the run
folders of the runs directory, so no request can name a path. Models are loaded once per run id
(skops, allow-list) and kept in a small LRU cache; so are test images for the error gallery.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .. import _config
from ..exceptions import DigitlabError
from ..runs import EVAL_FILE, ID_RE, PREDICTIONS_FILE, RUN_FILE, BadRun, Run, scan_runs
from ._guard import ApiError

MAX_MODELS = 4  # a random forest is hundreds of MB: keep only the recently used ones
MAX_SPLITS = 2


class _LRU:
    def __init__(self, size):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()
        self.key_locks: dict = {}

    def get(self, key, make):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            key_lock = self.key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one load per key, even with concurrent first requests
            with self.lock:
                if key in self.items:
                    return self.items[key]
            value = make()
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
            return value

    def clear(self):
        with self.lock:
            self.items.clear()


class RunRegistry:
    """The runs of one runs folder (plus, optionally, one run given on the command line)."""

    def __init__(self, runs_dir=None, run: Run | None = None):
        self.root = _config.runs_dir(runs_dir)
        self.pinned = run
        self.default_id = run.id if run is not None else None
        self.models = _LRU(MAX_MODELS)
        self.splits = _LRU(MAX_SPLITS)
        self.results = _LRU(8)

    def runs(self) -> list[Run]:
        return self.scan()[0]

    def scan(self) -> tuple[list[Run], list[BadRun]]:
        """The valid runs (oldest first) and the invalid ones."""
        found, bad = scan_runs(self.root)
        if self.pinned is not None and all(r.id != self.pinned.id for r in found):
            found.append(self.pinned)
        return found, bad

    def default(self) -> str:
        if self.default_id:
            return self.default_id
        runs = self.runs()
        if not runs:
            raise ApiError(404, "no_runs", "no runs yet; train one with `digitlab train`")
        return runs[-1].id

    def get(self, run_id: str | None) -> Run:
        if run_id is None or run_id == "":
            run_id = self.default()
        if not isinstance(run_id, str) or not ID_RE.match(run_id):
            raise ApiError(400, "bad_run_id", "run: a run id is 1–64 characters a-z, 0-9 and '-'")
        if self.pinned is not None and run_id == self.pinned.id:
            return self.pinned
        path = self.root / run_id
        # backstop: a symlink in the runs folder must not lead outside it
        real_root, real = os.path.realpath(self.root), os.path.realpath(path)
        if os.path.commonpath([real_root, real]) != real_root or not (path / RUN_FILE).is_file():
            raise ApiError(404, "unknown_run", f"run {run_id} not found")
        from ..runs import read_run

        return read_run(path)

    def predictor(self, run: Run):
        from ..predicting import Predictor

        key = (run.id, _mtime(run.model_path))
        return self.models.get(key, lambda: Predictor.from_run(run))

    def result(self, run: Run):
        """The run's stored EvalResult (checked by its one loader), or None if not evaluated."""
        from ..evaluation import load_result

        key = (run.id, _mtime(run.path / EVAL_FILE), _mtime(run.path / PREDICTIONS_FILE))

        def load():
            try:
                return load_result(run, required=False)
            except DigitlabError as exc:
                from ._errors import public_message

                raise ApiError(422, "bad_evaluation", f"run {run.id}: {public_message(str(exc), self.root)}") from None

        return self.results.get(key, load)

    def test_images(self, run: Run) -> np.ndarray:
        def load():
            try:
                return run.load_split().test.images
            except Exception as exc:  # noqa: BLE001 - any failure: the gallery is unavailable
                from ._errors import public_message

                raise ApiError(409, "dataset_unavailable", f"run {run.id}: its test images cannot be "
                               f"loaded ({public_message(str(exc), self.root)})") from None

        return self.splits.get(run.id, load)


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0

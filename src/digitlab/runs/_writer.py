"""Writing run folders: :class:`RunWriter` builds one in a temp folder and renames it into place."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from .. import _config, _json
from .._atomic import PART_MARK, ensure_dir, normal_mode, os_error, write_text
from ..exceptions import DataError, NoPermissionError
from ._names import RUN_FILE
from ._records import RunDescription, encode


def make_run_id(*parts: str, when: float | None = None) -> str:
    """``20261129-101500-mnist-logreg``: a timestamp and a slug, safe in URLs and paths."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    slug = "-".join(re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts if p)
    return f"{stamp}-{slug}"[:56].rstrip("-")


def write_description(folder: Path, info: RunDescription) -> Path:
    """Write (or atomically replace) a run folder's run.json."""
    return write_text(Path(folder) / RUN_FILE, encode(info))


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
            raise NoPermissionError(f"{self.root}: runs folder is not writable (Permission denied); "
                                    "pass --runs-dir or set DIGITLAB_RUNS_DIR")
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.run_id}{PART_MARK}", dir=self.root))
            normal_mode(self.path, directory=True)
        except OSError as exc:
            raise os_error(self.root, exc, "cannot create run folder") from None
        return self

    def write_description(self, info: RunDescription) -> Path:
        return write_description(self.path, info)

    def write_json(self, name: str, obj) -> Path:
        """Another JSON file of the run (search.json): numpy values made plain."""
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

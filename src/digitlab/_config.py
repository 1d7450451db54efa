"""Where digitlab reads data and writes runs.

Order for data: an explicit argument > ``$DIGITLAB_DATA_DIR`` > the user cache (platformdirs).
"""

from __future__ import annotations

import os
from pathlib import Path


DATA_ENV = "DIGITLAB_DATA_DIR"
CACHE_ENV = "DIGITLAB_CACHE_DIR"
RUNS_ENV = "DIGITLAB_RUNS_DIR"


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The writable cache where downloads and `data import` put files."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs  # only when the default is needed (15 ms of imports)

    return Path(platformdirs.user_cache_dir("digitlab"))


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for dataset files, most specific first (the cache is last)."""
    dirs: list[Path] = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    env = os.environ.get(DATA_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    return dirs


def runs_dir(path: str | os.PathLike | None = None) -> Path:
    """Where runs are written: argument > ``$DIGITLAB_RUNS_DIR`` > ``./runs``."""
    if path is not None:
        return Path(path).expanduser()
    return Path(os.environ.get(RUNS_ENV) or "runs")

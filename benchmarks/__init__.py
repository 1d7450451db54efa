"""digitlab's benchmark suite: ``python -m benchmarks [--quick] [--only NAME]``.

Each ``benchmarks/bench_<name>.py`` exposes ``run(quick: bool) -> list[dict]``; every dict is one
table row with the keys of :data:`ROW_KEYS` (any may be None). ``python -m benchmarks`` runs the
modules and rewrites ``BENCHMARKS.md`` and ``BENCHMARKS.json`` beside it.

Conventions for the modules (see ``bench_logreg.py``):

- run each case in a fresh subprocess (:func:`run_case`) so its peak RSS is its own, several
  times inside that process, and report the median (:func:`summarise`);
- compare against a baseline measured in the *same* run: the machine is shared and noisy, so
  ``ratio = baseline seconds / case seconds`` (a speed-up) is the number that counts;
- ``section="reliability"`` rows get their own section at the end of the report.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW_KEYS = ("section", "case", "seconds", "peak_rss_mb", "iterations", "accuracy", "baseline", "ratio",
            "notes")


def run_case(target: str, *, repeats: int = 3, timeout: float = 3600, **kwargs) -> dict:
    """Run ``module:function(**kwargs)`` *repeats* times in one fresh Python process.

    The function returns a dict with at least ``seconds`` (the timed part only, e.g. the fit)
    and any of ``iterations``, ``accuracy``, ``notes`` and other numbers.

    Returns
    -------
    dict
        ``runs`` (the list of dicts), ``peak_rss_mb`` (the child's ru_maxrss), or ``error``.
    """
    spec = json.dumps({"target": target, "kwargs": kwargs, "repeats": repeats})
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks._child", spec], capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or [f"exit code {proc.returncode}"]
        return {"error": lines[-1][:300]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(result: dict, section: str, case: str, *, baseline: dict | None = None,
              baseline_name: str | None = None, notes: str = "") -> dict:
    """One table row from a :func:`run_case` result: the median over its runs.

    ``baseline`` is another :func:`run_case` result; ``ratio`` = its median seconds / ours.
    """
    row = dict.fromkeys(ROW_KEYS)
    row.update(section=section, case=case, baseline=baseline_name)
    if "error" in result:
        row["notes"] = f"failed: {result['error']}"
        return row
    runs = result["runs"]
    row["seconds"] = statistics.median(r["seconds"] for r in runs)
    row["peak_rss_mb"] = result.get("peak_rss_mb")
    first = runs[0]
    if first.get("iterations") is not None:
        row["iterations"] = statistics.median(r["iterations"] for r in runs)
    row["accuracy"] = first.get("accuracy")
    if baseline and "runs" in baseline and row["seconds"]:
        row["ratio"] = statistics.median(r["seconds"] for r in baseline["runs"]) / row["seconds"]
    parts = [p for p in (first.get("notes"), notes) if p]
    parts.append(f"median of {len(runs)}" if len(runs) > 1 else "1 run")
    row["notes"] = "; ".join(parts)
    return row


def mnist_dir() -> Path | None:
    """``$DIGITLAB_DATA_DIR``, else ``../shared/data/mnist`` beside the repository, else None."""
    env = os.environ.get("DIGITLAB_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data" / "mnist"]:
        if (cand / "train-labels-idx1-ubyte.gz").is_file() or (cand / "train-labels-idx1-ubyte").is_file():
            return cand
    return None


def load_mnist_split(how: str = "canonical"):
    """MNIST as the benchmarks use it (``DIGITLAB_DATA_DIR`` or digitlab's cache).

    ``how``: ``"canonical"`` (60,000 / 10,000), ``"80/20"`` (stratified, seed 0) or ``"notebook"``
    (the notebooks' unstratified ``train_test_split(test_size=1/7, random_state=0)``).
    """
    from digitlab import datasets

    ds = datasets.load("mnist", data_dir=mnist_dir(), download=False)
    if how == "canonical":
        return ds.train_test()
    if how == "80/20":
        return ds.train_test(0.2, seed=0, stratify=False)
    if how == "notebook":
        return ds.train_test(1 / 7, seed=0, stratify=False)
    raise ValueError(f"unknown split {how!r}")

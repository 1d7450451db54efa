"""digitlab's benchmark suite: ``python -m benchmarks [--quick] [--only NAME]``.

Each ``benchmarks/bench_<name>.py`` exposes ``run(quick: bool) -> list[dict]``; every dict is one
table row with the keys of :data:`ROW_KEYS` (any may be None). ``python -m benchmarks`` runs the
modules and rewrites ``BENCHMARKS.md`` and ``BENCHMARKS.json`` beside it.

Conventions for the modules (see ``bench_logreg.py``):

- run each case in a fresh subprocess (:func:`run_case`) so its peak RSS is its own, several
  times inside that process, and report the median (:func:`summarise`);
- compare against a baseline measured in the *same* run: the machine is shared and noisy, so
  ``ratio = baseline seconds / case seconds`` (a speed-up) is the number that counts;
- ``section="reliability"`` rows get their own section at the end of the report;
- a row may carry the keys of :data:`EXTRA_COLUMNS` (accuracy under corruption, on wild
  digits): a section where any row has one shows that column, before the notes.
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
# optional columns: key -> header (issue 13: robustness and wild-digit accuracy beside the clean one)
EXTRA_COLUMNS = {"robustness": "robustness (mean)", "wild": "wild digits"}


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


ROBUSTNESS_IMAGES = 2000  # a seeded test subset: 36 corrupted copies of it per model


def robustness_and_wild(pipe, test) -> dict:
    """``robustness``: mean accuracy of *pipe* over :func:`digitlab.robustness.robustness`'s 12
    corruptions x 3 severities on a seeded :data:`ROBUSTNESS_IMAGES`-image subset of the Dataset
    *test*; ``wild``: its accuracy on the frozen ``wild-digits`` set (issue 13 §2, §5)."""
    import numpy as np

    from digitlab import datasets
    from digitlab.robustness import robustness

    if len(test) > ROBUSTNESS_IMAGES:
        test = test.subset(np.sort(np.random.default_rng(0).choice(len(test), ROBUSTNESS_IMAGES, replace=False)))
    wild = datasets.load("wild-digits")
    return {"robustness": robustness(pipe.predict, test.images, test.labels, seed=0).mean_accuracy,
            "wild": float(np.mean(pipe.predict(wild.X) == wild.y))}


def keep_rows(module: str, section: str, fresh: dict) -> list[dict]:
    """The rows in *fresh* (case -> row) in place of theirs; every other row of *section* as the
    last ``BENCHMARKS.json`` has it for *module*, noted with the date it was measured. For a
    module that can rerun some of its cases (an environment variable names them) on a busy
    machine without re-timing the rest."""
    try:
        previous = json.loads((ROOT / "BENCHMARKS.json").read_text())["modules"][module]
        old_rows, date = previous["rows"], previous["date"]
    except (OSError, ValueError, KeyError):
        old_rows, date = [], None
    fresh, rows = dict(fresh), []
    for row in old_rows:
        if row.get("case") in fresh:
            rows.append(fresh.pop(row["case"]))
        elif row.get("section") == section:
            notes = row.get("notes") or ""
            rows.append(row | {"notes": notes if "measured 20" in notes else f"{notes}; measured {date}"})
    return rows + list(fresh.values())


def timed_fit(pipe, split) -> dict:
    """Fit *pipe* on *split*'s training set and score its test set: wall and CPU seconds of the
    fit, predict seconds, accuracy, and the load average before and after."""
    import time

    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    pipe.fit(split.X_train, split.y_train)
    fit, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    accuracy = float(pipe.score(split.X_test, split.y_test))
    predict = time.perf_counter() - t0
    return {"fit": fit, "fit_cpu": fit_cpu, "predict": predict, "accuracy": accuracy,
            "load": [round(load_before, 1), round(os.getloadavg()[0], 1)]}

"""`digitlab search`: 1 local process vs a 2-worker local Dask cluster.

The same grid search (logreg on a stratified MNIST subset, 3 folds) runs sequentially in this
process and on ``--cluster local:2``. From the per-task cost measured inside the tasks
(cv_results_' fit + score times) we get the speed-up, the scheduling overhead per task, and a paper
estimate for a 100-candidate grid on a 16-worker cluster. The reliability rows run the fuzz
properties of ``tests/hostile/_fuzzing.py`` a fixed number of times.

Run: ``nice .venv/bin/python -m benchmarks.bench_search`` (``--quick`` for the small version).
"""

from __future__ import annotations

import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRID_QUICK = ["0.01", "0.1", "1", "10"]
GRID_FULL = ["0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mnist():
    from digitlab import datasets

    data_dir = os.environ.get("DIGITLAB_DATA_DIR") or str(ROOT.parent / "shared" / "data" / "mnist")
    return datasets.load("mnist", data_dir=data_dir, download=False, progress=False)


def _search_rows(quick: bool) -> list[dict]:
    from digitlab.searching import load_search, search

    try:
        ds = _mnist()
    except Exception as exc:  # noqa: BLE001
        return [{"section": "search", "case": "search", "notes": f"skipped: MNIST not available ({exc})"}]
    limit, grid, cv = (3000, GRID_QUICK, 3) if quick else (12000, GRID_FULL, 3)
    common = dict(grid={"C": grid}, cv=cv, limit=limit, evaluate=False)
    rows, records = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for case, kw in (("1 local process", {"n_jobs": 1}), ("local:2 (Dask, 2 workers)", {"cluster": "local:2"})):
            t0 = time.perf_counter()
            run = search(ds, "logreg", runs_dir=tmp, **common, **kw)
            wall = time.perf_counter() - t0
            rec = load_search(run)
            records[case] = (rec, wall)
    (seq, seq_wall), (dsk, dsk_wall) = records["1 local process"], records["local:2 (Dask, 2 workers)"]
    n_tasks = len(grid) * cv
    cr = seq["cv_results"]
    task_cost = sum(f + s for f, s in zip(cr["mean_fit_time"], cr["mean_score_time"])) / len(grid)
    cr_d = dsk["cv_results"]
    task_cost_d = sum(f + s for f, s in zip(cr_d["mean_fit_time"], cr_d["mean_score_time"])) / len(grid)
    speedup = seq["seconds"] / dsk["seconds"]
    # what 2 workers spent beyond the tasks themselves, per task: scheduling, transfers, idling
    overhead = (dsk["seconds"] * dsk["workers"] - task_cost_d * n_tasks) / n_tasks
    same = seq["cv_results"]["mean_test_score"] == dsk["cv_results"]["mean_test_score"]
    rows.append({"section": "search", "case": f"1 local process, {len(grid)} candidates x {cv} folds, "
                 f"{limit:,} images", "seconds": round(seq["seconds"], 2), "peak_rss_mb": None,
                 "iterations": n_tasks, "accuracy": round(seq["best_score"], 4), "baseline": None,
                 "ratio": None, "notes": f"per-task cost {task_cost:.2f} s; wall incl. refit {seq_wall:.1f} s"})
    rows.append({"section": "search", "case": "local:2 Dask workers, same search", "seconds": round(dsk["seconds"], 2),
                 "peak_rss_mb": round(_rss_mb(), 1), "iterations": n_tasks,
                 "accuracy": round(dsk["best_score"], 4), "baseline": round(seq["seconds"], 2),
                 "ratio": round(speedup, 2),
                 "notes": f"speed-up {speedup:.2f}x on 2 cores; scheduling overhead {overhead:.2f} s/task "
                          f"(per-task cost on workers {task_cost_d:.2f} s); scores identical to local: {same}; "
                          f"wall incl. cluster start and refit {dsk_wall:.1f} s; load average during the "
                          f"run {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"})
    # Paper estimate: 100 candidates x cv folds on 16 workers, tasks in waves of 16. Task cost
    # scales ~linearly with training images for lbfgs logreg (assumption), so full MNIST's
    # 40,000-image folds cost about (60000 / limit) times the measured one.
    n100 = 100 * cv
    waves = math.ceil(n100 / 16)
    est_small = waves * (task_cost_d + max(overhead, 0.0))
    scale = 60000 / limit
    est_full = waves * (task_cost_d * scale + max(overhead, 0.0))
    rows.append({"section": "search", "case": "paper estimate: 100 candidates x 3 folds on 16 workers",
                 "seconds": round(est_small, 1), "peak_rss_mb": None, "iterations": n100, "accuracy": None,
                 "baseline": round(n100 * task_cost, 1), "ratio": round(n100 * task_cost / est_small, 1),
                 "notes": f"{waves} waves x ({task_cost_d:.2f} s task + {max(overhead, 0):.2f} s overhead) at "
                          f"{limit:,} images; on full MNIST (x{scale:.0f} per task, assumed linear) "
                          f"~{est_full / 60:.0f} min vs ~{n100 * task_cost * scale / 60:.0f} min in 1 process; "
                          "plus one scatter of X (47 MB) to each worker"})
    return rows


def run(quick: bool = False) -> list[dict]:
    """Rows for BENCHMARKS.md: the search comparison (fuzzing counts are in bench_reliability)."""
    return _search_rows(quick)


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"[{row['section']}] {row['case']}: {row.get('seconds')} s  ratio={row.get('ratio')}  {row.get('notes')}")

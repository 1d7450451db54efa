"""The CNN configurations (issue 14 §2, issue 13 §3): accuracy over seeds, time, robustness.

Each registered configuration (``cnn-fast``, ``cnn``, ``cnn-best``) is fitted on the 60,000 MNIST
training images with ``random_state`` 0, 1 and 2, each seed in a fresh process, and scored on the
10,000 test images. Three rows per configuration:

- ``seconds`` = fit + predict wall time (median over the seeds), ``accuracy`` = mean test
  accuracy; the notes give every seed, the spread, the process CPU time (torch's 2 threads
  together) and the load average before and after, since the machine is shared;
- the mean accuracy under :mod:`digitlab.corruptions`' 12 corruptions x 3 severities on a seeded
  2,000-image test subset (mean over the seeds);
- accuracy on the frozen ``wild-digits`` set (mean over the seeds).

``DIGITLAB_BENCH_CNN=cnn-fast,cnn`` runs only those configurations (any registry model name).
``--quick``: ``cnn-fast`` on a stratified 10,000-image subset, one seed, 1,667 test images.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from benchmarks import load_mnist_split, run_case

SECTION = "CNN configurations (MNIST 60k/10k, 3 seeds)"
QUICK_SECTION = "CNN configurations, quick (10k training images, 1 seed)"
CONFIGS = {"cnn-fast": "≥ 0.995 in ≤ 60 s", "cnn": "≥ 0.996 in ≤ 120 s", "cnn-best": "≥ 0.997 in ≤ 600 s"}
SEEDS = (0, 1, 2)
ROBUSTNESS_IMAGES = 2000


def cnn_case(model: str, seed: int, limit: int | None = None) -> dict:
    """Fit *model* with ``random_state=seed``; test, corrupted-test and wild-digits accuracy."""
    from digitlab import datasets
    from digitlab.corruptions import robustness
    from digitlab.models import make_model

    s = load_mnist_split("canonical")
    if limit:
        s = s.limit(limit, seed=0)
    pipe = make_model(model, {"random_state": seed})
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    pipe.fit(s.X_train, s.y_train)
    fit, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    accuracy = float(pipe.score(s.X_test, s.y_test))
    predict = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    test = s.test
    if len(test) > ROBUSTNESS_IMAGES:
        test = test.subset(np.sort(np.random.default_rng(0).choice(len(test), ROBUSTNESS_IMAGES, replace=False)))
    rob = robustness(pipe.predict, test.images, test.labels, seed=0)
    wild = datasets.load("wild-digits")
    return {"seconds": fit + predict, "accuracy": accuracy, "fit": fit, "fit_cpu": fit_cpu, "predict": predict,
            "iterations": int(pipe[-1].n_iter_), "load": [round(load_before, 1), round(load_after, 1)],
            "robustness": rob.mean_accuracy, "wild": float(np.mean(pipe.predict(wild.X) == wild.y))}


def _rows(model: str, results: list[dict], section: str, target: str) -> list[dict]:
    failed = [r["error"] for r in results if "error" in r]
    base = {"section": section, "baseline": None, "ratio": None}
    if failed:
        return [base | {"case": model, "seconds": None, "peak_rss_mb": None, "iterations": None, "accuracy": None,
                        "notes": f"failed: {failed[0]}"}]
    runs = [r["runs"][0] for r in results]
    accs = [r["accuracy"] for r in runs]
    loads = ", ".join(f"{a}→{b}" for a, b in (r["load"] for r in runs))
    rss = max(r["peak_rss_mb"] for r in results)
    per_seed = ", ".join(f"{a:.4f}" for a in accs)
    n = len(runs)
    robs = ", ".join(f"{r['robustness']:.4f}" for r in runs)
    wilds = ", ".join(f"{r['wild']:.4f}" for r in runs)
    return [
        base | {"case": model, "seconds": statistics.median(r["seconds"] for r in runs), "peak_rss_mb": rss,
                "iterations": runs[0]["iterations"], "accuracy": statistics.mean(accs),
                "notes": (f"mean of {n} seeds ({per_seed}; spread {max(accs) - min(accs):.4f}); fit "
                          f"{statistics.median(r['fit'] for r in runs):.1f} s wall, "
                          f"{statistics.median(r['fit_cpu'] for r in runs):.0f} s CPU, predict "
                          f"{statistics.median(r['predict'] for r in runs):.1f} s (medians); load average "
                          f"before→after {loads} on 2 cores; target {target}")},
        base | {"case": f"{model}: mean under 12 corruptions x 3 severities", "seconds": None, "peak_rss_mb": None,
                "iterations": None, "accuracy": statistics.mean(r["robustness"] for r in runs),
                "notes": (f"mean of {n} seeds ({robs}); "
                          f"digitlab.corruptions.robustness on {ROBUSTNESS_IMAGES:,} test images, seed 0")},
        base | {"case": f"{model}: wild digits (1,500)", "seconds": None, "peak_rss_mb": None, "iterations": None,
                "accuracy": statistics.mean(r["wild"] for r in runs),
                "notes": f"mean of {n} seeds ({wilds})"},
    ]


def run(quick: bool) -> list[dict]:
    import importlib.util

    target = "benchmarks.bench_cnn:cnn_case"
    if importlib.util.find_spec("torch") is None:
        return [{"section": QUICK_SECTION if quick else SECTION, "case": "cnn", "notes": "skipped: PyTorch not installed"}]
    if quick:
        res = run_case(target, repeats=1, model="cnn-fast", seed=0, limit=10000, timeout=3600)
        return _rows("cnn-fast", [res], QUICK_SECTION, "none (quick mode)")
    chosen = [m.strip() for m in os.environ.get("DIGITLAB_BENCH_CNN", "").split(",") if m.strip()] or list(CONFIGS)
    rows = []
    for model in chosen:
        results = [run_case(target, repeats=1, model=model, seed=seed, timeout=2 * 3600) for seed in SEEDS]
        rows += _rows(model, results, SECTION, CONFIGS.get(model, "none"))
    return rows


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1, default=str))

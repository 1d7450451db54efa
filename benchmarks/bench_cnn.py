"""The CNN configurations (issue 14 §2, issue 13 §3): accuracy over seeds, time, robustness.

Each registered configuration (``cnn-fast``, ``cnn``, ``cnn-best``) is fitted on the 60,000 MNIST
training images with ``random_state`` 0, 1 and 2, each seed in a fresh process, and scored on the
10,000 test images. One row per configuration:

- ``seconds`` = fit + predict wall time (median over the seeds), ``accuracy`` = mean test
  accuracy; the notes give every seed, the spread, the process CPU time (torch's 2 threads
  together) and the load average before and after, since the machine is shared;
- ``robustness``: mean accuracy over the 12 corruptions x 3 severities of
  :func:`digitlab.robustness.robustness` on a seeded 2,000-image test subset (mean over seeds);
- ``wild``: accuracy on the frozen 1,500-image ``wild-digits`` set (mean over the seeds).

``DIGITLAB_BENCH_CNN=cnn-fast,cnn`` runs only those configurations (any registry model name) and
keeps the other rows from the last ``BENCHMARKS.json``;
``DIGITLAB_BENCH_CNN_SEEDS=1`` only the first seed(s); ``DIGITLAB_BENCH_CNN_THREADS=1`` fits
with one torch thread (on a loaded machine its CPU seconds measure the work without the spin-waiting of a
second thread that is not scheduled; the notes say which was used).
``--quick``: ``cnn-fast`` on a stratified 10,000-image subset, one seed, 1,667 test images.
"""

from __future__ import annotations

import os
import statistics

from benchmarks import (
    ROBUSTNESS_IMAGES,
    keep_rows,
    load_mnist_split,
    robustness_and_wild,
    run_case,
    timed_fit,
)

SECTION = "CNN configurations (MNIST 60k/10k, 3 seeds)"
QUICK_SECTION = "CNN configurations, quick (10k training images, 1 seed)"
CONFIGS = {"cnn-fast": "≥ 0.995 in ≤ 60 s", "cnn": "≥ 0.996 in ≤ 120 s", "cnn-best": "≥ 0.997 in ≤ 600 s"}
SEEDS = (0, 1, 2)


def cnn_case(model: str, seed: int, limit: int | None = None, threads: int | None = None) -> dict:
    """Fit *model* with ``random_state=seed``; test, corrupted-test and wild-digits accuracy."""
    from digitlab.models import make_model

    s = load_mnist_split("canonical")
    if limit:
        s = s.limit(limit, seed=0)
    pipe = make_model(model, {"random_state": seed} | ({"n_threads": threads} if threads else {}))
    t = timed_fit(pipe, s)
    return {"seconds": t["fit"] + t["predict"], **t, "iterations": int(pipe[-1].n_iter_),
            "threads": pipe[-1].n_threads} | robustness_and_wild(pipe, s.test)


def _rows(model: str, results: list[dict], section: str, target: str) -> list[dict]:
    failed = [r["error"] for r in results if "error" in r]
    base = {"section": section, "case": model, "baseline": None, "ratio": None}
    if failed:
        return [base | {"seconds": None, "peak_rss_mb": None, "iterations": None, "accuracy": None,
                        "notes": f"failed: {failed[0]}"}]
    runs = [r["runs"][0] for r in results]
    accs = [r["accuracy"] for r in runs]
    loads = ", ".join(f"{a}→{b}" for a, b in (r["load"] for r in runs))
    med = {k: statistics.median(r[k] for r in runs) for k in ("fit", "fit_cpu", "predict")}

    def each(key):
        values = [r[key] for r in runs]
        return f"{', '.join(f'{v:.4f}' for v in values)}; spread {max(values) - min(values):.4f}"

    return [base | {
        "seconds": statistics.median(r["seconds"] for r in runs), "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "iterations": runs[0]["iterations"], "accuracy": statistics.mean(accs),
        "robustness": statistics.mean(r["robustness"] for r in runs),
        "wild": statistics.mean(r["wild"] for r in runs),
        "notes": (f"mean of {len(runs)} seed{'s' if len(runs) > 1 else ''} (test {each('accuracy')}; robustness {each('robustness')}; "
                  f"wild {each('wild')}); seconds = fit + predict, median: fit {med['fit']:.1f} s wall "
                  f"({med['fit_cpu']:.0f} s CPU), predict {med['predict']:.1f} s; load average before→after "
                  f"{loads} on 2 cores, torch threads {runs[0]['threads']}; "
                  f"robustness on {ROBUSTNESS_IMAGES:,} test images; target {target}")}]


def run(quick: bool) -> list[dict]:
    import importlib.util

    target = "benchmarks.bench_cnn:cnn_case"
    if importlib.util.find_spec("torch") is None:
        return [{"section": QUICK_SECTION if quick else SECTION, "case": "cnn", "notes": "skipped: PyTorch not installed"}]
    if quick:
        res = run_case(target, repeats=1, model="cnn-fast", seed=0, limit=10000, timeout=3600)
        return _rows("cnn-fast", [res], QUICK_SECTION, "none (quick mode)")
    only = [m.strip() for m in os.environ.get("DIGITLAB_BENCH_CNN", "").split(",") if m.strip()]
    threads = int(os.environ.get("DIGITLAB_BENCH_CNN_THREADS", "0")) or None
    seeds = SEEDS[:int(os.environ.get("DIGITLAB_BENCH_CNN_SEEDS", len(SEEDS)))]
    fresh = {}
    for model in only or CONFIGS:
        results = [run_case(target, repeats=1, model=model, seed=seed, threads=threads, timeout=2 * 3600)
                   for seed in seeds]
        fresh[model] = _rows(model, results, SECTION, CONFIGS.get(model, "none"))[0]
    return keep_rows("cnn", SECTION, fresh) if only else list(fresh.values())


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1, default=str))

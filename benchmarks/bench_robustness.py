"""Robustness and real-world accuracy per model: MNIST under corruption, and the wild-digits set.

For each model, three rows: its clean MNIST test accuracy, its mean accuracy over the 12
corruptions x 3 severities of :mod:`digitlab.corruptions` (``robustness()``), and its accuracy
on the frozen ``wild-digits`` set (issue 13 §5). One more row per model times the corruption
itself (robustness wall time minus the model's predict time), whose target is "the whole
10,000-image test set, 12 corruptions x 3 severities, well under a minute on 2 cores" (the
``crop`` corruption runs the real preprocessing on a 2,000-image subset).

Models come from existing run folders: ``DIGITLAB_BENCH_RUNS`` (comma-separated run ids or
folders, resolved in ``DIGITLAB_RUNS_DIR``). Without it, the full mode trains ``logreg`` and
``knn-deskew`` on the 60,000 MNIST training images itself; ``--quick`` trains ``logreg`` on a
stratified 10,000-image subset (``Split.limit``) and measures it on that subset's 1,667 test
images.
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks import load_mnist_split, run_case, summarise

SECTION = "robustness and wild digits (issue 13)"
QUICK_SECTION = "robustness and wild digits, quick (logreg on a 10k subset and its 1,667 test images)"


def robustness_case(model: str | None = None, run: str | None = None, limit: int | None = None,
                    n_test: int | None = None) -> dict:
    """Fit *model* (or load *run*), then measure clean, corrupted and wild-digit accuracy."""
    from digitlab import datasets
    from digitlab.robustness import robustness

    s = load_mnist_split("canonical")
    if run:
        from digitlab.runs import resolve_run

        r = resolve_run(run)
        if r.is_binary or r.info.dataset.name != "mnist":
            raise SystemExit(f"{r.id}: not a multiclass MNIST run")
        pipe, name, fit = r.load_model(), f"{r.info.model.name} (run {r.id})", None
    else:
        from digitlab.models import make_model

        if limit:
            s = s.limit(limit, seed=0)
        pipe, name = make_model(model), model
        t0 = time.perf_counter()
        pipe.fit(s.X_train, s.y_train)
        fit = time.perf_counter() - t0
    test = s.test
    if n_test and n_test < len(test):
        test = test.subset(np.sort(np.random.default_rng(0).choice(len(test), n_test, replace=False)))
    predict_seconds = [0.0]

    def predict(X):
        t0 = time.perf_counter()
        out = pipe.predict(X)
        predict_seconds[0] += time.perf_counter() - t0
        return out

    stamps = {}  # corruption -> seconds spent corrupting (its predict time taken out)
    last = [time.perf_counter(), 0.0]

    def progress(done, total, label):
        now = time.perf_counter()
        key = label.split()[0]
        stamps[key] = stamps.get(key, 0.0) + (now - last[0]) - (predict_seconds[0] - last[1])
        last[:] = [now, predict_seconds[0]]

    t0 = time.perf_counter()
    rob = robustness(predict, test.images, test.labels, seed=0, progress=progress)
    wall = time.perf_counter() - t0
    wild = datasets.load("wild-digits")
    t1 = time.perf_counter()
    wild_acc = float(np.mean(pipe.predict(wild.X) == wild.y))
    wild_seconds = time.perf_counter() - t1
    worst = sorted(((a[-1], c) for c, a in rob.accuracy.items()))[:3]
    slow = sorted(stamps.items(), key=lambda kv: -kv[1])[:3]
    return {
        "seconds": wall, "accuracy": rob.mean_accuracy, "name": name, "fit": fit,
        "clean": rob.clean_accuracy, "wild": wild_acc, "wild_seconds": wild_seconds,
        "predict_seconds": predict_seconds[0], "corrupt_seconds": wall - predict_seconds[0],
        "n_test": len(test), "by_severity": rob.mean_by_severity(),
        "worst": [f"{c} {a:.3f}" for a, c in worst],
        "slowest": [f"{k} {v:.1f} s" for k, v in slow],
        "load": os.getloadavg()[0],
    }


def _rows(result: dict, section: str, label: str) -> list[dict]:
    if "error" in result:
        return [summarise(result, section, label)]
    r = result["runs"][0]
    rss = result.get("peak_rss_mb")
    name = r["name"]
    fit = f"fit {r['fit']:.1f} s; " if r["fit"] is not None else ""
    sev = ", ".join(f"{k}: {v:.3f}" for k, v in r["by_severity"].items())
    base = {"section": section, "peak_rss_mb": rss, "iterations": None, "baseline": None, "ratio": None}
    return [
        base | {"case": f"{name}: MNIST test, clean", "seconds": None, "accuracy": r["clean"],
                "notes": f"{fit}{r['n_test']:,} test images"},
        base | {"case": f"{name}: mean under 12 corruptions x 3 severities", "seconds": r["seconds"],
                "accuracy": r["accuracy"], "ratio": r["accuracy"] / r["clean"],
                "notes": (f"ratio = mean / clean accuracy; by severity {sev}; worst at severity 3: "
                          f"{', '.join(r['worst'])}; seconds = corrupting + predicting")},
        base | {"case": f"{name}: wild digits (1,500)", "seconds": r["wild_seconds"], "accuracy": r["wild"],
                "ratio": r["wild"] / r["clean"],
                "notes": "ratio = wild / clean MNIST accuracy; seconds = predict only"},
        base | {"case": f"{name}: corrupting {r['n_test']:,} test images, 12 x 3", "seconds": r["corrupt_seconds"],
                "accuracy": None,
                "notes": (f"robustness() wall time minus {r['predict_seconds']:.1f} s of predict; crop on at most "
                          f"2,000 of them; slowest: {', '.join(r['slowest'])}; load average {r['load']:.1f} "
                          f"on 2 cores; target well under 60 s")},
    ]


def run(quick: bool) -> list[dict]:
    target = "benchmarks.bench_robustness:robustness_case"
    refs = [r.strip() for r in os.environ.get("DIGITLAB_BENCH_RUNS", "").split(",") if r.strip()]
    rows = []
    if quick:
        res = run_case(target, repeats=1, model="logreg", limit=10000, timeout=1800)
        return _rows(res, QUICK_SECTION, "logreg")
    if refs:
        for ref in refs:
            rows += _rows(run_case(target, repeats=1, run=ref, timeout=3 * 3600), SECTION, ref)
        return rows
    for model in ("logreg", "knn-deskew"):
        rows += _rows(run_case(target, repeats=1, model=model, timeout=3 * 3600), SECTION, model)
    return rows


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1, default=str))

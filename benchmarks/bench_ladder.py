"""The accuracy ladder on MNIST (60,000 / 10,000): every rung a registered digitlab model.

``seconds`` is fit + predict of the 10,000 test images (what it costs to get the accuracy); the
notes split it. kNN rungs are compared with plain scikit-learn kNN on raw pixels (k=4, distance
weights: the issue's 97.14%) measured in the same run. ``--quick`` fits on a stratified 10,000-
image subset and leaves out the slow rungs.

``DIGITLAB_BENCH_LADDER=cnn`` (comma-separated rung names) reruns only those rungs and keeps the
other rows from the last ``BENCHMARKS.json``, each noted with the date it was measured: one rung
can be refreshed without re-timing the rest on a busy machine. The CNN's other configurations
and its seed spread are in ``bench_cnn.py``.
"""

from __future__ import annotations

import json
import os
import time

from benchmarks import ROOT, load_mnist_split, run_case, summarise

SECTION = "accuracy ladder (MNIST 60k/10k)"
BASE_NAME = "sklearn kNN, raw pixels (k=4, distance)"
TARGETS = {"logreg": "≥ 0.925", "knn": "≥ 0.975", "knn-deskew": "≥ 0.980", "forest": "≈ 0.97", "mlp": "≥ 0.98",
           "svm-deskew": "≥ 0.985", "cnn": "≥ 0.996 in ≤ 2 min"}
QUICK_SECTION = "accuracy ladder, quick (10k training images)"


def ladder_case(model: str, limit: int | None = None) -> dict:
    from digitlab.models import make_model

    s = load_mnist_split("canonical")
    if limit:
        s = s.limit(limit, seed=0)
    if model == "sklearn-knn-raw":
        from sklearn.neighbors import KNeighborsClassifier

        pipe = KNeighborsClassifier(n_neighbors=4, weights="distance", n_jobs=-1)
    else:
        pipe = make_model(model)
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    pipe.fit(s.X_train, s.y_train)
    fit, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    accuracy = float(pipe.score(s.X_test, s.y_test))
    predict = time.perf_counter() - t0
    clf = pipe[-1] if hasattr(pipe, "steps") else pipe
    epochs = getattr(clf, "n_iter_", None)
    return {"seconds": fit + predict, "accuracy": accuracy,
            "iterations": int(epochs) if isinstance(epochs, int) else None,
            "notes": f"fit {fit:.1f} s ({fit_cpu:.0f} s CPU), predict {predict:.1f} s; load average {load:.1f}"}


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def run(quick: bool) -> list[dict]:
    target = "benchmarks.bench_ladder:ladder_case"
    if quick:
        rows = []
        for model in ("logreg", "knn", "knn-deskew", "forest"):
            rows.append(summarise(run_case(target, repeats=1, model=model, limit=10000), QUICK_SECTION, model))
        return rows
    only = [m.strip() for m in os.environ.get("DIGITLAB_BENCH_LADDER", "").split(",") if m.strip()]
    unknown = sorted(set(only) - set(TARGETS))
    if unknown:
        raise ValueError(f"DIGITLAB_BENCH_LADDER: unknown rung(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    fresh = {}
    base = None
    if not only or any(m.startswith("knn") for m in only):
        base = run_case(target, repeats=1, model="sklearn-knn-raw")
        fresh[BASE_NAME] = summarise(base, SECTION, BASE_NAME)
    for model in TARGETS:
        if not only or model in only:
            fresh[model] = _rung(target, model, base)
    return _merge(fresh) if only else list(fresh.values())


def _rung(target: str, model: str, base: dict | None) -> dict:
    if model == "cnn" and not _has_torch():
        return {"section": SECTION, "case": model, "notes": "skipped: PyTorch not installed"}
    repeats = 3 if model in ("logreg", "knn", "knn-deskew") else 1
    result = run_case(target, repeats=repeats, model=model, timeout=3 * 3600)
    knn = model.startswith("knn")
    return summarise(result, SECTION, model, baseline=base if knn else None, baseline_name=BASE_NAME if knn else None,
                     notes=f"target {TARGETS[model]}")


def _merge(fresh: dict) -> list[dict]:
    """The rows in *fresh*, in place of theirs; every other row as the last BENCHMARKS.json has it."""
    try:
        previous = json.loads((ROOT / "BENCHMARKS.json").read_text())["modules"]["ladder"]
        old_rows, date = previous["rows"], previous["date"]
    except (OSError, ValueError, KeyError):
        old_rows, date = [], None
    rows = []
    for row in old_rows:
        if row.get("case") in fresh:
            rows.append(fresh.pop(row["case"]))
        elif row.get("section") == SECTION:
            notes = row.get("notes") or ""
            rows.append(row | {"notes": notes if "measured 20" in notes else f"{notes}; measured {date}"})
    return rows + list(fresh.values())


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)

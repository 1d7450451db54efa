"""The accuracy ladder on MNIST (60,000 / 10,000): every rung a registered digitlab model.

``seconds`` is fit + predict of the 10,000 test images (what it costs to get the accuracy); the
notes split it. kNN rungs are compared with plain scikit-learn kNN on raw pixels (k=4, distance
weights: the issue's 97.14%) measured in the same run. ``--quick`` fits on a stratified 10,000-
image subset and leaves out the slow rungs.

Every rung of the full ladder also gets two accuracy columns (issue 13 §3, §5), measured once on
the first fit, outside the timing: ``robustness``, the mean accuracy over the 12 corruptions x 3
severities of :func:`digitlab.robustness.robustness` on a seeded 2,000-image test subset, and
``wild``, the accuracy on the frozen ``wild-digits`` set.

``DIGITLAB_BENCH_LADDER=cnn`` (comma-separated rung names) reruns only those rungs and keeps the
other rows from the last ``BENCHMARKS.json``, each noted with the date it was measured: one rung
can be refreshed without re-timing the rest on a busy machine. The CNN's other configurations
and its seed spread are in ``bench_cnn.py``.
"""

from __future__ import annotations

import os

from benchmarks import (
    keep_rows,
    load_mnist_split,
    robustness_and_wild,
    run_case,
    summarise,
    timed_fit,
)

SECTION = "accuracy ladder (MNIST 60k/10k)"
BASE_NAME = "sklearn kNN, raw pixels (k=4, distance)"
TARGETS = {"logreg": "≥ 0.925", "knn": "≥ 0.975", "knn-deskew": "≥ 0.980", "forest": "≈ 0.97", "mlp": "≥ 0.98",
           "svm-deskew": "≥ 0.985", "cnn": "≥ 0.996 in ≤ 2 min"}
QUICK_SECTION = "accuracy ladder, quick (10k training images)"


_ROBUST_DONE: list = []


def ladder_case(model: str, limit: int | None = None, robust: bool = False) -> dict:
    """Fit *model*, time fit and test predictions; with *robust*, also (untimed, first repeat
    only) its mean accuracy under corruption and on the wild digits."""
    from digitlab.models import make_model

    s = load_mnist_split("canonical")
    if limit:
        s = s.limit(limit, seed=0)
    if model == "sklearn-knn-raw":
        from sklearn.neighbors import KNeighborsClassifier

        pipe = KNeighborsClassifier(n_neighbors=4, weights="distance", n_jobs=-1)
    else:
        pipe = make_model(model)
    t = timed_fit(pipe, s)
    load, fit, fit_cpu, accuracy, predict = t["load"][0], t["fit"], t["fit_cpu"], t["accuracy"], t["predict"]
    clf = pipe[-1] if hasattr(pipe, "steps") else pipe
    epochs = getattr(clf, "n_iter_", None)
    out = {"seconds": fit + predict, "accuracy": accuracy,
           "iterations": int(epochs) if isinstance(epochs, int) else None,
           "notes": f"fit {fit:.1f} s ({fit_cpu:.0f} s CPU), predict {predict:.1f} s; load average {load:.1f}"}
    if robust and not _ROBUST_DONE:  # once per process: the repeats fit the same model
        _ROBUST_DONE.append(model)
        out |= robustness_and_wild(pipe, s.test)
    return out


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
    return keep_rows("ladder", SECTION, fresh) if only else list(fresh.values())


def _rung(target: str, model: str, base: dict | None) -> dict:
    if model == "cnn" and not _has_torch():
        return {"section": SECTION, "case": model, "notes": "skipped: PyTorch not installed"}
    repeats = 3 if model in ("logreg", "knn", "knn-deskew") else 1
    result = run_case(target, repeats=repeats, model=model, robust=True, timeout=3 * 3600)
    knn = model.startswith("knn")
    row = summarise(result, SECTION, model, baseline=base if knn else None, baseline_name=BASE_NAME if knn else None,
                    notes=f"target {TARGETS[model]}")
    first = (result.get("runs") or [{}])[0]
    return row | {"robustness": first.get("robustness"), "wild": first.get("wild")}


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)

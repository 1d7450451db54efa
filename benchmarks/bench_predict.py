"""Batch prediction throughput of the ``logreg`` pipeline (uint8 images in, labels out).

The model is fitted once (not timed); each timed call predicts the 10,000 MNIST test images (or
1,000) through the whole Pipeline: uint8 -> float32 scaling, validation, one GEMM, argmax. The
baseline is scikit-learn's LogisticRegression holding the same coefficients, in the same
Pipeline. Target: >= 1,000,000 images/s.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks import load_mnist_split, run_case, summarise

SECTION = "prediction throughput (logreg pipeline)"


def predict_case(kind: str, batch: int = 10000, calls: int = 30) -> dict:
    from sklearn.linear_model import LogisticRegression

    from digitlab.models import make_model

    s = load_mnist_split("canonical")
    pipe = make_model("logreg").fit(s.X_train, s.y_train)
    if kind == "sklearn":
        fast = pipe[-1]
        ref = LogisticRegression()
        ref.classes_, ref.coef_, ref.intercept_ = fast.classes_, fast.coef_.astype(np.float64), \
            fast.intercept_.astype(np.float64)
        ref.n_features_in_ = fast.n_features_in_
        pipe.steps[-1] = ("clf", ref)
    X = np.ascontiguousarray(s.X_test[:batch])
    pipe.predict(X)  # warm-up: first-call allocations and BLAS thread start
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        y_pred = pipe.predict(X)
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    return {"seconds": seconds, "accuracy": float((y_pred == s.y_test[:batch]).mean()),
            "notes": f"{batch / seconds / 1e6:.2f} M images/s (median of {calls} calls of {batch:,})"}


def run(quick: bool) -> list[dict]:
    target = "benchmarks.bench_predict:predict_case"
    rows = []
    for batch in (10000,) if quick else (10000, 1000):
        base = run_case(target, repeats=1, kind="sklearn", batch=batch)
        ours = run_case(target, repeats=1, kind="digitlab", batch=batch)
        base_name = f"sklearn LogisticRegression predict, batch {batch:,}"
        rows.append(summarise(base, SECTION, base_name))
        rows.append(summarise(ours, SECTION, f"digitlab logreg predict, batch {batch:,}", baseline=base,
                              baseline_name=base_name))
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)

"""Logistic regression on MNIST: digitlab's ``logreg`` against scikit-learn's solvers.

Every digitlab case has its scikit-learn baseline measured in the same run, on the same split:

* sklearn lbfgs, pixels in float32 [0, 1], tol 1e-4, C=0.1 and C=1 (canonical 60k/10k split);
* sklearn ``LogisticRegression()`` with its defaults on raw float64 pixels (80/20 split, seed 0);
* the notebooks' L1 saga (C=50, tol=0.01, raw pixels, unstratified ``test_size=1/7``,
  ``random_state=0``), full run only: it takes minutes.

``seconds`` is the fit (pixel scaling included, as a user's ``train`` pays it); ``iterations``
are solver iterations (digitlab: on the full data, after the warm start on a subsample; its notes
give the data passes, the unit of cost).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import load_mnist_split, run_case, summarise

SECTION = "logreg: digitlab vs scikit-learn (MNIST)"


def fit_case(kind: str, split: str = "canonical", C: float = 0.1) -> dict:
    """Fit one configuration; timed part: ``fit`` only."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from digitlab.models import PixelScaler, make_model

    s = load_mnist_split(split)
    X_train, X_test = s.X_train, s.X_test
    if kind == "digitlab":
        model = make_model("logreg", {"C": C})
    elif kind == "sklearn-lbfgs":
        model = Pipeline([("scale", PixelScaler()), ("clf", LogisticRegression(C=C, tol=1e-4, max_iter=1000))])
    elif kind == "sklearn-default-raw":
        model = LogisticRegression()
        X_train, X_test = X_train.astype(np.float64), X_test.astype(np.float64)
    elif kind == "notebook-saga":
        model = LogisticRegression(C=50, l1_ratio=1.0, solver="saga", tol=0.01)
        X_train, X_test = X_train.astype(np.float64), X_test.astype(np.float64)
    else:
        raise ValueError(kind)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        model.fit(X_train, s.y_train)
        seconds = time.perf_counter() - t0
    clf = model[-1] if hasattr(model, "steps") else model
    notes = []
    if hasattr(clf, "n_passes_"):
        notes.append(f"{clf.n_passes_:.1f} data passes")
    converged = getattr(clf, "converged_", not any("converge" in str(w.message) for w in caught))
    notes.append("converged" if converged else "NOT converged")
    return {"seconds": seconds, "iterations": int(np.max(clf.n_iter_)),
            "accuracy": float(model.score(X_test, s.y_test)), "notes": ", ".join(notes)}


def run(quick: bool) -> list[dict]:
    target = "benchmarks.bench_logreg:fit_case"
    rows = []
    pairs = [
        ("sklearn lbfgs C=0.1 (float32 [0, 1], tol 1e-4)", dict(kind="sklearn-lbfgs", C=0.1),
         "digitlab logreg C=0.1", dict(kind="digitlab", C=0.1)),
    ]
    if not quick:
        pairs += [
            ("sklearn lbfgs C=1 (float32 [0, 1], tol 1e-4)", dict(kind="sklearn-lbfgs", C=1.0),
             "digitlab logreg C=1", dict(kind="digitlab", C=1.0)),
            ("sklearn LogisticRegression() defaults, raw float64, 80/20 split",
             dict(kind="sklearn-default-raw", split="80/20"),
             "digitlab logreg, 80/20 split", dict(kind="digitlab", split="80/20")),
            ("notebooks' L1 saga C=50 tol=0.01, raw pixels, 1/7 unstratified split",
             dict(kind="notebook-saga", split="notebook"),
             "digitlab logreg, notebooks' split", dict(kind="digitlab", split="notebook")),
        ]
    for base_name, base_kw, name, kw in pairs:
        slow = base_kw["kind"] == "notebook-saga"
        base = run_case(target, repeats=1 if (quick or slow) else 3, **base_kw)
        ours = run_case(target, repeats=3 if quick else 5, **kw)
        rows.append(summarise(base, SECTION, base_name))
        rows.append(summarise(ours, SECTION, name, baseline=base, baseline_name=base_name))
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)

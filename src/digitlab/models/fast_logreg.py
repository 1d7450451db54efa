"""Multinomial logistic regression that needs few passes over the data.

Same objective as :class:`sklearn.linear_model.LogisticRegression` with an l2 penalty::

    mean_i loss_i(W, b) + ||W||^2 / (2 C n)

(multinomial cross-entropy for three or more classes, binary log-loss for two; the intercept is
not penalised), so the optimum is the same; only the way there differs. On MNIST one float32
loss+gradient costs ~60–100 ms whatever the solver (two tall-skinny GEMMs, bound by memory
bandwidth), so speed comes from needing fewer of them:

1. **Preconditioning.** The k-th diagonal block of the Hessian is ``Xa.T @ diag(w_k) @ Xa / n +
   penalty`` (``Xa`` = ``X`` with a column of ones, ``w_k = p_k (1 - p_k)``). Its Cholesky factor
   ``R_k`` gives coordinates ``Phi_k = R_k @ Theta_k`` in which the problem is nearly isotropic:
   pixel scale, centring and correlated neighbouring pixels stop mattering. First with equal
   ``w`` (one Gram matrix of 10,000 rows), then, after the warm start, with the real ``w_k`` at
   that point (3,000 rows importance-sampled by ``sum_k w_k``: the uncertain digits carry the
   curvature). Measured on MNIST: 15 full passes to within 1e-3 of the optimal objective, against
   ~40 with the Gram matrix alone. Each iteration adds 2k triangular solves of size 785 (~10 ms).
2. **Warm start** from the same problem on a strided subsample (an eighth of the rows, same
   per-sample penalty): 30 iterations there cost ~4 full passes.
3. **L-BFGS** (scipy) on the preconditioned problem, loss and gradient in float32 BLAS.
4. **Stopping on what matters:** in the preconditioned coordinates ``f - f* ≈ ½‖∇f‖²`` (the
   Newton decrement), so iterations stop when that *estimated relative suboptimality* falls
   below ``tol``, not when the largest gradient entry in pixel space does. The estimate is
   optimistic by a factor of 3–6 on MNIST; ``tol=1e-4`` stops at a true relative gap of ~5e-4,
   half of where sklearn's lbfgs stops with its ``tol=1e-4`` (~1e-3).

A hand-written solver is justified only by measurement: ``benchmarks/bench_logreg.py``.
"""

from __future__ import annotations

import contextlib
import functools
import math
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from scipy.linalg import blas
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

# Rows of the subsample used for the preconditioner and the warm start. 1/8 of MNIST: large
# enough that its optimum is close to the full one, small enough to cost ~1/8 per pass.
_SUBSAMPLE_FRACTION = 8
_MIN_SUBSAMPLE = 2000
_GRAM_ROWS = 10000  # rows the Hessian is estimated from
_HESSIAN_ROWS = 3000  # importance-sampled rows per class block (10 syrk of 3000 x 785: ~1.5 passes)
_SUBSAMPLE_ITER = 30  # L-BFGS iterations on the subsample (1/8 of a pass each)


class FastLogisticRegression(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression (l2) with a preconditioned, warm-started float32 L-BFGS solver.

    Minimises the same objective as ``sklearn.linear_model.LogisticRegression(C=C)`` with the
    default l2 penalty (multinomial for more than two classes), typically in 5–10 times fewer
    passes over the data than sklearn's lbfgs on MNIST.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, as in scikit-learn.
    fit_intercept : bool, default=True
        Fit a (non-penalised) intercept per class.
    tol : float, default=1e-4
        Stop when the estimated relative gap to the optimum, ``(f - f*) / f``, is below ``tol``
        (the Newton decrement in preconditioned coordinates, see the module docstring).
    max_iter : int, default=200
        Maximum L-BFGS iterations on the full data.
    verbose : int, default=0
        Print the objective and the gap estimate per iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features), dtype=float32
        One row for a binary problem (as scikit-learn), else one per class.
    intercept_ : ndarray of shape (1,) or (n_classes,), dtype=float32
    n_iter_ : ndarray of shape (1,), dtype=int32
        L-BFGS iterations on the full data (the warm start on the subsample not included).
    n_passes_ : float
        Loss+gradient evaluations, counted in full-data equivalents (the subsample's included).
    converged_ : bool
        Whether the stopping rule was met within ``max_iter``.
    gap_ : float
        The final estimated relative suboptimality.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FastLogisticRegression(C=0.1).fit(X / 16, y)
    >>> clf.converged_, clf.coef_.shape
    (True, (10, 64))
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(self, C=1.0, *, fit_intercept=True, tol=1e-4, max_iter=200, verbose=0):
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose

    def fit(self, X, y):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Converted to float32 (uint8 pixels are fine: the preconditioner makes scale irrelevant).
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : FastLogisticRegression
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", reset=True)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {self.classes_.tolist()[0]!r}")
        k = 1 if len(self.classes_) == 2 else len(self.classes_)
        y_enc = y_enc.astype(np.intp)
        # scipy's wheel bundles its own OpenBLAS: its threads, woken by the small triangular
        # solves of every iteration, spin on the second core while numpy's threads run the big
        # GEMMs; one thread there makes each pass ~1.5x faster (bench_logreg)
        scipy_blas = _scipy_blas()
        with scipy_blas.limit(limits=1) if scipy_blas is not None else contextlib.nullcontext():
            self._solve(X, y_enc, k)
        if not self.converged_:
            import warnings

            from sklearn.exceptions import ConvergenceWarning

            it = int(self.n_iter_[0])
            why = ("increase max_iter" if it >= self.max_iter else
                   "the line search made no more progress: float32 precision limits tol to about 1e-7")
            warnings.warn(f"{type(self).__name__} stopped after {it} iterations with an estimated "
                          f"relative gap of {self.gap_:.2e} > tol {self.tol:g}; {why}",
                          ConvergenceWarning, stacklevel=2)
        return self

    def _solve(self, X, y_enc, k):
        n, d = X.shape
        problem = _Problem(X, y_enc, k, 1.0 / self.C, self.fit_intercept)
        gram_rows = slice(None, None, max(1, n // _GRAM_ROWS))
        precond = _Preconditioner.fit(problem, gram_rows)
        theta = np.zeros((problem.p, k))
        passes = 0.0
        n_sub = max(_MIN_SUBSAMPLE, n // _SUBSAMPLE_FRACTION)
        if n >= 2 * n_sub:
            step = n // n_sub
            sub = _Problem(np.ascontiguousarray(X[::step]), y_enc[::step], k, 1.0 / self.C, self.fit_intercept, n_penalty=n)
            # the subsample optimum is only a starting point: a few cheap iterations suffice
            theta, _, _, _, nfev = _lbfgs(sub, precond, theta, self.tol, _SUBSAMPLE_ITER, self.verbose)
            passes += nfev * len(sub.y) / n
            # the Hessian near the solution, class by class, replaces the one at zero
            precond = _Preconditioner.fit(problem, gram_rows, theta)
        theta, it, gap, converged, nfev = _lbfgs(problem, precond, theta, self.tol, self.max_iter,
                                                 self.verbose)
        passes += nfev
        theta = theta.astype(np.float32)
        self.coef_ = np.ascontiguousarray(theta[:d].T)
        if self.fit_intercept:
            self.intercept_ = theta[d].copy()
        else:
            self.intercept_ = np.zeros(k, dtype=np.float32)
        self.n_iter_ = np.array([it], dtype=np.int32)
        self.n_passes_ = float(passes)
        self.converged_ = bool(converged)
        self.gap_ = float(gap)

    def decision_function(self, X):
        """Class scores ``X @ coef_.T + intercept_``, computed in float32.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes), dtype=float32
        """
        check_is_fitted(self)
        # NaN/inf in X always reach the scores (inf * 0 is NaN), so checking the k scores per row
        # instead of the 784 inputs is as strict and ~2 ms per 10,000 images cheaper
        X = validate_data(self, X, dtype=np.float32, reset=False, ensure_all_finite=False)
        # one BLAS thread: this (n, d) @ (d, k) product is memory-bound, and on a busy two-core
        # machine a second OpenBLAS thread spin-waits (10,000 MNIST images: 5.8 ms with one
        # thread, 16 ms with two, measured under load)
        # (small batches: OpenBLAS uses one thread anyway, so skip the ~0.1 ms switch)
        with (_blas_controller().limit(limits=1, user_api="blas") if len(X) >= 1000
              else contextlib.nullcontext()):
            scores = X @ self.coef_.T
        scores += self.intercept_
        if not np.isfinite(scores).all():
            raise ValueError(f"Input X contains NaN or infinity ({type(self).__name__}.decision_function).")
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities (softmax of the scores; sigmoid for two classes).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype=float64
        """
        scores = self.decision_function(X).astype(np.float64)
        if scores.ndim == 1:
            p = 0.5 * (1.0 + np.tanh(0.5 * scores))  # a sigmoid that cannot overflow
            return np.column_stack([1 - p, p])
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


@functools.cache
def _blas_controller():
    # created once: building a ThreadpoolController inspects every loaded library (~0.5 ms)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@functools.cache
def _scipy_blas():
    """The BLAS libraries shipped inside scipy's own package (its wheels bundle an OpenBLAS apart
    from numpy's), or ``None`` when scipy uses the same library as numpy."""
    import os

    import scipy

    root = os.path.dirname(os.path.realpath(scipy.__file__))
    ctl = _blas_controller()
    paths = [c.filepath for c in ctl.lib_controllers if c.user_api == "blas"
             and os.path.realpath(c.filepath).startswith((root + os.sep, root + ".libs" + os.sep))]
    return ctl.select(filepath=paths) if paths else None


class _Problem:
    """Loss and gradient of the mean l2-penalised log-loss on (X, y), float32 BLAS.

    Parameters are ``Theta`` of shape (p, k): rows 0..d-1 are ``coef_.T``, row d (if
    ``fit_intercept``) the intercept.
    """

    def __init__(self, X, y, k, lam, fit_intercept, n_penalty=None):
        self.X, self.y, self.k, self.fit_intercept = X, y, k, fit_intercept
        n, self.d = X.shape
        self.p = self.d + int(fit_intercept)
        # penalty per sample as in the full problem: lam / n_full (a subsample keeps it)
        self.alpha = lam / (n_penalty or n)
        if k == 1:
            self.target = (y == 1).astype(np.float32)

    def proba(self, theta, X):
        """Probabilities of each class column (sigmoid for k=1) for rows X, float32."""
        Z = X @ theta[: self.d].astype(np.float32)
        if self.fit_intercept:
            Z += theta[self.d].astype(np.float32)
        if self.k == 1:
            return 0.5 * (1 + np.tanh(0.5 * Z))
        Z -= Z.max(axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=1, keepdims=True)
        return Z

    def loss_grad(self, theta):
        """Mean penalised loss (float) and its gradient with respect to theta (float64, (p, k))."""
        X, d = self.X, self.d
        n = len(X)
        W = theta[:d].astype(np.float32)
        Z = X @ W
        if self.fit_intercept:
            Z += theta[d].astype(np.float32)
        if self.k == 1:
            z = Z[:, 0]
            # log(1 + exp(-z)) for y=1, log(1 + exp(z)) for y=0, computed stably
            signed = np.where(self.target == 1, -z, z)
            loss = float(np.sum(np.logaddexp(0, signed), dtype=np.float64))
            R = 0.5 * (1 + np.tanh(0.5 * z)) - self.target
            R = R[:, None].astype(np.float32)
        else:
            true = Z[np.arange(n), self.y].astype(np.float64)
            m = Z.max(axis=1, keepdims=True)
            Z -= m
            np.exp(Z, out=Z)
            s = Z.sum(axis=1, keepdims=True)
            loss = float(np.sum(np.log(s[:, 0]) + m[:, 0], dtype=np.float64) - true.sum())
            Z /= s
            Z[np.arange(n), self.y] -= 1
            R = Z
        grad = np.empty((self.p, self.k))
        grad[:d] = (X.T @ R) / n  # (d, n) @ (n, k): one GEMM, float32
        if self.fit_intercept:
            grad[d] = R.sum(axis=0, dtype=np.float64) / n
        Wd = theta[:d]
        loss = loss / n + 0.5 * self.alpha * float(np.sum(Wd * Wd))
        grad[:d] += self.alpha * Wd
        return loss, grad


class _Preconditioner:
    """Per-class upper Cholesky factors ``R_k`` with ``R_k.T @ R_k ≈ H_kk`` (float64).

    ``H_kk = Xa.T @ diag(w_k) @ Xa / n + penalty`` is the k-th diagonal block of the Hessian,
    ``w_k = p_k (1 - p_k)`` (for the sigmoid, ``p (1 - p)``), estimated on a subsample of rows.
    At ``theta=None`` (the start) all ``w_k`` are equal and one factor serves every class.
    """

    def __init__(self, factors):
        self.factors = factors

    @classmethod
    def fit(cls, problem, rows, theta=None):
        X = np.ascontiguousarray(problem.X[rows])
        k = problem.k
        if theta is None:
            # p(1-p) of the untrained model: 1/k (1 - 1/k) for softmax, 1/4 for the sigmoid
            w = 0.25 if k == 1 else (1 / k) * (1 - 1 / k)
            return cls([_factor(problem, X, np.full(len(X), w, dtype=np.float32))] * k)
        P = problem.proba(theta, X)
        W = P * (1 - P)
        # importance sampling: rows the model is unsure of carry the curvature
        score = W.sum(axis=1, dtype=np.float64)
        score += 1e-3 * score.mean()
        q = score / score.sum()
        m = min(len(X), _HESSIAN_ROWS)
        idx = np.random.default_rng(0).choice(len(X), m, p=q)
        scale = (1.0 / (len(X) * q[idx])).astype(np.float32)
        return cls([_factor(problem, X[idx], W[idx, j] * scale, n=m) for j in range(k)])

    def theta(self, phi):
        return np.column_stack([linalg.solve_triangular(R, phi[:, j], check_finite=False)
                                for j, R in enumerate(self.factors)])

    def phi(self, theta):
        return np.column_stack([R @ theta[:, j] for j, R in enumerate(self.factors)])

    def grad(self, g_theta):
        return np.column_stack([linalg.solve_triangular(R, g_theta[:, j], trans="T", check_finite=False)
                                for j, R in enumerate(self.factors)])


def _factor(problem, X, w, n=None):
    """Cholesky factor of ``Xa.T @ diag(w) @ Xa / n + alpha * I`` (intercept unpenalised)."""
    d, p = problem.d, problem.p
    n = n or len(X)
    Xw = X * np.sqrt(w)[:, None]
    # syrk: only the upper triangle, half the flops of Xw.T @ Xw
    upper = blas.ssyrk(1.0, Xw, trans=1, lower=0)
    A = np.empty((p, p))
    A[:d, :d] = np.triu(upper) + np.triu(upper, 1).T
    A[:d, :d] /= n
    A[np.diag_indices(d)] += problem.alpha
    if problem.fit_intercept:
        A[d, :d] = A[:d, d] = (X.T @ w).astype(np.float64) / n
        A[d, d] = float(w.sum(dtype=np.float64)) / n
    # a floor relative to the largest curvature keeps R well-conditioned when C is huge; when
    # float32 rounding left a few rank-deficient directions negative (few, strongly correlated
    # raw-pixel rows), a larger floor: R only preconditions, the objective is unchanged
    diag, scale = np.diag_indices(p), np.trace(A) / p
    # one thread: a 785x785 Cholesky takes ~15 ms on one core but up to 0.8 s when OpenBLAS
    # threads spin on a busy machine
    with threadpool_limits(1, user_api="blas"):
        for floor in (1e-8, 1e-6, 1e-4, 1e-2):
            A[diag] += floor * scale
            try:
                return linalg.cholesky(A, lower=False, check_finite=False)
            except linalg.LinAlgError:
                A[diag] -= floor * scale
    raise linalg.LinAlgError("preconditioner: Hessian block not positive definite")


def _lbfgs(problem, precond, theta0, tol, max_iter, verbose):
    """L-BFGS on ``Phi = R @ Theta``; stop when ½‖∇_Phi f‖² <= tol · f.

    Returns ``(theta, n_iter, gap, converged, n_fun_evals)``.
    """
    phi0 = precond.phi(theta0)
    shape = phi0.shape
    last = {}
    nfev = 0

    def fun(x):
        nonlocal nfev
        nfev += 1
        phi = x.reshape(shape)
        f, g_theta = problem.loss_grad(precond.theta(phi))
        g = precond.grad(g_theta)
        last["x"], last["f"], last["g"] = x.copy(), f, g
        return f, g.ravel()

    state = {"it": 0, "gap": math.inf}

    def gap_of(f, g):
        return 0.5 * float(np.sum(g * g)) / max(abs(f), 1e-12)

    def callback(intermediate_result):
        state["it"] += 1
        x = intermediate_result.x
        if "x" in last and np.array_equal(last["x"], x):
            f, g = last["f"], last["g"]
        else:  # scipy accepted a point other than the last one evaluated: evaluate it
            f, g = fun(x)
            g = g.reshape(shape)
        state["gap"] = gap_of(f, g)
        if verbose:
            print(f"iter {state['it']:3d}  f={f:.8f}  gap={state['gap']:.2e}")
        if state["gap"] <= tol:
            raise StopIteration

    f0, g0 = fun(phi0.ravel())
    state["gap"] = gap_of(f0, g0.reshape(shape))
    if state["gap"] <= tol:
        return theta0, 0, state["gap"], True, nfev
    res = minimize(fun, phi0.ravel(), jac=True, method="L-BFGS-B", callback=callback,
                   options={"maxiter": max_iter, "maxcor": 20, "ftol": 0.0, "gtol": 0.0})
    converged = state["gap"] <= tol
    return precond.theta(res.x.reshape(shape)), state["it"], state["gap"], converged, nfev

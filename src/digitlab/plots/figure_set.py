"""The figure set of an evaluated run: every Display that applies, each with a title and a caption.

Drawn from what an evaluation computed (:class:`~digitlab.evaluation.EvalResult` and its
arrays); nothing here predicts. :func:`drawer` hands :func:`digitlab.evaluation.evaluate_run`
the function that draws them into the run's staged ``figures/``, with an index,
``figures/figures.json`` (``[{file, title, caption}]``), which the report reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._atomic import write_text
from .._files import MAX_JSON_BYTES, read_input_bytes
from ..exceptions import DataError
from ..runs import EVAL_FILE, FIGURES_DIR
from ._labels import figure_labels
from ._save import new_figure, save_figure

INDEX_FILE = "figures.json"


def drawer(images, model=None):
    """A function ``draw(folder, result)`` that draws *result*'s figure set into *folder* with
    its index; pass it to :func:`digitlab.evaluation.evaluate_run` as ``figures=``.

    Parameters
    ----------
    images : ndarray of shape (n_test, height, width)
        The test images, for the galleries.
    model : fitted estimator, default=None
        For a linear model's coefficient images.
    """
    def draw(folder, result) -> list[dict]:
        return draw_figures(folder, result, images, model)

    return draw


def draw_figures(folder, result, images, model=None) -> list[dict]:
    """Draw every figure that applies to *result* into *folder*, with ``figures.json``."""
    index = draw_all(folder, result, result.predictions, images, model)
    write_text(Path(folder) / INDEX_FILE, json.dumps(index, indent=2) + "\n")
    return index


def read_index(run) -> list[dict]:
    """``[{file, title, caption}]`` of a run's figures (0.1.0 runs kept the list in eval.json)."""
    path = Path(run.path)
    for source, key in ((path / FIGURES_DIR / INDEX_FILE, None), (path / EVAL_FILE, "figures")):
        if not (source.exists() or source.is_symlink()):  # anything else there is refused, not skipped
            continue
        try:
            data = json.loads(read_input_bytes(source, max_bytes=MAX_JSON_BYTES, what="figure index"))
        except ValueError as exc:
            raise DataError(f"{source}: unreadable figure index ({exc})") from None
        items = data.get(key, []) if key and isinstance(data, dict) else data
        if not isinstance(items, list):
            raise DataError(f"{source}: unreadable figure index (not a list)")
        return [f for f in items if isinstance(f, dict) and all(isinstance(f.get(k), str)
                                                                for k in ("file", "title", "caption"))]
    return []


def draw_all(folder, result, arrays: dict, images, model=None) -> list[dict]:
    """Draw and save every figure that applies to *result*; return ``[{file, title, caption}]``.

    Parameters
    ----------
    folder : path-like
        Where the PNGs go (a staging copy of a run's ``figures/``).
    result : EvalResult
    arrays : dict of str to ndarray
        The contents of ``predictions.npz``.
    images : ndarray of shape (n_test, height, width)
        Test images, for the galleries.
    model : fitted estimator, default=None
        For the coefficient images of linear models.
    """
    from . import (
        CoefficientImagesDisplay,
        ConfusedPairsDisplay,
        ConfusionMatrixDisplay,
        ErrorGalleryDisplay,
        PrecisionRecallDisplay,
        PrecisionRecallThresholdDisplay,
        ProbaBarsDisplay,
        RocCurveDisplay,
    )

    folder = Path(folder)
    out: list[dict] = []
    classes = list(result.classes)  # in captions
    shown = figure_labels(classes)  # in the figures
    labels = np.arange(len(classes))

    def save(disp, name, title, caption):
        save_figure(disp.figure_, folder / name)
        out.append({"file": f"figures/{name}", "title": title, "caption": caption})

    cv = "cv_pred" in arrays
    y_t, y_p = (arrays["cv_y_true"], arrays["cv_pred"]) if cv else (arrays["y_true"], arrays["y_pred"])
    where = "cross-validated on the training set" if cv else "on the test set"
    n = len(y_t)
    longest = max(map(len, shown))
    rot = "vertical" if longest > 3 else "horizontal"
    # a binary matrix is small: grow it by its labels' extra characters (rows to the left, columns
    # below) so its square cells, and the title above them, keep their size
    extra = 0.08 * max(0, longest - 5)
    size = (4.8 + extra, 4.0 + extra) if len(classes) == 2 else (7.5, 6.2)

    ax = new_figure(size).subplots()
    disp = ConfusionMatrixDisplay.from_predictions(y_t, y_p, labels=labels, display_labels=shown, ax=ax,
                                                   xticks_rotation=rot, cmap="Blues",
                                                   title=f"Confusion matrix ({where})")
    correct = int(np.trace(disp.confusion_matrix))
    save(disp, "confusion.png", "Confusion matrix",
         f"The {n:,} images ({where}) counted by true class (rows) and predicted class (columns): "
         f"the {correct:,} correct answers sit on the diagonal and every other cell is a mistake.")

    ax = new_figure(size).subplots()
    disp = ConfusionMatrixDisplay.from_predictions(y_t, y_p, labels=labels, display_labels=shown, ax=ax,
                                                   errors_only=True, xticks_rotation=rot,
                                                   title=f"Errors by true class ({where})")
    cm = disp.confusion_matrix
    i, j = np.unravel_index(np.argmax(cm), cm.shape)
    worst = (f"; the largest is {classes[i]} read as {classes[j]} ({cm[i, j]:.1%} of the {classes[i]}s)"
             if cm[i, j] > 0 else "")
    save(disp, "confusion_errors.png", "Where the errors are",
         "The same matrix with each row divided by the number of images of that true class and the "
         f"correct answers removed, so only the error rates remain{worst}.")

    det = result.detector or {}
    score_key = "cv_score" if det.get("source") == "cv" else "y_score"
    y_score = arrays.get(score_key)
    if result.is_binary and y_score is not None:
        y_dt = arrays["cv_y_true"] if det.get("source") == "cv" else arrays["y_true"]
        where = "cross-validated on the training set" if det.get("source") == "cv" else "on the test set"
        target = det.get("target") or {}
        hit = target.get("reached")
        pos = classes[-1]
        score_name = ("Probability of the positive class" if result.score_kind == "predict_proba"
                      else "Decision score")

        disp = PrecisionRecallThresholdDisplay.from_predictions(
            y_dt, y_score, target=target if hit else None, score_name=score_name,
            ax=new_figure((8, 4)).subplots(), title=f"Precision and recall versus threshold ({where})")
        at = (f"; at threshold {target['threshold']:.6g} precision reaches {target['precision']:.1%} "
              f"with recall {target['recall']:.1%}" if hit else "")
        save(disp, "precision_recall_threshold.png", "Precision and recall versus threshold",
             f"Raising the threshold on the {pos}-detector's score makes it flag fewer images, so "
             f"precision goes up and recall goes down{at}.")

        disp = PrecisionRecallDisplay.from_predictions(
            y_dt, y_score, target=target if hit else None, name=f"{shown[-1]} detector",
            ax=new_figure((5.2, 5)).subplots(), title=f"Precision versus recall ({where})")
        save(disp, "precision_recall.png", "Precision–recall curve",
             f"Every point is one threshold: how many of the images flagged as {pos} really are "
             f"(precision) against how many of the {pos}s are found (recall); "
             f"average precision {det.get('average_precision') or 0:.3f}.")

        disp = RocCurveDisplay.from_predictions(
            y_dt, y_score, threshold=target.get("threshold") if hit else None, name=f"{shown[-1]} detector",
            ax=new_figure((5.2, 5)).subplots(), title=f"ROC curve ({where})")
        save(disp, "roc.png", "ROC curve",
             f"The share of {pos}s found against the share of other images wrongly flagged, over all "
             f"thresholds; the area under it is {det.get('roc_auc') or 0:.4f} (0.5 is guessing, 1 is perfect).")

    if result.linear and model is not None:
        try:
            disp = CoefficientImagesDisplay.from_estimator(model, image_shape=tuple(result.image_shape),
                                                           classes=shown)
        except ValueError:  # e.g. a feature-reducing step before the classifier: no pixel images
            disp = None
        if disp is not None:
            save(disp, "coefficients.png", "What the linear model looks at",
                 "The weight the model gives each pixel for each class, on one colour scale for all "
                 "classes: red pixels count as evidence for the class, blue ones against it.")

    y_true, y_pred, proba = arrays["y_true"], arrays["y_pred"], arrays.get("y_proba")
    y_score = arrays.get("y_score")
    disp = ErrorGalleryDisplay.from_predictions(images, y_true, y_pred, y_proba=proba, y_score=y_score,
                                                classes=shown)
    n_err = disp.n_errors_total
    order = (", most confident mistakes first, with the probability the model gave its wrong answer"
             if proba is not None else ", those furthest from the decision threshold first"
             if y_score is not None else "")
    save(disp, "errors.png", "Misclassified test images",
         f"{len(disp.images)} of the {n_err:,} test images the model got wrong, titled with the true "
         f"and the predicted class{order}.")

    if result.confused_pairs:
        disp = ConfusedPairsDisplay.from_predictions(images, y_true, y_pred, classes=shown,
                                                     n_pairs=min(4, len(result.confused_pairs)))
        p = result.confused_pairs[0]
        save(disp, "confused_pairs.png", "Most confused pairs",
             f"The mistakes the model makes most often on the test set, with examples of each; the "
             f"commonest is {classes[p['true']]} read as {classes[p['pred']]} ({p['count']:,} times).")

    if proba is not None:
        disp = ProbaBarsDisplay.from_predictions(images, proba, y_true=y_true, classes=shown)
        save(disp, "proba_bars.png", "Predicted probabilities",
             "For a few test images, right and wrong, the probability the model gives each class: "
             "blue is its answer and red the true class when the answer is wrong.")

    rob = result.robustness_result
    if rob is not None:
        from .robustness import RobustnessDisplay

        disp = RobustnessDisplay.from_result(rob, title="Accuracy under corruption")
        weakest = min(rob.accuracy, key=lambda c: rob.accuracy[c][-1]) if rob.accuracy else None
        worst = (f"; the hardest is {weakest} ({rob.accuracy[weakest][-1]:.1%} at severity "
                 f"{rob.severities[-1]})" if weakest else "")
        save(disp, "robustness.png", "Robustness",
             f"Accuracy on {rob.n_test:,} test images when each is shifted, rotated, blurred, made noisy "
             f"and so on, at three severities: the mean over all corruptions is "
             f"{rob.mean_accuracy:.1%} against {rob.clean_accuracy:.1%} on the clean images{worst}.")
    return out

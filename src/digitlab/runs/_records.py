"""The run description (``run.json``) as typed, frozen records, validated when read.

A run folder may come from anywhere (a colleague, a course, an attacker), so ``run.json`` is
parsed with a size cap and a nesting cap, then checked field by field against these records
(types and ranges) with msgspec, which names the offending field: ``Expected `object`, got `str` -
at `$.task```. Unknown fields are allowed (a newer digitlab may add some); a ``format`` newer than
this digitlab knows is refused with a clear message.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

RUN_FORMAT = 1
MAX_BYTES = 8 * 2**20  # a search over a large grid writes ~100 kB; 8 MB is not a run description
MAX_DEPTH = 32  # run.json nests 4 deep; parameters and search spaces a few more

Count = Annotated[int, Meta(ge=0, le=10**10)]
Unit = Annotated[float, Meta(ge=0.0, le=1.0)]
Text = Annotated[str, Meta(max_length=10_000)]
Label = Annotated[str, Meta(max_length=1000)]


class DatasetInfo(Struct, frozen=True):
    name: Label
    ref: Text | None = None
    source: Text = ""
    checksums: dict[Label, Label] = {}
    verified: bool = False
    shape: list[Annotated[int, Meta(ge=1, le=100_000)]] = []
    classes: Annotated[list[Label], Meta(max_length=100_000)] = []


class AddInfo(Struct, frozen=True):
    """Samples added to the training set (``train --add DIR``), part of them held out."""

    ref: Text
    name: Label = ""
    checksums: dict[Label, Label] = {}
    n: Count = 0
    n_train: Count = 0
    n_test: Count = 0


class SplitInfo(Struct, frozen=True):
    how: Text = ""
    test_size: Annotated[float, Meta(gt=0)] | None = None
    seed: Annotated[int, Meta(ge=0, le=2**32 - 1)] | None = 0
    limit: Count | None = None
    stratify: bool = True
    n_train: Count = 0
    n_test: Count = 0
    # the augmentation kinds (runs before 0.2 wrote a bool: true = the four one-pixel shifts) and
    # how they were applied: "copies" (made once, before fitting) or "per batch" (the CNN's own)
    augment: bool | Label | Annotated[list[Label], Meta(max_length=100)] = False
    augment_how: Label = ""
    add: AddInfo | None = None


class TaskInfo(Struct, frozen=True):
    kind: Literal["multiclass", "binary"] = "multiclass"
    detect: int | Label | None = None


class ModelInfo(Struct, frozen=True):
    name: Label
    params: dict[Label, Any] = {}
    raw_pixels: bool = False
    estimator: Text = ""
    all_params: dict[Label, Any] = {}
    sha256: Annotated[str, Meta(pattern="^[0-9a-f]{64}$")] | None = None


class FitInfo(Struct, frozen=True):
    seconds: Annotated[float, Meta(ge=0)] | None = None
    n_iter: Count | None = None
    max_iter: int | None = None  # -1 means no limit for some estimators (SVC)
    converged: bool | None = None
    warnings: list[Text] = []


class Metrics(Struct, frozen=True):
    test_accuracy: Unit | None = None
    train_accuracy: Unit | None = None
    cv_scores: list[float] = []
    cv_mean: float | None = None
    cv_std: float | None = None
    dummy_cv_mean: Unit | None = None
    precision: Unit | None = None
    recall: Unit | None = None
    f1: Unit | None = None
    roc_auc: float | None = None  # NaN when the test set holds one class
    threshold_at_target: float | None = None
    recall_at_target: Unit | None = None
    precision_at_target: Unit | None = None
    search_best_score: float | None = None
    robustness_mean: Unit | None = None  # mean accuracy under the corruptions (evaluate --robustness)
    added_accuracy: Unit | None = None  # on the held-out added samples (train --add)
    added_test_n: Count | None = None


class SearchInfo(Struct, frozen=True):
    kind: Label = ""
    scoring: Label = ""
    cv: Count | None = None
    space: dict[Label, Any] = {}
    n_candidates: Count = 0
    best_params: dict[Label, Any] = {}
    best_score: float | None = None
    best_std: float | None = None
    seconds: Annotated[float, Meta(ge=0)] | None = None
    backend: Label = ""
    workers: Count | None = None
    lost_workers: list[Any] = []
    failed_candidates: Count = 0
    fit_failures: list[Any] = []


class RunDescription(Struct, frozen=True):
    """Everything ``run.json`` says about a run (see ARCHITECTURE.md, "Run folder contract")."""

    dataset: DatasetInfo
    model: ModelInfo
    format: Annotated[int, Meta(ge=1)] = RUN_FORMAT
    id: Label = ""
    created: Label = ""
    split: SplitInfo = SplitInfo()
    task: TaskInfo = TaskInfo()
    classes: list[Label] = []
    n_features: Annotated[int, Meta(ge=1, le=10**7)] | None = None
    versions: dict[Label, Label | None] = {}
    seed: int | None = None
    fit: FitInfo = FitInfo()
    metrics: Metrics = Metrics()
    search: SearchInfo | None = None


class InvalidRunDescription(ValueError):
    """run.json is not a valid run description; the message says where and why."""


def parse(data: bytes) -> RunDescription:
    """The typed record from the bytes of a run.json, or :class:`InvalidRunDescription`."""
    if len(data) > MAX_BYTES:
        raise InvalidRunDescription(f"{len(data):,} bytes, the limit is {MAX_BYTES:,}")
    try:
        # the standard parser: run.json from digitlab 0.1.0 may hold Infinity (C=inf, penalty=none)
        obj = json.loads(data)
    except RecursionError:
        raise InvalidRunDescription(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise InvalidRunDescription(f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise InvalidRunDescription(f"expected a JSON object, got {type(obj).__name__}")
    if _depth(obj) > MAX_DEPTH:
        raise InvalidRunDescription(f"nested more than {MAX_DEPTH} levels deep")
    fmt = obj.get("format", RUN_FORMAT)
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > RUN_FORMAT:
        raise InvalidRunDescription(f"format {fmt} was written by a newer digitlab (this one reads "
                                    f"format {RUN_FORMAT}); upgrade digitlab")
    try:
        return msgspec.convert(obj, RunDescription, strict=True)
    except msgspec.ValidationError as exc:
        raise InvalidRunDescription(str(exc)) from None


def encode(info: RunDescription) -> str:
    """run.json's text for *info* (numpy values made plain, inf as "inf", NaN as null)."""
    from .._json import dumps, plain

    return dumps(msgspec.to_builtins(info, enc_hook=plain)) + "\n"


def _depth(obj) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest

"""Shapes of the JSON API: what ``POST /api/predict`` accepts and what every route returns."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._guard import MAX_BODY

Pixel = Annotated[float, Field(ge=0, le=255, allow_inf_nan=False)]


class PredictJSON(BaseModel):
    """A JSON prediction request: give ``pixels`` or ``image``, not both."""

    model_config = ConfigDict(extra="forbid")
    pixels: list[list[Pixel]] | None = Field(
        None, description="Grey levels as rows (2-D), 0–255 (or 0–1), either polarity; any size from 8x8.")
    image: str | None = Field(
        None, max_length=MAX_BODY * 4 // 3 + 64,
        description="A PNG/JPEG/GIF/BMP/WEBP image as a data URL (data:image/png;base64,...) or bare base64.")
    run: str | None = Field(None, description="Run id to predict with (default: the server's run).")


class ClassProbability(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    class_: str = Field(alias="class")
    probability: float


class PredictOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    run: str
    run_reason: str | None = Field(None, description="Why this run answered: 'requested', or how the server's "
                                   "default run was chosen ('best: ...', 'latest: ...', 'named').")
    prediction: str
    probability: float
    top: list[ClassProbability]
    classes: list[str]
    probabilities: list[float]
    scores: Literal["probability", "softmax of decision_function"]
    input: str = Field(description="The image the model received, as a PNG data URL.")
    size: int
    inverted: bool
    notes: list[str]


class RunSummary(BaseModel):
    id: str
    created: str | None = None
    dataset: str | None = None
    model: str | None = None
    task: str
    binary: bool
    accuracy: float | None = None
    f1: float | None = None
    cv_mean: float | None = None
    fit_seconds: float | None = None
    n_train: int | None = None
    shape: list[int]
    classes: list[str]
    evaluated: bool
    default: bool
    default_reason: str | None = None
    invalid: str | None = Field(None, description="Why the run cannot be used (its run.json is invalid).")


class Confusion(BaseModel):
    labels: list[str]
    matrix: list[list[int]]
    n: int


class Detector(BaseModel):
    """Test labels and scores of a binary detector, for the threshold slider."""

    y_true: list[int]
    y_score: list[float]
    threshold: float
    score_kind: str


class Robustness(BaseModel):
    clean: float = Field(description="Accuracy on the clean images of the sample.")
    mean: float | None = Field(description="Mean accuracy over every corruption and severity.")
    n_test: int
    severities: list[int]
    accuracy: dict[str, list[float]] = Field(description="Per corruption, the accuracy at each severity.")


class RunDetail(RunSummary):
    params: dict
    metrics: dict
    split: dict
    confusion: Confusion | None = None
    detector: Detector | None = None
    robustness: Robustness | None = None


class ErrorImage(BaseModel):
    index: int
    png: str


class ErrorsOut(BaseModel):
    run: str
    true: int
    pred: int
    true_class: str
    pred_class: str
    count: int
    images: list[ErrorImage]


class ErrorBody(BaseModel):
    error: str
    detail: str

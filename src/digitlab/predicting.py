"""Predict digits in the user's own files with a trained run.

>>> from digitlab.predicting import predict_files
>>> for p in predict_files("latest", ["note.jpg", "scans/"]):   # doctest: +SKIP
...     print(p.file, p.prediction, round(p.probability, 2))
note.jpg 7 0.93

Every input goes through :func:`digitlab.preprocess.preprocess` at the model's input size (28x28,
or 8x8 for ``digits``), so photos, scans and drawings look like what the model was trained on.
Models without ``predict_proba`` (SVC, SGD) get a softmax of ``decision_function``;
:attr:`Predictor.score_kind` says which.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ._files import MAX_ARRAY_BYTES, is_stdin, open_input, read_npy_header
from .exceptions import DataError, DigitlabError, InputMissingError
from .preprocess import Preprocessed, preprocess, read_image_bytes

__all__ = ["Prediction", "Predictor", "predict_files", "expand_inputs", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
ARRAY_SUFFIXES = (".npy",)
IDX_MAGIC_UINT8 = b"\x00\x00\x08"
PROBA = "probability"
SOFTMAX = "softmax of decision_function"


@dataclass
class Prediction:
    """The model's answer for one image (or the error that prevented one).

    Attributes
    ----------
    file : str
        The input's name (``stack.npy[3]`` for the 4th image of a stack).
    prediction : str or None
        The predicted class name (``"7"``, or ``"5"`` / ``"not 5"`` for a detector).
    probability : float or None
    top : list of (str, float)
        The most likely classes, best first.
    probabilities : ndarray of shape (n_classes,) or None
    image : ndarray of shape (size, size), dtype=uint8, or None
        What the model received.
    inverted : bool
        Dark-on-light input that was inverted.
    notes : list of str
    error : DigitlabError or None
        Why there is no prediction.
    """

    file: str
    prediction: str | None = None
    probability: float | None = None
    top: list = field(default_factory=list)
    probabilities: np.ndarray | None = None
    image: np.ndarray | None = None
    inverted: bool = False
    notes: list = field(default_factory=list)
    error: DigitlabError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        """The ``--json`` shape: ``{file, prediction, probability, top: [{class, probability}]}``."""
        d = {"file": self.file, "prediction": self.prediction,
             "probability": None if self.probability is None else round(float(self.probability), 6),
             "top": [{"class": c, "probability": round(float(p), 6)} for c, p in self.top]}
        if self.notes:
            d["notes"] = list(self.notes)
        if self.error is not None:
            d["error"] = str(self.error)
        return d


class Predictor:
    """A fitted model with the facts needed to feed it: input size and class names.

    Parameters
    ----------
    model : fitted classifier
        Takes flat uint8 pixels ``(n_samples, size*size)``, like every digitlab pipeline.
    classes : list of str, default=None
        Class names indexed by the model's ``classes_`` (default: ``str`` of each class).
    shape : (int, int), default=None
        Input image shape (default: the square root of ``n_features_in_``).
    run_id : str, default=None
    """

    def __init__(self, model, *, classes=None, shape=None, run_id=None):
        self.model = model
        self.run_id = run_id
        n = getattr(model, "n_features_in_", None)
        if shape is None:
            side = int(round(np.sqrt(n))) if n else 28
            shape = (side, side)
        self.shape = tuple(int(s) for s in shape)
        if self.shape[0] != self.shape[1]:
            raise DataError(f"model input is {self.shape[0]}×{self.shape[1]}; only square inputs can "
                            "be predicted from images")
        model_classes = list(getattr(model, "classes_", range(len(classes or []) or 10)))
        if classes:
            self.classes = [str(classes[int(c)]) if _is_index(c, len(classes)) else str(c)
                            for c in model_classes]
        else:
            self.classes = [str(c) for c in model_classes]
        self.score_kind = PROBA if hasattr(model, "predict_proba") else SOFTMAX

    @classmethod
    def from_run(cls, run, *, runs_dir=None, allow_version_mismatch: bool = False) -> "Predictor":
        """Load a run's model safely (skops allow-list) with its input shape and class names.

        Parameters
        ----------
        run : Run, str or path-like
            A :class:`~digitlab.runs.Run`, or a run id, unique part of one, ``latest``, or folder.
        """
        from .runs import Run, resolve_run

        if not isinstance(run, Run):
            run = resolve_run(run, runs_dir)
        model = run.load_model(allow_version_mismatch=allow_version_mismatch)
        return cls(model, classes=run.classes or None, shape=run.info.dataset.shape or None, run_id=run.id)

    @property
    def size(self) -> int:
        return self.shape[0]

    def prepare(self, data, name: str | None = None, *, raw: bool = False) -> Preprocessed:
        """Turn bytes, a path, a PIL image or a 2-D array into the model's input image.

        ``raw=True`` feeds an array already of the model's shape as it is (MNIST IDX files).
        """
        if raw and isinstance(data, np.ndarray):
            label = name or "array"
            if data.shape != self.shape:
                raise DataError(f"{label}: --raw needs {self.shape[0]}×{self.shape[1]} images, got "
                                f"{'×'.join(map(str, data.shape))}")
            from .preprocess import _array_to_unit

            unit = _array_to_unit(data, label)
            return Preprocessed(np.rint(unit * 255).astype(np.uint8))
        return preprocess(data, size=self.size, name=name)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` for model-ready uint8 images ``(n, h, w)``."""
        X = np.asarray(images, dtype=np.uint8).reshape(len(images), -1)
        if self.score_kind == PROBA:
            return np.asarray(self.model.predict_proba(X), dtype=np.float64)
        from scipy.special import softmax

        s = np.asarray(self.model.decision_function(X), dtype=np.float64)
        if s.ndim == 1:  # binary: the score is for classes_[1]
            s = np.column_stack([np.zeros_like(s), s])
        return softmax(s, axis=1)

    def _fill(self, preds: list[Prediction], images: list, top: int) -> None:
        if not preds:
            return
        proba = self.predict_proba(np.stack(images))
        k = max(1, min(top, len(self.classes)))
        for p, row in zip(preds, proba):
            order = np.argsort(-row, kind="stable")[:k]
            p.probabilities = row
            p.top = [(self.classes[i], float(row[i])) for i in order]
            p.prediction, p.probability = p.top[0]

    def predict(self, data, name: str | None = None, *, top: int = 3, raw: bool = False) -> Prediction:
        """Predict one image (bytes, path, PIL image or 2-D array); errors are raised."""
        res = self.prepare(data, name, raw=raw)
        p = Prediction(name or "image", image=res.image, inverted=res.inverted, notes=list(res.notes))
        self._fill([p], [res.image], top)
        return p

    def predict_files(self, paths: Iterable, *, top: int = 3, errors: str = "raise",
                      raw: bool = False) -> list[Prediction]:
        """Predict every image in *paths* (image files, folders, ``.npy`` arrays, IDX files).

        Parameters
        ----------
        paths : iterable of path-like
        top : int, default=3
            How many classes to list per image.
        errors : {"raise", "collect"}, default="raise"
            ``"collect"`` puts each file's error in :attr:`Prediction.error` and carries on.
        raw : bool, default=False
            Feed arrays (``.npy``, IDX) of the model's shape as they are, without preprocessing.
        """
        if errors not in ("raise", "collect"):
            raise ValueError(f"errors: must be 'raise' or 'collect', got {errors!r}")
        out: list[Prediction] = []
        for chunk in _chunks(expand_inputs(paths, self.shape, raw=raw), 256):
            good, images = [], []
            for name, load in chunk:
                try:
                    res = self.prepare(load(), name, raw=raw)
                except DigitlabError as exc:
                    if errors == "raise":
                        raise
                    out.append(Prediction(name, error=exc))
                    continue
                p = Prediction(name, image=res.image, inverted=res.inverted, notes=list(res.notes))
                out.append(p)
                good.append(p)
                images.append(res.image)
            self._fill(good, images, top)
        return out


def _is_index(c, n) -> bool:
    try:
        return float(c) == int(c) and 0 <= int(c) < n
    except (TypeError, ValueError):
        return False


def _chunks(it, n):
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) == n:
            yield buf
            buf = []
    if buf:
        yield buf


def _failing(exc):
    def load():
        raise exc
    return load


def expand_inputs(paths: Iterable, shape=(28, 28), *, raw: bool = False) -> Iterator[tuple[str, callable]]:
    """Yield ``(name, load)`` per image: *load()* returns bytes or a 2-D array, or raises.

    Folders are walked (sorted, hidden files skipped) for images, ``.npy`` and IDX files; a stack
    of images in one file yields ``file[i]`` per image; ``-`` (or ``/dev/stdin``) is one image,
    ``.npy`` or IDX read from the standard input. Problems are raised by *load()*, so one bad
    file does not stop the others.
    """
    for p in paths:
        if is_stdin(p):
            yield from _expand_stdin(str(p), shape)
            continue
        p = Path(p)
        if p.is_dir():
            try:
                files = sorted(f for f in p.rglob("*") if f.is_file() and _wanted(f, p))
            except OSError as exc:
                yield str(p), _failing(InputMissingError(f"{p}: cannot read folder ({exc.strerror or exc})"))
                continue
            if not files:
                yield str(p), _failing(InputMissingError(f"{p}: no images in folder "
                                                         f"({', '.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)}, IDX)"))
            for f in files:
                yield from _expand_file(f, shape)
        else:
            yield from _expand_file(p, shape)


def _wanted(f: Path, root: Path) -> bool:
    if any(part.startswith(".") for part in f.relative_to(root).parts):
        return False
    name = f.name.lower()
    return name.endswith(IMAGE_SUFFIXES + ARRAY_SUFFIXES) or "idx3" in name


def _expand_file(path: Path, shape) -> Iterator[tuple[str, callable]]:
    name = str(path)
    try:
        kind = _kind(path)
        if kind == "image":
            yield name, lambda: read_image_bytes(path, name)
            return
        stack = _load_array(path, kind)
    except DigitlabError as exc:  # missing, unreadable, a FIFO or a device: this input's error
        yield name, _failing(exc)
        return
    yield from _stack_items(name, stack, shape)


def _expand_stdin(name: str, shape) -> Iterator[tuple[str, callable]]:
    try:
        data = read_image_bytes(name, stdin=True)  # .npy and IDX get the image's cap here too
        kind = _sniff(data[:4])
        if kind == "image":
            yield name, lambda: data
            return
        stack = _array_from_bytes(data, kind, name)
    except DigitlabError as exc:
        yield name, _failing(exc)
        return
    yield from _stack_items(name, stack, shape)


def _stack_items(name: str, stack: np.ndarray, shape) -> Iterator[tuple[str, callable]]:
    h, w = shape
    if stack.ndim == 2 and stack.shape != (h, w) and stack.shape[1] == h * w and stack.shape[0] != stack.shape[1]:
        stack = stack.reshape(len(stack), h, w)  # rows of flat pixels, like Dataset.X
    if stack.ndim == 2:
        yield name, lambda: np.asarray(stack)
    elif stack.ndim == 3:
        for i in range(len(stack)):
            yield f"{name}[{i}]", (lambda i=i: np.asarray(stack[i]))
    else:
        yield name, _failing(DataError(f"{name}: expected one image (2-D) or a stack of images (3-D), "
                                       f"got an array of shape {stack.shape}"))


def _kind(path: Path) -> str:
    """``"npy"``, ``"idx"`` or ``"image"``: by name, else by the first bytes (raises for a bad path)."""
    name = path.name.lower()
    if name.endswith(ARRAY_SUFFIXES):
        return "npy"
    if "idx" in name or name.endswith(".ubyte"):
        return "idx"
    with open_input(path, max_bytes=None, what="image") as fh:  # a FIFO or device is refused here
        return _sniff(fh.read(4))


def _sniff(head: bytes) -> str:
    if head[:3] == IDX_MAGIC_UINT8:
        return "idx"
    if head[:2] == b"\x93N":  # "\x93NUMPY" without the .npy suffix
        return "npy"
    return "image"


def _load_array(path: Path, kind: str) -> np.ndarray:
    name = str(path)
    if kind == "idx":
        from .datasets.idx import read_idx

        arr, _ = read_idx(path)
        return _check_array(arr, name, kind)
    with open_input(path, max_bytes=MAX_ARRAY_BYTES, what="array") as fh:
        arr = _map_npy(fh, name)
    return _check_array(arr, name, kind)


def _map_npy(fh, name: str) -> np.ndarray:
    """Memory-map the .npy file open in *fh*: a 10,000-image stack is read image by image.

    ``np.load(mmap_mode=...)`` only takes a path, which could be swapped for a FIFO after
    :func:`open_input` checked it; so the header is parsed (:func:`read_npy_header`) and the
    already-checked descriptor is mapped. Object arrays (pickles) are refused, never loaded.
    """
    size = os.fstat(fh.fileno()).st_size
    try:
        shape, fortran, dtype = read_npy_header(fh, size)
    except ValueError as exc:
        raise DataError(f"{name}: not a numpy .npy array ({exc})") from None
    offset = fh.tell()
    n_bytes = math.prod(shape) * dtype.itemsize  # Python ints: a lying header cannot overflow
    if size - offset < n_bytes:
        raise DataError(f"{name}: not a numpy .npy array (header says {n_bytes:,} bytes of data, "
                        f"the file has {size - offset:,})")
    if n_bytes == 0:
        return np.empty(shape, dtype)  # nothing to map
    return np.memmap(fh, dtype=dtype, mode="r", shape=shape, order="F" if fortran else "C", offset=offset)


def _array_from_bytes(data: bytes, kind: str, name: str) -> np.ndarray:
    if kind == "idx":
        from .datasets.idx import read_idx_bytes

        return _check_array(read_idx_bytes(data, name)[0], name, kind)
    buf = io.BytesIO(data)
    try:
        shape, fortran, dtype = read_npy_header(buf, len(data))
    except ValueError as exc:
        raise DataError(f"{name}: not a numpy .npy array ({exc})") from None
    count, offset = math.prod(shape), buf.tell()
    if len(data) - offset < count * dtype.itemsize:
        raise DataError(f"{name}: not a numpy .npy array (header says {count * dtype.itemsize:,} bytes of "
                        f"data, the input has {len(data) - offset:,})")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape, order="F" if fortran else "C")
    return _check_array(arr, name, kind)


def _check_array(arr, name: str, kind: str) -> np.ndarray:
    if kind == "idx":
        if arr.ndim == 1:
            raise DataError(f"{name}: an IDX labels file (1-D), not images")
        return arr
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{name}: not a numpy .npy array")
    if arr.dtype.kind not in "buif":
        raise DataError(f"{name}: expected numeric pixels, got dtype {arr.dtype}")
    return arr


def predict_files(run_or_model, paths, top: int = 3, *, runs_dir=None, errors: str = "raise",
                  raw: bool = False) -> list[Prediction]:
    """Predict the digit in each image file, folder, ``.npy`` array or IDX file.

    Parameters
    ----------
    run_or_model : Run, str, path-like, Predictor or fitted estimator
        A run (id, unique part of an id, ``latest``, or run folder), or a model to use directly.
    paths : path-like or list of path-like
    top : int, default=3
        Classes listed per image in :attr:`Prediction.top`.
    runs_dir : path-like, default=None
        Where runs are looked up (default ``$DIGITLAB_RUNS_DIR`` or ``./runs``).
    errors : {"raise", "collect"}, default="raise"
        ``"raise"`` raises the first bad file's :class:`~digitlab.exceptions.DigitlabError`
        (``DataError`` for bad content, ``InputMissingError`` for missing files);
        ``"collect"`` returns it in that file's :attr:`Prediction.error` and predicts the rest.
    raw : bool, default=False
        Feed arrays of the model's shape as they are (exact MNIST IDX reproduction).

    Returns
    -------
    list of Prediction
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    pred = _predictor(run_or_model, runs_dir)
    return pred.predict_files(paths, top=top, errors=errors, raw=raw)


def _predictor(obj, runs_dir=None) -> Predictor:
    from .runs import Run

    if isinstance(obj, Predictor):
        return obj
    if isinstance(obj, (Run, str, os.PathLike)):
        return Predictor.from_run(obj, runs_dir=runs_dir)
    if hasattr(obj, "predict"):
        return Predictor(obj)
    raise TypeError(f"run_or_model: expected a run, a run id or a fitted model, got {type(obj).__name__}")

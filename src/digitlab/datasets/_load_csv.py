"""Load a CSV in the common ``label,pixel1..pixelN`` layout (Kaggle's MNIST train.csv).

numpy's ``loadtxt`` is the fast path; when it fails, a line-by-line scan finds the first bad line
and column so the message can name them (numpy counts rows without the header and says nothing
about column names).
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import numpy as np

from .._files import read_input_bytes
from ..exceptions import DataError, ParameterError
from .dataset import Dataset

MIN_SIDE = 8
# 128x128 images: 4x the side of anything digitlab's models read, and the first row is refused
# by counting commas, before a 10^6-cell row is split into a million strings
MAX_SIDE = 128
MAX_COLUMNS = 1 + MAX_SIDE * MAX_SIDE
MAX_CSV_BYTES = 512 * 2**20  # ~2.5x Kaggle's full MNIST as CSV; float64 parsing needs ~4x this


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def load_csv(path, *, header: str = "auto", name: str | None = None) -> Dataset:
    """Read a labelled CSV; the width must be 1 + side² (785 for 28x28, 65 for 8x8).

    Parameters
    ----------
    path : path-like
        UTF-8 text (a BOM is allowed), one image per line: the label 0–9, then the pixels row by
        row, either all 0–255 or all 0–1 (scaled to 0–255).
    header : {"auto", "yes", "no"}, default="auto"
        ``"auto"``: the first line is a header when its first cell is not a number.
    name : str, default=None
        Dataset name (default: the file's stem).

    Errors name the file line (header included) and the column, e.g.
    ``train.csv:3 col pixel1: empty value``.
    """
    path = Path(path)
    if header not in ("auto", "yes", "no"):
        raise ParameterError(f"header: must be auto, yes or no, got {header!r}")
    raw = read_input_bytes(path, max_bytes=MAX_CSV_BYTES, what="CSV")
    try:
        text = raw.decode("utf-8-sig")  # a BOM would otherwise break the first cell
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text CSV file (not UTF-8 at byte {exc.start})") from None
    # (file line number, text) of the non-blank lines; numpy skips blank lines and would
    # otherwise shift every line number after one
    lines = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise DataError(f"{path}: no data rows (empty file)")
    first = _first_cells(path, *lines[0])
    if header == "auto":
        # a header's label column is a name; a data row's is a number (or a bad value that the
        # parser should report, which is why an empty first cell does not make a header)
        has_header = first[0].strip() != "" and not _is_number(first[0])
    else:
        has_header = header == "yes"
    columns = [c.strip() for c in first] if has_header else None
    width = len(first)
    side = math.isqrt(width - 1) if width > 1 else 0
    # side ≥ 8 (scikit-learn's digits): a 10-column file is a mistake, not 3×3 images
    if width < 2 or side * side != width - 1 or side < MIN_SIDE:
        raise DataError(
            f"{path}: {width} columns; expected a label followed by side² pixels "
            f"(785 = label + 28×28, 65 = label + 8×8)"
        )
    body = lines[1:] if has_header else lines
    if not body:
        raise DataError(f"{path}: no data rows (only a header)")
    linenos = np.fromiter((i for i, _ in body), dtype=np.int64, count=len(body))
    try:
        data = np.loadtxt([line for _, line in body], delimiter=",", dtype=np.float64, ndmin=2,
                          quotechar='"')
    except ValueError:
        _explain(path, body, width, columns)
        raise DataError(f"{path}: cannot parse as numbers") from None  # _explain normally raises
    if data.shape[1] != width:
        raise DataError(f"{path}: rows have {data.shape[1]} columns, expected {width}")
    if not np.isfinite(data).all():  # loadtxt accepts "nan" and "inf" silently
        r, c = np.argwhere(~np.isfinite(data))[0]
        raise DataError(f"{path}:{linenos[r]} {_col(columns, c)}: value {data[r, c]} is not finite")
    labels, pixels = data[:, 0], data[:, 1:]
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels > 9))
    if bad.size:
        r = int(bad[0])
        raise DataError(f"{path}:{linenos[r]} {_col(columns, 0)}: label {labels[r]:g} is not a digit 0–9")
    lo, hi = pixels.min(), pixels.max()
    if lo < 0 or hi > 255:
        r, c = np.argwhere((pixels < 0) | (pixels > 255))[0]
        raise DataError(f"{path}:{linenos[r]} {_col(columns, c + 1)}: pixel {pixels[r, c]:g} is outside 0–255")
    if hi <= 1.0:
        pixels = pixels * 255.0  # a 0–1 file
    elif (pixels != np.round(pixels)).any():
        r, c = np.argwhere(pixels != np.round(pixels))[0]
        raise DataError(
            f"{path}:{linenos[r]} {_col(columns, c + 1)}: fractional pixel {pixels[r, c]:g} in a "
            f"0–255 file (mixed 0–1 and 0–255 scales)"
        )
    images = np.rint(pixels).astype(np.uint8).reshape(-1, side, side)
    return Dataset(
        name=name or path.stem,
        images=images,
        labels=labels.astype(np.int64),
        classes=tuple(str(i) for i in range(10)),
        split="all",
        source=str(path),
        checksums={path.name: "md5:" + hashlib.md5(raw).hexdigest()},
        verified=False,
    )


def _cells(path, lineno: int, line: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except csv.Error as exc:  # e.g. a 200 kB field: "field larger than field limit"
        raise DataError(f"{path}: line {lineno} is not CSV ({exc})") from None


def _first_cells(path, lineno: int, line: str) -> list[str]:
    """The first line's cells, refusing more than MAX_COLUMNS (counted before splitting, when
    no quote can hide a comma)."""
    n = line.count(",") + 1 if '"' not in line else None
    cells = _cells(path, lineno, line) if n is None or n <= MAX_COLUMNS else None
    n = n if cells is None else len(cells)
    if n > MAX_COLUMNS:
        raise DataError(f"{path}: line {lineno} has {n:,} columns; at most {MAX_COLUMNS:,} are read "
                        f"(a label + {MAX_SIDE}×{MAX_SIDE} pixels)")
    return cells


def _col(columns, c) -> str:
    if columns and c < len(columns):
        return f"col {columns[c]}"
    return f"col {c + 1}"


def _explain(path, body, width, columns):
    """Raise a DataError naming the first bad line and column of *body* ((lineno, text) pairs)."""
    for lineno, line in body:
        cells = _cells(path, lineno, line)
        if len(cells) != width:
            raise DataError(f"{path}: line {lineno} has {len(cells)} columns, expected {width}")
        for c, cell in enumerate(cells):
            if cell.strip() == "":
                raise DataError(f"{path}:{lineno} {_col(columns, c)}: empty value")
            if not _is_number(cell):
                raise DataError(f"{path}:{lineno} {_col(columns, c)}: not a number ({cell.strip()[:20]!r})")

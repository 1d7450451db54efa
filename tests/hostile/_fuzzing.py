"""Fuzz targets for the parsers of untrusted input, shared by tests and benchmarks.

Each ``check_*`` feeds one input to a parser and asserts the contract: it returns valid data or
raises a :class:`digitlab.exceptions.DigitlabError`; anything else (ValueError, zlib.error,
MemoryError...) propagates and fails the property. Python-level allocations are bounded with
tracemalloc (numpy's buffers are traced too): a lying header must never make the parser
allocate what it claims.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tempfile
import tracemalloc

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from digitlab.exceptions import DigitlabError

MEMORY_SLACK = 64 * 2**20  # bytes allowed on top of a small multiple of the input size
DEADLINE_MS = 10_000  # per input: a hang shows up as DeadlineExceeded; generous for a loaded machine


# --------------------------------------------------------------------------- strategies
@st.composite
def idx_files(draw):
    """IDX-shaped bytes: a plausible or broken header, dims from tiny to 4 G, a payload of any length."""
    clean = draw(st.booleans())  # half the inputs are well-formed, to reach the parser's end
    prefix = b"\0\0" if clean else draw(st.sampled_from([b"\0\0", b"\0\1", b"\x1f\x8b"]))
    code = 0x08 if clean else draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    ndim = draw(st.integers(1, 3) if clean else st.integers(0, 4))
    dims = draw(st.lists(st.integers(1, 12) if clean else st.one_of(st.integers(0, 30), st.integers(0, 2**32 - 1)),
                         min_size=ndim, max_size=ndim))
    head = prefix + bytes([code, ndim]) + b"".join(struct.pack(">I", d) for d in dims)
    want = int(np.prod(dims, dtype=object)) if dims else 0
    if want <= 4096:
        n = want if clean else max(0, want + draw(st.sampled_from([0, 0, 0, -1, 1, -want])))
    else:
        n = draw(st.integers(0, 256))
    data = head + draw(st.binary(min_size=n, max_size=n))
    wrap = draw(st.sampled_from(["raw", "gzip"] if clean else ["raw", "gzip", "gzip-cut", "gzip-flip"]))
    if wrap == "raw":
        return data
    z = gzip.compress(data, mtime=0)
    if wrap == "gzip-cut":
        return z[: draw(st.integers(0, len(z) - 1))]
    if wrap == "gzip-flip":
        i = draw(st.integers(10, len(z) - 1))
        return z[:i] + bytes([z[i] ^ draw(st.integers(1, 255))]) + z[i + 1:]
    return z


IDX_INPUTS = st.one_of(st.binary(max_size=600), idx_files())

_CELLS = st.one_of(st.integers(0, 255).map(str), st.integers(0, 255).map(str), st.integers(0, 255).map(str),
                   st.sampled_from(["", "nan", "inf", "-1", "256", "3.5", "0.5", "1", "abc", "1e400", " 7 ",
                                    '"5"', "0x10", "-0"]))


@st.composite
def csv_files(draw):
    """CSV-shaped bytes: header or not, BOM or not, 8x8/28x28/wrong widths, ragged rows, junk cells."""
    clean = draw(st.booleans())  # half the inputs are well-formed, to reach the parser's end
    if not clean and draw(st.integers(0, 15)) == 0:
        return draw(wide_csv_files())
    side = 8 if clean else draw(st.sampled_from([8, 28, 3]))
    width = side * side + 1 + (0 if clean else draw(st.sampled_from([0, 0, 0, -1, 1])))
    rows = []
    if draw(st.booleans()):
        rows.append(",".join(["label"] + [f"pixel{i}" for i in range(width - 1)]))
    for _ in range(draw(st.integers(1, 4) if clean else st.integers(0, 4))):
        label = draw(st.integers(0, 9).map(str) if clean else st.one_of(st.integers(0, 9).map(str), _CELLS))
        if clean:
            cells = [str(v) for v in draw(st.lists(st.integers(0, 255), min_size=width - 1, max_size=width - 1))]
        elif draw(st.integers(0, 3)) == 0:  # a row of junk
            cells = draw(st.lists(_CELLS, min_size=0, max_size=width + 2))
        else:  # a row of pixels with maybe one odd cell
            cells = [str(v) for v in draw(st.lists(st.integers(0, 255), min_size=width - 1, max_size=width - 1))]
            if cells and draw(st.booleans()):
                cells[draw(st.integers(0, len(cells) - 1))] = draw(_CELLS)
        rows.append(",".join([label, *cells]))
    text = "\n".join(rows) + draw(st.sampled_from(["", "\n", "\n\n", "\r\n"]))
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    return bom + text.encode()


@st.composite
def wide_csv_files(draw):
    """Rows at the column cap (1 + 128², the largest accepted) and just over it, quoted or not."""
    from digitlab.datasets._load_csv import MAX_COLUMNS

    width = draw(st.sampled_from([MAX_COLUMNS, MAX_COLUMNS + 1, MAX_COLUMNS + 7]))
    cell = draw(st.sampled_from(["0", '"0"', "255"]))
    row = ",".join(["3"] + [cell] * (width - 1))
    rows = [row] * draw(st.integers(1, 2))
    if draw(st.booleans()):
        rows.append(",".join(["3"] + [cell] * draw(st.integers(0, width + 3))))  # maybe ragged
    return "\n".join(rows).encode()


CSV_INPUTS = st.one_of(st.binary(max_size=400), csv_files())


@st.composite
def npy_files(draw):
    """.npy bytes: numeric and object arrays, versions 1.0-3.0, cut or with a flipped byte, lying shapes."""
    arr = draw(ARRAYS)
    buf = io.BytesIO()
    if draw(st.integers(0, 9)) == 0:
        np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    else:
        version = draw(st.sampled_from([None, (1, 0), (2, 0), (3, 0)]))
        if version is None:
            np.save(buf, arr)
        else:
            np.lib.format.write_array(buf, arr, version=version)
    data = buf.getvalue()
    how = draw(st.sampled_from(["whole", "whole", "cut", "flip", "shape"]))
    if how == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if how == "flip":
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    if how == "shape":  # the header claims more (or other) data than the file holds
        shape = draw(st.sampled_from(["(4096, 4096)", "(0,)", "(2**40,)", "(-1, 3)", "(3, 1000000000000)"]))
        return data.replace(repr(arr.shape).encode(), shape.encode(), 1)
    return data


NPY_INPUTS = st.one_of(st.binary(max_size=200).map(lambda b: b"\x93NUMPY" + b), npy_files())


@st.composite
def encoded_images(draw):
    """Small images in allowed and refused formats, some truncated or with flipped bytes."""
    from PIL import Image

    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16", "LA"]))
    w, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    fmt = draw(st.sampled_from(["PNG", "PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "ICO"]))
    arr = draw(hnp.arrays(np.uint8, (h, w), elements=st.integers(0, 255)))
    img = Image.fromarray(arr, "L")
    try:
        img = img.convert(mode) if mode != "I;16" else Image.fromarray(arr.astype(np.uint16) * 257)
        buf = io.BytesIO()
        img.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        img.convert("L").save(buf := io.BytesIO(), format="PNG")
    data = buf.getvalue()
    cut = draw(st.sampled_from(["whole", "whole", "cut", "flip"]))
    if cut == "cut":
        return data[: draw(st.integers(0, len(data) - 1))]
    if cut == "flip":
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
    return data


_ARRAY_DTYPES = st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int64, np.bool_, np.int8])
ARRAYS = hnp.arrays(_ARRAY_DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=48))
IMAGE_INPUTS = st.one_of(st.binary(max_size=300), encoded_images(), ARRAYS)


# --------------------------------------------------------------------------- checks
class _Bounded:
    """Fail if the call allocates more than ``factor`` × input size + MEMORY_SLACK (traced)."""

    def __init__(self, size: int, factor: int = 8):
        self.limit = factor * size + MEMORY_SLACK

    def __enter__(self):
        self.started = not tracemalloc.is_tracing()
        if self.started:
            tracemalloc.start()
        tracemalloc.reset_peak()
        self.base = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc):
        peak = tracemalloc.get_traced_memory()[1] - self.base
        if self.started:
            tracemalloc.stop()
        if exc[0] is None or issubclass(exc[0], DigitlabError):
            assert peak <= self.limit, f"allocated {peak:,} bytes (limit {self.limit:,})"
        return False


def check_idx(data: bytes) -> str:
    from digitlab.datasets.idx import read_idx_bytes

    with _Bounded(len(data)):
        try:
            arr, digest = read_idx_bytes(data, "fuzz.idx")
        except DigitlabError:
            return "refused"
    assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8
    assert arr.ndim >= 1 and all(d >= 1 for d in arr.shape)
    assert isinstance(digest, str) and len(digest) == 32
    return "ok"


def check_csv(data: bytes) -> str:
    from digitlab.datasets._load_csv import load_csv

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz.csv")
        with open(path, "wb") as fh:
            fh.write(data)
        with _Bounded(len(data), factor=64):
            try:
                ds = load_csv(path)
            except DigitlabError:
                return "refused"
    assert ds.images.dtype == np.uint8 and ds.images.ndim == 3 and len(ds) >= 1
    assert ds.images.shape[1] == ds.images.shape[2]
    assert len(ds.labels) == len(ds.images)
    assert ds.labels.min() >= 0 and ds.labels.max() < len(ds.classes)
    return "ok"


def check_image(data) -> str:
    from digitlab.preprocess import preprocess

    size = data.nbytes if isinstance(data, np.ndarray) else len(data)
    with _Bounded(size, factor=64):
        try:
            res = preprocess(data)
        except DigitlabError:
            return "refused"
    assert res.image.shape == (28, 28) and res.image.dtype == np.uint8
    return "ok"


def check_npy(data: bytes) -> str:
    from pathlib import Path

    from digitlab.predicting import _load_array

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.npy"
        path.write_bytes(data)
        with _Bounded(len(data)):
            try:
                arr = _load_array(path, "npy")
                # every byte the map claims is read: a map past the file's end would be SIGBUS
                pixels = np.array(arr)
            except DigitlabError:
                return "refused"
    assert pixels.dtype.kind in "buif" and pixels.nbytes <= len(data)
    return "ok"


# run.json: a valid description whose fields are replaced, deleted or nested by hypothesis
_VALID_RUN = {
    "format": 1, "id": "20260101-000000-digits-logreg", "created": "2026-01-01T00:00:00+0000",
    "dataset": {"name": "digits", "ref": "digits", "source": "x", "checksums": {}, "verified": False,
                "shape": [8, 8], "classes": [str(d) for d in range(10)]},
    "split": {"how": "stratified", "test_size": 0.25, "seed": 0, "limit": None, "stratify": True,
              "n_train": 1347, "n_test": 450, "augment": False},
    "task": {"kind": "binary", "detect": 5}, "classes": ["not 5", "5"], "n_features": 64,
    "model": {"name": "logreg", "params": {"C": 1.0}, "raw_pixels": False, "estimator": "x",
              "all_params": {"C": 1.0}, "sha256": "0" * 64},
    "versions": {"sklearn": "1.9.1"}, "seed": 0,
    "fit": {"seconds": 0.5, "n_iter": 14, "max_iter": 200, "converged": True, "warnings": []},
    "metrics": {"test_accuracy": 0.96, "cv_scores": [0.95, 0.96], "cv_mean": 0.955, "precision": 0.9,
                "recall": 0.8, "f1": 0.85, "roc_auc": 0.99, "threshold_at_target": 1.5},
}
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))


_RUN_PATHS = [p for p in _paths(_VALID_RUN) if p]


@st.composite
def run_json_files(draw):
    """A valid run.json with a few fields replaced by any JSON, deleted, or nested deep."""
    import copy
    import json

    meta = copy.deepcopy(_VALID_RUN)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_RUN_PATHS))
        node = meta
        for k in path[:-1]:
            if not isinstance(node, dict) or k not in node:
                break
            node = node[k]
        else:
            if isinstance(node, dict):
                action = draw(st.sampled_from(["replace", "replace", "delete", "deep"]))
                if action == "delete":
                    node.pop(path[-1], None)
                elif action == "deep":
                    depth = draw(st.integers(1, 3000))
                    node[path[-1]] = json.loads("[" * depth + "]" * depth) if depth < 900 else None
                    if depth >= 900:  # too deep for json.dumps: splice the text in
                        marker = "\"__deep__\""
                        node[path[-1]] = "__deep__"
                        text = json.dumps(meta).replace(marker, "[" * depth + "]" * depth, 1)
                        return text.encode()
                else:
                    node[path[-1]] = draw(_JSON)
    text = json.dumps(meta)
    return draw(st.sampled_from([text.encode(), text.encode()[: draw(st.integers(0, len(text)))]]))


RUN_JSON_INPUTS = st.one_of(st.binary(max_size=200), run_json_files())


def check_run_json(data: bytes) -> str:
    """read_run either refuses (DigitlabError) or gives a run whose summary and records work."""
    from pathlib import Path

    from digitlab.runs import read_run

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "run.json").write_bytes(data)
        with _Bounded(len(data), factor=64):
            try:
                run = read_run(Path(tmp))
            except DigitlabError:
                return "refused"
        summary = run.summary()
    assert summary["id"] and isinstance(run.classes, list) and run.info is not None
    return "ok"


TARGETS = {
    "idx parser (datasets.idx.read_idx_bytes)": (check_idx, IDX_INPUTS),
    "csv loader (datasets._load_csv.load_csv)": (check_csv, CSV_INPUTS),
    "image preprocessing (preprocess.preprocess)": (check_image, IMAGE_INPUTS),
    "npy reader (predicting._load_array)": (check_npy, NPY_INPUTS),
    "run.json reader (runs.read_run)": (check_run_json, RUN_JSON_INPUTS),
}

FUZZ_SETTINGS = dict(deadline=DEADLINE_MS, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.filter_too_much])


def run_property(check, strategy, n: int, seed: int = 0) -> dict:
    """Run one property for *n* inputs outside pytest; count cases and outcomes."""
    from hypothesis import seed as hseed

    counts = {"cases": 0, "ok": 0, "refused": 0}

    @hseed(seed)
    @settings(max_examples=n, **FUZZ_SETTINGS)
    @given(strategy)
    def prop(x):
        counts["cases"] += 1
        counts[check(x)] += 1

    failure = None
    try:
        prop()
    except Exception as exc:  # noqa: BLE001 - the falsifying input's error is the result
        failure = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return {**counts, "failure": failure}


# --------------------------------------------------------------------------- mutation fuzzing
# Hypothesis builds structured inputs well but slowly (~5-100 ms each, most of it generation), too
# slow for the 20,000 cases per parser CI runs and the 1,000,000 of `make fuzz`. So the volume
# comes from byte-level mutation of seeds, as AFL and libFuzzer do: a few hundred seeds drawn
# from the hypothesis strategies above, each case a seed with a few random edits.
_INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x00\x00\x08\x03",
                b",", b"\n", b"\r\n", b"nan", b"-1", b"1e400", b'"', b"[", b"]" , b"{", b"}", b"null", b"\xef\xbb\xbf",
                b"1" * 40, b"Infinity", b"9" * 5000]


def mutate(data: bytes, rng: np.random.Generator, max_len: int = 1 << 16) -> bytes:
    """*data* with 1-4 random edits: flip, set, insert, delete, duplicate, truncate, splice in a token."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        op = int(rng.integers(0, 7))
        n = len(buf)
        i = int(rng.integers(0, n + 1))
        if op == 0 and n:  # flip one bit
            j = min(i, n - 1)
            buf[j] ^= 1 << int(rng.integers(0, 8))
        elif op == 1 and n:  # set a byte
            buf[min(i, n - 1)] = int(rng.integers(0, 256))
        elif op == 2:  # insert a token
            buf[i:i] = _INTERESTING[int(rng.integers(0, len(_INTERESTING)))]
        elif op == 3 and n:  # delete a run
            del buf[i:i + int(rng.integers(1, 64))]
        elif op == 4 and n:  # duplicate a run
            j = int(rng.integers(0, n))
            buf[i:i] = buf[j:j + int(rng.integers(1, 256))]
        elif op == 5:  # truncate
            del buf[i:]
        elif n:  # overwrite four bytes with a big-endian integer (IDX dims, lengths)
            buf[min(i, n - 1):min(i, n - 1) + 4] = int(rng.integers(0, 2**32)).to_bytes(4, "big")
    return bytes(buf[:max_len])


def seeds_from(strategy, n: int, seed: int = 0) -> list:
    """*n* examples of a hypothesis strategy, reproducibly (the corpus the mutator starts from)."""
    from hypothesis import seed as hseed

    out = []

    @hseed(seed)
    @settings(max_examples=n, **FUZZ_SETTINGS)
    @given(strategy)
    def collect(x):
        out.append(x)

    collect()
    return [x for x in out if isinstance(x, bytes)] or [b""]


def run_mutations(check, seeds: list[bytes], n: int, seed: int = 0, progress=None) -> dict:
    """Feed *n* mutated seeds to *check*; count outcomes; stop at the first failure (kept as
    ``failing_input`` so it can become an ``@example``)."""
    rng = np.random.default_rng(seed)
    counts = {"cases": 0, "ok": 0, "refused": 0}
    tracing = not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()  # once for the run: starting it per case costs more than the parsers
    try:
        for k in range(n):
            data = mutate(seeds[int(rng.integers(0, len(seeds)))], rng)
            try:
                counts[check(data)] += 1
            except Exception as exc:  # noqa: BLE001 - the contract is broken: report this input
                counts["cases"] = k + 1
                return {**counts, "failure": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                        "failing_input": data}
            counts["cases"] = k + 1
            if progress and (k + 1) % 1000 == 0:
                progress(k + 1)
    finally:
        if tracing:
            tracemalloc.stop()
    return {**counts, "failure": None}


# byte-level targets (arrays given to preprocess() are covered by the hypothesis property)
MUTATION_TARGETS = {name: (check, strategy) for name, (check, strategy) in TARGETS.items()}

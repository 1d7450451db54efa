"""Property tests: the IDX parser, the CSV loader, image preprocessing and the .npy reader on arbitrary input.

Each returns valid data or raises DigitlabError — never another exception, never a hang (deadline),
never an allocation far beyond its input (tracemalloc). Inputs mix pure random bytes with
structure-aware ones (plausible headers with lying sizes, gzip wrappers cut or flipped, CSV rows
with junk cells, images in allowed and refused formats, arrays of any dtype and shape).
"""

from __future__ import annotations

import gzip
import os
import struct

import pytest
from hypothesis import example, given, settings

from _fuzzing import (CSV_INPUTS, FUZZ_SETTINGS, IDX_INPUTS, IMAGE_INPUTS, NPY_INPUTS, RUN_JSON_INPUTS, TARGETS,
                      check_csv, check_idx, check_image, check_npy, check_run_json, run_mutations, run_property,
                      seeds_from)

N = 150  # hypothesis examples per property (structured inputs; generation is the slow part)
# mutation cases per parser: 5,000 in `make test` (seeded: the same cases each run, so CI keeps
# them as regression checks); the reliability benchmark runs 20,000 and `make fuzz` 1,000,000
N_MUTATIONS = int(os.environ.get("DIGITLAB_FUZZ_CASES", "5000"))


@settings(max_examples=N, **FUZZ_SETTINGS)
@given(IDX_INPUTS)
@example(b"\0\0\x08\x03" + struct.pack(">III", 0xFFFFFFFF, 28, 28))  # A7: 3.37 TB claimed
@example(b"\0\0\x08\x03" + struct.pack(">III", 0, 28, 28))  # A8: a dimension of 0
@example(gzip.compress(b"\0\0\x08\x01" + struct.pack(">I", 10) + bytes(10))[:-3])  # A1: cut gzip
def test_fuzz_idx_parser(data):
    check_idx(data)


@settings(max_examples=N, **FUZZ_SETTINGS)
@given(CSV_INPUTS)
@example(b"\xef\xbb\xbf5," + b",".join([b"0"] * 64) + b"\n")  # B6: BOM, 8x8
@example(b"5," + b",".join([b"nan"] * 64) + b"\n")  # B3
@example(b"5," + b"0," * 10**6 + b"0\n")  # a row of 10^6 + 1 columns (= 1 + 1000²): refused by counting
def test_fuzz_csv_loader(data):
    check_csv(data)


@settings(max_examples=N, **FUZZ_SETTINGS)
@given(NPY_INPUTS)
@example(b"")
@example(b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 28, 28), }"
         + b" " * 43 + b"\n")  # a header claiming 78 MB in a 128-byte file: refused, not mapped
@example(b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (-1, 28), }"
         + b" " * 53 + b"\n" + bytes(28))  # found by fuzzing: numpy's reader accepts a negative dimension
def test_fuzz_npy_reader(data):
    check_npy(data)


@settings(max_examples=N, **FUZZ_SETTINGS)
@given(IMAGE_INPUTS)
@example(b"")
@example(b"\x89PNG\r\n\x1a\n")
def test_fuzz_image_preprocessing(data):
    check_image(data)


def test_run_property_counts_and_reports_failures():
    """The harness behind BENCHMARKS.md's reliability rows counts cases and reports a failure."""
    from hypothesis import strategies as st

    ok = run_property(lambda x: "ok", st.integers(), 25)
    assert ok == {"cases": 25, "ok": 25, "refused": 0, "failure": None}

    def broken(x):
        if x > 10:
            raise ValueError("boom")
        return "ok"

    bad = run_property(broken, st.integers(0, 100), 50)
    assert bad["failure"] == "ValueError: boom"


@settings(max_examples=N, **FUZZ_SETTINGS)
@given(RUN_JSON_INPUTS)
@example(b'{"model": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")  # H8: nested 200,000 deep
@example(b'{"dataset": {"name": "d"}, "model": {"name": "m"}, "task": "y"}')  # H8: a wrong type
def test_fuzz_run_json_reader(data):
    check_run_json(data)


@pytest.mark.parametrize("target", ["idx", "csv", "image", "npy", "run.json"])
def test_fuzz_inputs_reach_both_outcomes(target):
    """The generators are not degenerate: some inputs parse, some are refused, none break."""
    from _fuzzing import TARGETS

    check, strategy = next(v for k, v in TARGETS.items() if k.lower().startswith(target))
    got = run_property(check, strategy, 80, seed=3)
    assert got["failure"] is None
    assert got["ok"] > 0 and got["refused"] > 0


@pytest.mark.parametrize("target", list(TARGETS), ids=[t.split(" ")[0] for t in TARGETS])
def test_fuzz_mutations(target):
    """N_MUTATIONS byte-level mutations of structured seeds per parser: every one parses or is
    refused with a DigitlabError, within its memory bound (BENCHMARKS.md counts these)."""
    check, strategy = TARGETS[target]
    got = run_mutations(check, seeds_from(strategy, 100, seed=0), N_MUTATIONS, seed=1)
    assert got["failure"] is None, (got["failure"], got.get("failing_input", b"")[:200])
    assert got["cases"] == N_MUTATIONS and got["ok"] + got["refused"] == N_MUTATIONS

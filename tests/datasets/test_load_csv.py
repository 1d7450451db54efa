"""CSV datasets in the label,pixel1..pixelN layout: good files and BAD-INPUTS section B."""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitlab import datasets
from digitlab.datasets._load_csv import load_csv
from digitlab.exceptions import DataError, ParameterError

HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 65))


def rows(n=4, side=8, scale=255):
    """n rows: label i % 10, pixels i + column (mod 256), as lists of numbers."""
    out = []
    for i in range(n):
        px = [((i + c) % 256) * scale / 255 for c in range(side * side)]
        out.append([i % 10] + [int(v) if scale == 255 else v for v in px])
    return out


def write_csv(path, data, header=HEADER, bom=False):
    lines = ([header] if header else []) + [",".join(map(str, r)) for r in data]
    text = "\n".join(lines) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


@pytest.mark.parametrize("with_header", [True, False], ids=["header", "no-header"])
def test_load_csv_with_and_without_header(tmp_path, with_header):
    """B6: the header is detected (auto) from a non-numeric first cell."""
    p = write_csv(tmp_path / "d.csv", rows(), header=HEADER if with_header else None)
    ds = datasets.load(p)
    assert ds.images.shape == (4, 8, 8) and ds.images.dtype == np.uint8
    assert ds.labels.tolist() == [0, 1, 2, 3]
    assert ds.images[1, 0, :3].tolist() == [1, 2, 3]
    assert ds.name == "d" and ds.source == str(p) and list(ds.checksums) == ["d.csv"]


def test_load_csv_28x28_layout(tmp_path):
    """785 columns = label + 28×28."""
    p = write_csv(tmp_path / "m.csv", rows(3, side=28), header=None)
    assert datasets.load(p).images.shape == (3, 28, 28)


def test_load_csv_utf8_bom(tmp_path):
    """B6: a UTF-8 BOM does not break the first header cell."""
    p = write_csv(tmp_path / "bom.csv", rows(), bom=True)
    assert datasets.load(p).labels.tolist() == [0, 1, 2, 3]


def test_load_csv_zero_one_scale(tmp_path):
    """B7: a file of 0–1 floats is scaled to 0–255."""
    data = [[3] + [0.0] * 63 + [1.0], [4] + [0.5] * 64]
    ds = datasets.load(write_csv(tmp_path / "f.csv", data))
    assert ds.images[0, 7, 7] == 255 and ds.images[1, 0, 0] == 128


def test_load_csv_explicit_header_argument(tmp_path):
    """B6: header='yes' drops a numeric first line; header='no' keeps it."""
    p = write_csv(tmp_path / "n.csv", rows(3), header=None)
    assert len(load_csv(p, header="no")) == 3
    assert len(datasets.load(p, header="yes")) == 2
    with pytest.raises(ParameterError, match="header: must be auto, yes or no, got 'maybe'"):
        load_csv(p, header="maybe")


def test_load_csv_skips_blank_lines_and_keeps_line_numbers(tmp_path):
    """Blank lines are skipped, and later errors still name the right file line."""
    r = rows(3)
    r[2][5] = "x"
    text = HEADER + "\n" + ",".join(map(str, r[0])) + "\n\n" + ",".join(map(str, r[1])) + "\n" + \
        ",".join(map(str, r[2])) + "\n"
    p = tmp_path / "b.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=re.escape(f"{p}:5 col pixel5: not a number ('x')")):
        datasets.load(p)


@pytest.mark.parametrize("value, line, col, reason", [
    ("", 3, "pixel1", "empty value"),
    ("abc", 3, "pixel1", "not a number ('abc')"),
], ids=["missing", "non-numeric"])
def test_load_csv_bad_cell_names_file_line_and_column(tmp_path, value, line, col, reason):
    """B1/B2: numpy's row index is re-mapped to the file line (header counted) and column name."""
    data = rows()
    data[1][1] = value
    p = write_csv(tmp_path / "train.csv", data)
    with pytest.raises(DataError, match=re.escape(f"{p}:{line} col {col}: {reason}")):
        datasets.load(p)


def test_load_csv_bad_cell_without_header(tmp_path):
    """B1 without a header: the column is numbered (1-based) instead of named."""
    data = rows()
    data[0][3] = ""
    p = write_csv(tmp_path / "t.csv", data, header=None)
    with pytest.raises(DataError, match=re.escape(f"{p}:1 col 4: empty value")):
        datasets.load(p)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_load_csv_non_finite(tmp_path, value):
    """B3: numpy parses nan/inf silently; they are refused with the line and column."""
    data = rows()
    data[2][10] = value
    p = write_csv(tmp_path / "n.csv", data)
    with pytest.raises(DataError, match=re.escape(f"{p}:4 col pixel10: value") + ".* is not finite"):
        datasets.load(p)


def test_load_csv_ragged_row(tmp_path):
    """B4: one row shorter than the others."""
    data = rows()
    data[2] = data[2][:-1]
    p = write_csv(tmp_path / "r.csv", data)
    with pytest.raises(DataError, match=re.escape(f"{p}: line 4 has 64 columns, expected 65")):
        datasets.load(p)


@pytest.mark.parametrize("quoted", [False, True])
def test_load_csv_million_columns_refused_before_parsing(tmp_path, quoted):
    """10^6 + 1 columns is 1 + 1000², a "valid" layout: refused by a column cap, one line, 65."""
    import tracemalloc

    from digitlab.datasets._load_csv import MAX_COLUMNS

    p = tmp_path / "wide.csv"
    cell = '"0"' if quoted else "0"
    p.write_text("5," + ",".join([cell] * 10**6) + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=re.escape(
                f"{p}: line 1 has 1,000,001 columns; at most {MAX_COLUMNS:,} are read "
                "(a label + 128×128 pixels)")) as info:
            datasets.load(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.exit_code == 65
    # no float64 array of 10^6 columns, nor (when unquoted) a million cell strings: the text only
    assert peak < (12 if quoted else 4) * p.stat().st_size + 2**20, peak


def test_load_csv_largest_accepted_width(tmp_path):
    """The cap itself (1 + 128²) still loads: the cap refuses absurd files, not big images."""
    from digitlab.datasets._load_csv import MAX_COLUMNS

    p = tmp_path / "big.csv"
    p.write_text("3," + ",".join(["255"] * (MAX_COLUMNS - 1)) + "\n")
    ds = datasets.load(p)
    assert ds.images.shape == (1, 128, 128) and ds.images.min() == 255


def test_load_csv_cli_million_columns(tmp_path, run_cli):
    p = tmp_path / "wide.csv"
    p.write_text("5," + ",".join(["0"] * 10**6) + "\n")
    code, out, err = run_cli("data", "info", p)
    assert code == 65 and out == "" and err.count("\n") == 1
    assert err.startswith(f"digitlab: error: {p}: line 1 has 1,000,001 columns; at most 16,385 are read")


@pytest.mark.parametrize("width", [784, 10, 1])
def test_load_csv_wrong_width(tmp_path, width):
    """B5: the message names the expected layouts."""
    p = tmp_path / "w.csv"
    p.write_text(",".join(["1"] * width) + "\n")
    with pytest.raises(DataError, match=re.escape(
            f"{p}: {width} columns; expected a label followed by side² pixels "
            "(785 = label + 28×28, 65 = label + 8×8)")):
        datasets.load(p)


@pytest.mark.parametrize("value", [256, -1, 300.5])
def test_load_csv_pixel_out_of_range(tmp_path, value):
    """B7: pixels outside 0–255."""
    data = rows()
    data[0][64] = value
    p = write_csv(tmp_path / "p.csv", data)
    with pytest.raises(DataError, match=re.escape(f"{p}:2 col pixel64: pixel {value:g} is outside 0–255")):
        datasets.load(p)


def test_load_csv_mixed_scales(tmp_path):
    """B7: 0–1 fractions in a 0–255 file."""
    data = rows()
    data[3][2] = 0.5
    p = write_csv(tmp_path / "mix.csv", data)
    with pytest.raises(DataError, match=re.escape(
            f"{p}:5 col pixel2: fractional pixel 0.5 in a 0–255 file (mixed 0–1 and 0–255 scales)")):
        datasets.load(p)


@pytest.mark.parametrize("text, reason", [
    ("", "no data rows (empty file)"),
    ("\n\n  \n", "no data rows (empty file)"),
    (HEADER + "\n", "no data rows (only a header)"),
], ids=["empty", "blank", "header-only"])
def test_load_csv_no_data_rows(tmp_path, text, reason):
    """B8: an empty file or a header alone."""
    p = tmp_path / "e.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=re.escape(f"{p}: {reason}")):
        datasets.load(p)


@pytest.mark.parametrize("label", ["3.5", "10", "-1"])
def test_load_csv_bad_label(tmp_path, label):
    """B9: a label that is not a digit 0–9, with its line."""
    data = rows()
    data[1][0] = label
    p = write_csv(tmp_path / "l.csv", data)
    with pytest.raises(DataError, match=re.escape(f"{p}:3 col label: label {float(label):g} is not a digit 0–9")):
        datasets.load(p)


def test_load_csv_first_row_with_bad_value_is_not_taken_for_a_header(tmp_path):
    """B6: a numeric first cell means data, so a bad pixel in line 1 is reported, not skipped."""
    data = rows()
    data[0][5] = "oops"
    p = write_csv(tmp_path / "h.csv", data, header=None)
    with pytest.raises(DataError, match=re.escape(f"{p}:1 col 6: not a number ('oops')")):
        datasets.load(p)


def test_load_csv_not_utf8(tmp_path):
    """Binary junk with a .csv name."""
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(DataError, match=re.escape(f"{p}: not a text CSV file (not UTF-8 at byte 0)")):
        datasets.load(p)


def test_load_csv_huge_field(tmp_path):
    """A 200 kB cell trips the csv module's field limit: still a one-line DataError."""
    p = tmp_path / "big.csv"
    p.write_text("x" * 200_000 + "\n")
    with pytest.raises(DataError, match=re.escape(f"{p}: line 1 is not CSV (field larger than field limit")):
        datasets.load(p)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(alphabet=st.sampled_from(list("0123456789,.-e\"\n\r \x00abn_")), max_size=400))
def test_load_csv_fuzz_only_raises_data_error(tmp_path_factory, text):
    """Random CSV-ish text either loads or raises DataError (never csv.Error or ValueError)."""
    p = tmp_path_factory.mktemp("fuzz") / "f.csv"
    p.write_text(text)
    try:
        load_csv(p)
    except DataError:
        pass

"""`digitlab data ...`: output, figures, and the CLI half of every bad-input row (A, B, E).

Each failure is checked for the catalogue's exit code, exactly one line
``digitlab: error: <file>: <reason>`` on stderr, no traceback, nothing on stdout, and no file
written or changed (the test folder and the cache are snapshotted before and after).
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "datasets"))  # shared test data makers

from _dataset_factory import (  # noqa: E402
    NAMES, bad_crc, corrupt_deflate, fast_retries, file_server, free_port, gz, gzip_bomb, header,  # noqa: F401
    snapshot, tiny_arrays, tiny_remote, write_set,
)

from digitlab.datasets._registry import REMOTE, ROLES  # noqa: E402
from digitlab.datasets.idx import idx_bytes  # noqa: E402

SUBCOMMANDS = ["info", "show", "hist", "import", "fetch"]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture
def cache():
    """The isolated cache the root conftest points $DIGITLAB_CACHE_DIR at."""
    return Path(os.environ["DIGITLAB_CACHE_DIR"])


@pytest.fixture
def no_data_env(monkeypatch):
    monkeypatch.delenv("DIGITLAB_DATA_DIR", raising=False)


@pytest.fixture
def tiny_mnist(file_server, fast_retries, monkeypatch, no_data_env):
    """'mnist' replaced by a tiny dataset served on 127.0.0.1 (through $DIGITLAB_MNIST_URL)."""
    arrays = tiny_arrays()
    ds = tiny_remote(arrays)
    monkeypatch.setitem(REMOTE, "mnist", ds)
    monkeypatch.setenv("DIGITLAB_MNIST_URL", file_server.url)
    file_server.files.update({NAMES[r] + ".gz": gz(idx_bytes(arrays[r])) for r in ROLES})
    return ds, arrays, file_server


def assert_fails(run_cli, args, code, message, *watch):
    """Run the CLI and check the one-line error, the exit code, and that *watch* is unchanged."""
    before = snapshot(*watch)
    exit_code, out, err = run_cli(*args)
    assert exit_code == code, err
    assert err.startswith(f"digitlab: error: {message}"), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    assert snapshot(*watch) == before
    return err


# --- help -------------------------------------------------------------------------------------

@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_data_subcommand_help_has_example(run_cli, sub):
    """Every `data` subcommand's --help shows an example."""
    code, out, _ = run_cli("data", sub, "--help")
    assert code == 0
    assert "Example" in out and f"digitlab data {sub}" in out


# --- info -------------------------------------------------------------------------------------

def test_data_info_json_on_idx_folder(run_cli, tmp_path):
    """--json gives shape, dtype, per-split class counts, memory, source and checksums."""
    arrays = tiny_arrays()
    write_set(tmp_path / "tiny", arrays)
    code, out, err = run_cli("data", "info", tmp_path / "tiny", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["name"] == "tiny" and d["shape"] == [28, 28] and d["dtype"] == "uint8"
    assert d["n_samples"] == 30 and d["classes"] == [str(i) for i in range(10)]
    assert d["splits"]["train"] == {"n": 20, "class_counts": [2] * 10}
    assert d["splits"]["test"] == {"n": 10, "class_counts": [1] * 10}
    assert d["memory_bytes"] == 30 * 784 + 30 * 8
    assert d["source"] == str(tmp_path / "tiny") and d["checksum_verified"] is False
    assert sorted(d["checksums"]) == sorted(n + ".gz" for n in NAMES.values())


def test_data_info_json_on_real_mnist(run_cli, mnist_dir):
    """Real MNIST: the canonical counts, verified checksums, 55 MB of uint8."""
    code, out, err = run_cli("data", "info", "mnist", "--data-dir", mnist_dir, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["splits"]["train"]["class_counts"] == MNIST_TRAIN_COUNTS
    assert d["splits"]["test"]["n"] == 10000
    assert d["checksum_verified"] is True and d["memory_bytes"] < 60e6


def test_data_info_digits_table(run_cli):
    """The human-readable form: title line, source, checksum status, a class table."""
    code, out, err = run_cli("data", "info", "digits")
    assert code == 0, err
    assert "digits  1,797 images, 8×8 uint8, 10 classes" in out
    assert "source: sklearn.datasets.load_digits" in out
    assert "Images per class" in out and "1,797" in out


# --- show / hist ----------------------------------------------------------------------------

def _assert_png(path):
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        im.verify()
    return path


@pytest.fixture
def captured(monkeypatch):
    """Keep the Display objects the CLI draws, so tests can read titles and data back."""
    from digitlab.plots import ClassDistributionDisplay, DigitGridDisplay

    seen = []
    for cls in (DigitGridDisplay, ClassDistributionDisplay):
        real = cls.plot

        def plot(self, *a, _real=real, **kw):
            seen.append(self)
            return _real(self, *a, **kw)

        monkeypatch.setattr(cls, "plot", plot)
    return seen


def test_data_show_writes_png_with_labels(run_cli, tmp_path, captured):
    """A 2x3 grid of the first training digits, each titled with its label and index."""
    arrays = tiny_arrays()
    write_set(tmp_path / "tiny", arrays)
    out_png = tmp_path / "grid.png"
    code, out, err = run_cli("data", "show", tmp_path / "tiny", "--grid", "2x3", "-o", out_png)
    assert code == 0, err
    assert out.strip() == f"wrote {out_png}"
    _assert_png(out_png)
    (disp,) = captured
    assert [ax.get_title() for ax in disp.axes_] == [f"{i}  (#{i})" for i in range(6)]
    assert disp.figure_._suptitle.get_text() == "tiny (train)"
    np.testing.assert_array_equal(disp.images, arrays["train-images"][:6])
    assert not disp.axes_[0].axison  # the notebooks' look: no axes
    assert disp.axes_[0].images[0].get_cmap().name == "binary"


def test_data_show_label_filter_on_test_split(run_cli, tmp_path, captured):
    """--label 3 --split test shows only threes, with the class in the title."""
    write_set(tmp_path / "tiny", tiny_arrays())
    code, _, err = run_cli("data", "show", tmp_path / "tiny", "--split", "test", "--label", "3",
                           "--grid", "1x2", "-o", tmp_path / "threes.png")
    assert code == 0, err
    (disp,) = captured
    assert disp.titles == ["3  (#6)"]  # the tiny test labels are 9..0: only index 6 is a 3
    assert disp.figure_._suptitle.get_text() == "tiny (test), class 3"


def test_data_show_bad_index_is_a_usage_error(run_cli, tmp_path):
    """An --index outside the data: exit 2, one line, no PNG."""
    write_set(tmp_path / "tiny", tiny_arrays())
    assert_fails(run_cli, ["data", "show", tmp_path / "tiny", "--index", "99", "-o", tmp_path / "x.png"],
                 2, "--index: 99 is outside 0–19", tmp_path)


def test_data_show_bad_grid(run_cli, tmp_path):
    """--grid must be ROWSxCOLS: click's usage error, exit 2."""
    code, _, err = run_cli("data", "show", "digits", "--grid", "0x5", "-o", tmp_path / "x.png")
    assert code == 2 and "expected ROWSxCOLS such as 5x5" in err
    assert not (tmp_path / "x.png").exists()


def test_data_hist_writes_png_with_both_splits(run_cli, tmp_path, captured):
    """Train and test bars side by side, legend with the sizes, axis labels."""
    write_set(tmp_path / "tiny", tiny_arrays())
    out_png = tmp_path / "classes.png"
    code, out, err = run_cli("data", "hist", tmp_path / "tiny", "-o", out_png)
    assert code == 0, err
    _assert_png(out_png)
    (disp,) = captured
    assert disp.ax_.get_xlabel() == "Class" and disp.ax_.get_ylabel() == "Share of images (%)"
    assert disp.ax_.get_title() == "tiny: class distribution"
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()] == ["train (n=20)", "test (n=10)"]
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == [str(i) for i in range(10)]
    heights = [p.get_height() for p in disp.ax_.patches]
    assert heights == pytest.approx([10.0] * 20)  # every class is 10 % of each split


def test_data_hist_default_output_name(run_cli, tmp_path, monkeypatch):
    """Without --out the PNG is <name>-classes.png in the current folder."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("data", "hist", "digits")
    assert code == 0, err
    _assert_png(tmp_path / "digits-classes.png")


# --- A: IDX / gzip files ----------------------------------------------------------------------

def _bad_idx_cases():
    arrays = tiny_arrays()
    images = idx_bytes(arrays["train-images"])
    labels = idx_bytes(arrays["train-labels"])
    cut = gz(images)
    wrong_labels = arrays["test-labels"].copy()
    wrong_labels[4] = 12
    return [
        # id, role, file bytes (written as <name>.gz), expected reason
        ("A1-truncated-gzip", "train-images", cut[: len(cut) // 2],
         "corrupt gzip (Compressed file ended before the end-of-stream marker was reached)"),
        ("A2-corrupt-deflate", "train-images", corrupt_deflate(images), "corrupt gzip (bad deflate stream: Error -3"),
        ("A3-bad-crc", "train-labels", bad_crc(labels), "corrupt gzip (CRC check failed"),
        ("A3-not-gzip", "train-labels", b"<html>404</html>",
         "bad IDX magic 0x3C68746D; expected 0x00000801 (uint8, 1-D) (named .gz but not gzip-compressed)"),
        ("A4-empty-file", "train-images", b"", "too short for IDX header (0 bytes)"),
        ("A4-empty-gzip", "train-images", gz(b""), "too short for IDX header (0 bytes)"),
        ("A5-wrong-magic", "train-images", gz(b"\x00\x00\x08\x04" + images[4:]),
         "bad IDX magic 0x00000804; expected 0x00000803 (uint8, 3-D)"),
        ("A6-short", "train-images", gz(images[:-784]),
         "header says 20×28×28 = 15,680 bytes; payload has 14,896"),
        ("A6-trailing", "train-images", gz(images + b"\0" * 10),
         "header says 20×28×28 = 15,680 bytes; payload has trailing data"),
        ("A7-absurd-dims", "train-images", gz(header(0xFFFFFFFF, 28, 28) + bytes(100)),
         "IDX header claims 4294967295×28×28 = 3,367,254,359,280 bytes, more than the 512 MiB limit"),
        ("A8-zero-dim", "train-images", gz(header(20, 0, 28)), "IDX header has a dimension of 0 (20×0×28)"),
        ("A9-gzip-bomb", "train-images", gzip_bomb(images, zeros=64 * 2**20),
         "header says 20×28×28 = 15,680 bytes; payload has trailing data"),
        ("A10-not-28x28", "test-images", gz(idx_bytes(np.zeros((10, 28, 32), np.uint8))),
         "images are 28×32, but training images are 28×28"),
        ("A11-count-mismatch", "test-labels", gz(idx_bytes(arrays["test-labels"][:9])),
         "10 test images but 9 labels"),
        ("A12-label-out-of-range", "test-labels", gz(idx_bytes(wrong_labels)),
         "label 12 at index 4 is outside 0–9"),
        ("A13-float-idx", "train-images", gz(b"\x00\x00\x0d\x03" + images[4:]),
         "bad IDX magic 0x00000D03; expected 0x00000803 (uint8, 3-D)"),
    ]


@pytest.mark.parametrize("case", _bad_idx_cases(), ids=lambda c: c[0])
def test_data_info_bad_idx_file(run_cli, tmp_path, cache, case):
    """Section A through the CLI: exit 65, `<file>: <reason>`, nothing written."""
    _, role, data, reason = case
    paths = write_set(tmp_path / "d", tiny_arrays(), override={role: data})
    assert_fails(run_cli, ["data", "info", tmp_path / "d"], 65, f"{paths[role]}: {reason}", tmp_path, cache)


def test_data_info_missing_path(run_cli, tmp_path):
    """A14: exit 66, the path and the dataset names in the message."""
    assert_fails(run_cli, ["data", "info", tmp_path / "nope"], 66,
                 f"{tmp_path / 'nope'}: no such file or folder, and not a dataset name (mnist, fashion-mnist, digits, wild-digits)")


def test_data_info_directory_instead_of_csv(run_cli, tmp_path):
    """A14: a folder where a dataset file was meant (no class sub-folders either): exit 66."""
    (tmp_path / "train.csv").mkdir()
    assert_fails(run_cli, ["data", "info", tmp_path / "train.csv"], 66,
                 f"{tmp_path / 'train.csv'}: no class sub-folders", tmp_path)


def test_data_info_unreadable_file(run_cli, tmp_path, monkeypatch):
    """A14: a file that cannot be opened for reading: exit 77 (simulated, as root reads anything)."""
    from digitlab import _files

    paths = write_set(tmp_path / "d", tiny_arrays())
    real_open = _files.os.open

    def open_(path, *a, **kw):
        if str(path) == str(paths["test-labels"]):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **kw)

    monkeypatch.setattr(_files.os, "open", open_)  # every reader opens through digitlab._files
    assert_fails(run_cli, ["data", "info", tmp_path / "d"], 77, f"{paths['test-labels']}: permission denied", tmp_path)


def test_data_info_missing_data_dir(run_cli, tmp_path, cache):
    """A14: --data-dir pointing nowhere is reported (66), not followed by a download."""
    assert_fails(run_cli, ["data", "info", "mnist", "--data-dir", tmp_path / "typo"], 66,
                 f"{tmp_path / 'typo'}: no such folder (given as --data-dir)", tmp_path, cache)


# --- B: CSV files -----------------------------------------------------------------------------

CSV_HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 65))


def _csv_row(label=1, fill=0):
    return [str(label)] + [str(fill)] * 64


def _csv(rows, header=True):
    return "\n".join(([CSV_HEADER] if header else []) + [",".join(r) for r in rows]) + "\n"


def _bad_csv_cases():
    def with_cell(col, value, line=1):
        rows = [_csv_row(i, fill=100) for i in range(3)]  # a 0–255 file
        rows[line][col] = value
        return _csv(rows)

    ragged = [_csv_row(), _csv_row(), _csv_row()[:-1]]
    return [
        ("B1-missing-value", with_cell(1, ""), ":3 col pixel1: empty value"),
        ("B2-non-numeric", with_cell(5, "x7"), ":3 col pixel5: not a number ('x7')"),
        ("B3-nan", with_cell(2, "nan"), ":3 col pixel2: value nan is not finite"),
        ("B3-inf", with_cell(2, "inf", line=2), ":4 col pixel2: value inf is not finite"),
        ("B4-ragged", _csv(ragged), ": line 4 has 64 columns, expected 65"),
        ("B5-wrong-width", "1," + ",".join(["0"] * 783) + "\n",
         ": 784 columns; expected a label followed by side² pixels (785 = label + 28×28, 65 = label + 8×8)"),
        ("B7-out-of-range", with_cell(64, "256"), ":3 col pixel64: pixel 256 is outside 0–255"),
        ("B7-mixed-scale", with_cell(3, "0.5"),
         ":3 col pixel3: fractional pixel 0.5 in a 0–255 file (mixed 0–1 and 0–255 scales)"),
        ("B8-empty", "", ": no data rows (empty file)"),
        ("B8-header-only", CSV_HEADER + "\n", ": no data rows (only a header)"),
        ("B9-label-3.5", with_cell(0, "3.5"), ":3 col label: label 3.5 is not a digit 0–9"),
        ("B9-label-10", with_cell(0, "10", line=0), ":2 col label: label 10 is not a digit 0–9"),
    ]


@pytest.mark.parametrize("case", _bad_csv_cases(), ids=lambda c: c[0])
def test_data_info_bad_csv(run_cli, tmp_path, cache, case):
    """Section B through the CLI: exit 65 with file:line and column, nothing written."""
    _, text, reason = case
    p = tmp_path / "train.csv"
    p.write_text(text)
    assert_fails(run_cli, ["data", "info", p], 65, f"{p}{reason}", tmp_path, cache)


@pytest.mark.parametrize("bom", [False, True], ids=["plain", "bom"])
@pytest.mark.parametrize("header", [True, False], ids=["header", "no-header"])
def test_data_info_csv_header_and_bom(run_cli, tmp_path, header, bom):
    """B6: BOM or not, header or not (auto-detected), the three rows load."""
    p = tmp_path / "ok.csv"
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + _csv([_csv_row(i) for i in range(3)], header).encode())
    code, out, err = run_cli("data", "info", p, "--json")
    assert code == 0, err
    assert json.loads(out)["splits"]["all"]["class_counts"][:4] == [1, 1, 1, 0]


def test_data_info_csv_header_option(run_cli, tmp_path):
    """B6: --header yes treats a numeric first line as a header."""
    p = tmp_path / "ok.csv"
    p.write_text(_csv([_csv_row(i) for i in range(3)], header=False))
    code, out, err = run_cli("data", "info", p, "--header", "yes", "--json")
    assert code == 0, err
    assert json.loads(out)["n_samples"] == 2


# --- image folders ----------------------------------------------------------------------------

def test_data_info_image_folder_with_non_image(run_cli, tmp_path, cache):
    """A file that is not an image in a class folder: exit 65 naming it."""
    from PIL import Image

    (tmp_path / "imgs" / "4").mkdir(parents=True)
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(tmp_path / "imgs" / "4" / "a.png")
    bad = tmp_path / "imgs" / "4" / "b.png"
    bad.write_bytes(b"GIF89a but not really")
    assert_fails(run_cli, ["data", "info", tmp_path / "imgs"], 65,
                 f"{bad}: not a supported image (PNG/JPEG/GIF/BMP/WEBP)", tmp_path, cache)


# --- E: cache and downloads ---------------------------------------------------------------------

def test_data_fetch_good_files(run_cli, tiny_mnist, cache):
    """Downloads from the local server into the cache; a second run downloads nothing."""
    ds, arrays, srv = tiny_mnist
    code, out, err = run_cli("data", "fetch", "mnist")
    assert code == 0, err
    assert out.strip() == f"mnist: 4 verified files in {cache / 'mnist'}"
    assert (cache / "mnist" / "train-images-idx3-ubyte").read_bytes() == idx_bytes(arrays["train-images"])
    assert run_cli("data", "fetch", "mnist")[0] == 0
    assert sum(srv.hits.values()) == 4


def test_data_info_downloads_when_missing(run_cli, tiny_mnist, cache):
    """`data info mnist` with no local copy downloads first, then reports verified data."""
    code, out, err = run_cli("data", "info", "mnist", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["checksum_verified"] and d["source"] == str(cache / "mnist") and d["n_samples"] == 30


def test_data_fetch_checksum_mismatch(run_cli, tiny_mnist, tmp_path, cache):
    """E4: exit 65, the URL and both checksums, nothing in the cache."""
    ds, arrays, srv = tiny_mnist
    srv.files["train-labels-idx1-ubyte.gz"] = gz(idx_bytes(arrays["train-labels"][::-1].copy()))
    err = assert_fails(run_cli, ["data", "fetch", "mnist"], 65,
                       f"{srv.url}train-labels-idx1-ubyte.gz: md5 of the uncompressed file is ", cache)
    assert f"expected {ds.md5['train-labels']} (after 3 tries from 1 mirror; nothing was written to the cache)" in err
    assert not (cache / "mnist" / "train-labels-idx1-ubyte").exists()


def test_data_fetch_dropped_connection_then_success(run_cli, tiny_mnist, cache):
    """E3: each file's first transfer is cut; retries succeed, exit 0."""
    _, _, srv = tiny_mnist
    for r in ROLES:
        srv.modes[NAMES[r] + ".gz"] = ["drop"]
    code, _, err = run_cli("data", "fetch", "mnist")
    assert code == 0, err
    assert all(srv.hits[NAMES[r] + ".gz"] == 2 for r in ROLES)
    assert not [p for p in (cache / "mnist").iterdir() if ".part" in p.name]


def test_data_fetch_dropped_connection_every_time(run_cli, tiny_mnist, cache):
    """E3: every transfer is cut: exit 69, one line, no partial file in the cache."""
    _, _, srv = tiny_mnist
    srv.modes["t10k-images-idx3-ubyte.gz"] = ["drop"] * 10
    err = assert_fails(run_cli, ["data", "fetch", "mnist"], 69,
                       f"{srv.url}t10k-images-idx3-ubyte.gz: transfer interrupted", cache)
    assert "digitlab data import" in err


def test_data_fetch_network_unavailable(run_cli, tiny_mnist, monkeypatch, cache):
    """E6: connection refused: exit 69, the 4 files, --data-dir/DIGITLAB_DATA_DIR, `data import`."""
    monkeypatch.setenv("DIGITLAB_MNIST_URL", f"http://127.0.0.1:{free_port()}/")
    err = assert_fails(run_cli, ["data", "info", "mnist"], 69,
                       "mnist: offline? cannot download train-images-idx3-ubyte.gz and no local copy; ", cache)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        assert name in err
    assert "--data-dir DIR (or set DIGITLAB_DATA_DIR)" in err and "`digitlab data import DIR`" in err


def test_data_fetch_cache_parent_is_a_file(run_cli, tiny_mnist, tmp_path):
    """E1 (real): the cache path goes through a regular file: exit 73 with the remedy."""
    (tmp_path / "f").write_text("x")
    cache = tmp_path / "f" / "cache"
    assert_fails(run_cli, ["data", "fetch", "mnist", "--cache-dir", cache], 73,
                 f"cannot write to cache dir {cache / 'mnist'} (Not a directory); set DIGITLAB_DATA_DIR or "
                 "--data-dir to a folder holding the files, or --cache-dir (DIGITLAB_CACHE_DIR) to a writable folder",
                 tmp_path)


def test_data_fetch_read_only_cache(run_cli, tiny_mnist, tmp_path, monkeypatch):
    """E1: a chmod 555 cache: exit 77 (os.access answers as for a normal user when run as root)."""
    ro = tmp_path / "ro"
    (ro / "mnist").mkdir(parents=True)
    (ro / "mnist").chmod(0o555)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, **kw: False if (m & os.W_OK and not os.stat(p).st_mode & 0o200)
                            else real(p, m, **kw))
    try:
        assert_fails(run_cli, ["data", "fetch", "mnist", "--cache-dir", ro], 77,
                     f"cannot write to cache dir {ro / 'mnist'} (Permission denied); set DIGITLAB_DATA_DIR or --data-dir",
                     tmp_path)
    finally:
        (ro / "mnist").chmod(0o755)


def test_data_load_repairs_corrupt_cache(run_cli, tiny_mnist, cache, caplog):
    """E5: a cached file damaged later is detected, warned about, downloaded again."""
    _, arrays, srv = tiny_mnist
    assert run_cli("data", "fetch", "mnist")[0] == 0
    cached = cache / "mnist" / "t10k-labels-idx1-ubyte"
    cached.write_bytes(cached.read_bytes()[:-3])
    code, out, err = run_cli("data", "info", "mnist", "--json")
    assert code == 0, err
    assert f"{cached}: cached copy is corrupt" in caplog.text
    assert cached.read_bytes() == idx_bytes(arrays["test-labels"])
    assert srv.hits["t10k-labels-idx1-ubyte.gz"] == 2


def test_data_info_ignores_stale_part_files(run_cli, tiny_mnist, cache):
    """E7: a temp file left by a killed run beside the cached files does not disturb loading."""
    _, _, srv = tiny_mnist
    assert run_cli("data", "fetch", "mnist")[0] == 0
    (cache / "mnist" / ".train-images-idx3-ubyte.part_k1ll3d").write_bytes(b"half a file")
    code, out, err = run_cli("data", "info", "mnist", "--json")
    assert code == 0, err and json.loads(out)["checksum_verified"]
    assert sum(srv.hits.values()) == 4


# --- import -------------------------------------------------------------------------------------

def test_data_import_real_mnist_then_load_without_data_dir(run_cli, mnist_dir, cache, no_data_env):
    """`data import` into an empty cache; afterwards `data info mnist` needs no --data-dir."""
    code, out, err = run_cli("data", "import", mnist_dir)
    assert code == 0, err
    assert out.strip() == f"imported 4 verified files into {cache / 'mnist'}"
    assert sorted(p.name for p in (cache / "mnist").iterdir() if not p.name.startswith(".")) == \
        sorted(NAMES.values())
    code, out, err = run_cli("data", "info", "mnist", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["source"] == str(cache / "mnist") and d["checksum_verified"]
    assert d["splits"]["train"]["class_counts"] == MNIST_TRAIN_COUNTS


def test_data_import_wrong_files(run_cli, tmp_path, cache):
    """Files that are not MNIST's: exit 65 naming the first one, nothing in the cache."""
    paths = write_set(tmp_path / "src", tiny_arrays())
    err = assert_fails(run_cli, ["data", "import", tmp_path / "src"], 65,
                       f"{paths['train-images']}: md5 of the uncompressed file is ", tmp_path, cache)
    assert "(not the mnist train images file)" in err


def test_data_import_missing_folder(run_cli, tmp_path, cache):
    """A14: exit 66."""
    assert_fails(run_cli, ["data", "import", tmp_path / "nope"], 66, f"{tmp_path / 'nope'}: no such folder", cache)


def test_data_import_read_only_cache(run_cli, tmp_path):
    """E1 for import: checked before anything is read or written (exit 73 here)."""
    write_set(tmp_path / "src", tiny_arrays())
    (tmp_path / "f").write_text("x")
    assert_fails(run_cli, ["data", "import", tmp_path / "src", "--cache-dir", tmp_path / "f" / "cache"], 73,
                 f"cannot write to cache dir {tmp_path / 'f' / 'cache' / 'mnist'} (Not a directory)", tmp_path)

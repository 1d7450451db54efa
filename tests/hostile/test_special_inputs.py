"""H3: every file digitlab reads may be a FIFO, a device, a socket or a symlink to /dev/zero.

Each reader refuses it with one line and exit 66 (``InputMissingError`` in Python), without
blocking on the FIFO or reading the endless device. Both the CLI and the Python API run in a
subprocess with a memory limit and a timeout (see ``_special.py``), so a regression fails the
test instead of hanging or swapping the machine.
"""

from __future__ import annotations

import io
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _special import KINDS, SAYS, make_special, run_api, run_cli  # noqa: E402

from digitlab._files import InputTooLargeError, check_input, open_input, read_input_bytes  # noqa: E402
from digitlab.exceptions import InputMissingError  # noqa: E402


def _png(tmp_path: Path, name="good.png") -> Path:
    from PIL import Image

    a = np.full((40, 40), 255, np.uint8)
    a[8:32, 18:22] = 0
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory, digits):
    """A digits run with eval.json, predictions.npz and figures (copied before each attack)."""
    import digitlab

    return digitlab.train(digits, "logreg", test_size=0.25, cv=0,
                          runs_dir=tmp_path_factory.mktemp("runs"))


def _copy_run(run, tmp_path: Path) -> Path:
    dst = tmp_path / "runs" / run.id
    shutil.copytree(run.path, dst)
    return dst


def _idx_folder(folder: Path) -> Path:
    from digitlab.datasets.idx import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    return folder


# Each reader: how to put the special file in place, the CLI command that reads it, and the
# Python call that reads it. ``{run}``, ``{path}`` and ``{good}`` are filled in per test.
def _setup(reader: str, tmp_path: Path, kind: str, run) -> tuple[Path, list, list[str]]:
    good = _png(tmp_path)
    if reader in ("image", "npy", "idx"):
        name = {"image": "x.png", "npy": "x.npy", "idx": "x-idx3-ubyte"}[reader]
        path = make_special(tmp_path / "in" / name, kind)
        rd = _copy_run(run, tmp_path)
        return path, ["predict", rd, path], [f"from digitlab.predicting import predict_files\n"
                                             f"predict_files({str(rd)!r}, [{str(path)!r}])"]
    if reader == "csv":
        path = make_special(tmp_path / "d.csv", kind)
        return path, ["data", "info", path], [f"from digitlab import datasets\ndatasets.load({str(path)!r})"]
    if reader == "idx-folder":
        folder = _idx_folder(tmp_path / "mnistlike")
        path = folder / "train-images-idx3-ubyte"
        path.unlink()
        make_special(path, kind)
        return path, ["data", "info", folder], [f"from digitlab import datasets\ndatasets.load({str(folder)!r})"]
    if reader == "image-folder":
        folder = tmp_path / "imgs"
        _png(folder / "0", "a.png")
        path = make_special(folder / "1" / "x.png", kind)
        return path, ["data", "info", folder], [f"from digitlab import datasets\ndatasets.load({str(folder)!r})"]
    rd = _copy_run(run, tmp_path)
    file = {"model": "model.skops", "run.json": "run.json", "eval.json": "eval.json",
            "predictions": "predictions.npz", "search.json": "search.json",
            "figures.json": "figures/figures.json"}[reader]
    path = rd / file
    path.unlink(missing_ok=True)
    make_special(path, kind)
    read_run = f"from digitlab.runs import read_run\nr = read_run({str(rd)!r})\n"
    api = {
        "model": [read_run + "r.load_model()",
                  f"from digitlab.persist import load_model\nload_model({str(path)!r})"],
        "run.json": [read_run],
        "eval.json": [read_run + "from digitlab.evaluation import load_result\nload_result(r)"],
        "figures.json": [read_run + "from digitlab.plots.figure_set import read_index\nread_index(r)"],
        "predictions": [read_run + "from digitlab.evaluation import load_result\nload_result(r)"],
        "search.json": [read_run + "from digitlab.searching import load_search\nload_search(r)"],
    }[reader]
    cli = {
        "model": ["predict", rd, good],
        "run.json": ["predict", rd, good],
        "eval.json": ["report", rd, "--out", tmp_path / "r.html"],
        "figures.json": ["report", rd, "--out", tmp_path / "r.html"],
        "predictions": None,  # read by the Python API and the web app only
        "search.json": None,
    }[reader]
    return path, cli, api


READERS = ["image", "npy", "idx", "csv", "idx-folder", "image-folder", "model", "run.json", "eval.json",
           "figures.json", "predictions", "search.json"]


CLI_READERS = [r for r in READERS if r not in ("predictions", "search.json")]


# Every CLI reader with a FIFO (the hang), a few with /dev/zero (the endless read); the Python
# test below covers every reader with every kind in one process per kind.
@pytest.mark.parametrize("reader, kind", [(r, "fifo") for r in CLI_READERS]
                         + [(r, "dev_zero_link") for r in ("image", "csv", "model")])
def test_cli_refuses_special_file(reader, kind, tmp_path, evaluated_run):
    """CLI: one line naming the file and what it is, exit 66, no hang, nothing written."""
    path, cli, _ = _setup(reader, tmp_path, kind, evaluated_run)
    code, out, err = run_cli(tmp_path, *cli)
    assert code == 66, err
    assert err == f"digitlab: error: {path}: {SAYS[kind]}\n"
    assert out == ""
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_api_refuses_special_files(kind, tmp_path, evaluated_run):
    """Python API, every reader: InputMissingError (a FileNotFoundError, exit 66) naming the file."""
    cases = []
    for reader in READERS:
        folder = tmp_path / reader.replace(".", "_")
        folder.mkdir()
        path, _, snippets = _setup(reader, folder, kind, evaluated_run)
        cases += [(reader, path, s) for s in snippets]
    results = run_api(tmp_path, [s for _, _, s in cases])
    for (reader, path, _), res in zip(cases, results):
        assert res["raised"] == "InputMissingError", (reader, res)
        assert "FileNotFoundError" in res["mro"] and res["exit_code"] == 66
        assert res["message"] == f"{path}: {SAYS[kind]}", reader


def test_runs_listing_survives_a_fifo_run_json(tmp_path, evaluated_run):
    """One run folder whose run.json is a FIFO: `digitlab runs` still lists the others, no hang."""
    bad = _copy_run(evaluated_run, tmp_path) / "run.json"
    bad.unlink()
    make_special(bad, "fifo")
    shutil.copytree(evaluated_run.path, tmp_path / "runs" / "other-run")
    code, out, err = run_cli(tmp_path, "runs", "--json")
    assert code == 0, err
    import json

    assert [r["id"] for r in json.loads(out)] == ["other-run"]


@pytest.mark.parametrize("args", [["data", "info", "/dev/zero"], ["data", "info", "/dev/null"]])
def test_real_device_as_dataset_is_named_not_permission_denied(tmp_path, args):
    """/dev/zero used to be "permission denied" (exit 77): it is a device, exit 66."""
    code, out, err = run_cli(tmp_path, *args)
    assert (code, err) == (66, f"digitlab: error: {args[-1]}: is a character device, not a regular file\n")


# --------------------------------------------------------------------------- the gate itself
def _no_hang(fn, fifo: Path | None = None, timeout=60.0):
    """Call *fn* in a thread; if it blocks, open the FIFO's other end to free it, then fail."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        if fifo is not None:
            import os

            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        raise AssertionError(f"{fn} blocked for {timeout} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", [check_input, open_input, read_input_bytes])
def test_open_input_refuses_special_files(tmp_path, kind, fn):
    path = make_special(tmp_path / "x.bin", kind)
    with pytest.raises(InputMissingError, match=f"^{path}: {SAYS[kind]}".replace("(", r"\(").replace(")", r"\)")):
        _no_hang(lambda: fn(path, max_bytes=100, what="test"), fifo=path if kind == "fifo" else None)


def test_open_input_reads_regular_files_and_symlinks_to_them(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    for p in (tmp_path / "a", tmp_path / "link"):
        with open_input(p, max_bytes=3, what="test") as fh:
            assert fh.read() == b"abc"
        assert read_input_bytes(p, max_bytes=3) == b"abc"


def test_open_input_size_cap_checked_before_reading(tmp_path):
    p = tmp_path / "big"
    p.write_bytes(b"x" * 101)
    with pytest.raises(InputTooLargeError, match="101 bytes, more than the 100-byte limit for a model file") as info:
        open_input(p, max_bytes=100, what="model")
    assert info.value.exit_code == 65


@pytest.mark.parametrize("make, says", [
    (lambda p: p.mkdir(), "is a directory, expected a file"),
    (lambda p: None, "no such file"),
    (lambda p: p.symlink_to(p.parent / "nowhere"), "no such file (broken symbolic link to"),
])
def test_open_input_missing_dir_and_dangling_link(tmp_path, make, says):
    p = tmp_path / "x"
    make(p)
    with pytest.raises(InputMissingError, match=f"^{p}: " + says.replace("(", r"\(")):
        open_input(p, max_bytes=None)


def test_read_input_bytes_from_stdin(monkeypatch):
    """`-` and /dev/stdin are the standard input, capped like a file."""
    import types

    for name in ("-", "/dev/stdin"):
        monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(b"12345")))
        assert read_input_bytes(name, max_bytes=5, stdin=True) == b"12345"
        monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(b"123456")))
        with pytest.raises(InputTooLargeError):
            read_input_bytes(name, max_bytes=5, stdin=True)

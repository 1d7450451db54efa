"""The chapter as a notebook, executed in a real Jupyter kernel (nbclient + ipykernel), and
``digitlab notebook``: numbers read from the saved cell outputs."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from digitlab import notebook as N  # noqa: E402
from digitlab.exceptions import WorkerError  # noqa: E402

CHAPTER = Path(__file__).resolve().parents[1] / "notebooks" / "chapter3.ipynb"
pytestmark = [pytest.mark.notebook, pytest.mark.timeout(1800)]


def text_of(cell) -> str:
    """What a reader sees of a cell's outputs as text: streams and text/plain, in order."""
    parts = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            parts.append(o["text"])
        elif o["output_type"] in ("display_data", "execute_result"):
            parts.append(o["data"].get("text/plain", ""))
        elif o["output_type"] == "error":
            parts.append(f"{o['ename']}: {o['evalue']}")
    return "".join(parts)


def cell(nb, start: str):
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start)]
    assert len(found) == 1, start
    return found[0]


def numbers(nb) -> dict:
    """The study's numbers as the notebook printed them."""
    out = "\n".join(text_of(c) for c in nb.cells if c.cell_type == "code")

    def grab(pattern, conv=float):
        m = re.search(pattern, out)
        assert m, pattern
        return conv(m.group(1))

    return {
        "cv": grab(r"CV accuracy: (\[[^\]]*\])", json.loads),
        "never": grab(r"never-\w+ baseline, CV accuracy: (\[[^\]]*\])", json.loads),
        "confusion": grab(r"confusion matrix \(cross-validated\): (\[\[.*?\]\])", json.loads),
        "precision": grab(r"precision ([0-9.]+), recall"),
        "recall": grab(r"recall ([0-9.]+), F1"),
        "f1": grab(r"F1 ([0-9.]+)"),
        "logreg": grab(r"logreg +test accuracy ([0-9.]+)"),
        "knn": grab(r"knn +test accuracy ([0-9.]+)"),
        "dummy": grab(r"dummy +test accuracy ([0-9.]+)"),
    }


def run_chapter(tmp_path, **params) -> "nbformat.NotebookNode":
    nb = nbformat.read(CHAPTER, as_version=4)
    N.set_parameters(nb, RUNS_DIR=str(tmp_path / "runs"), **params)
    return N.execute(nb, cwd=tmp_path, timeout=1500)


def test_committed_chapter_is_the_builders_output_with_outputs_cleared():
    """notebooks/chapter3.ipynb is what `digitlab notebook` writes for MNIST: the two never drift."""
    committed = nbformat.read(CHAPTER, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in committed.cells if c.cell_type == "code")
    assert nbformat.writes(committed) == nbformat.writes(N.build("mnist"))
    nbformat.validate(committed)


@pytest.fixture(scope="module")
def digits_chapter(tmp_path_factory):
    """The committed chapter, executed on scikit-learn's digits (quick) in a real kernel."""
    tmp = tmp_path_factory.mktemp("chapter")
    return run_chapter(tmp, DATASET="digits", QUICK=True), tmp


def test_chapter_on_digits_prints_the_runs_numbers(digits_chapter):
    nb, tmp = digits_chapter
    got = numbers(nb)
    # facts of sklearn's digits (canonical 80/20 stratified split, seed 0), SGD on raw pixels
    assert got["cv"] == [0.97495, 0.97495, 0.9833]
    assert got["never"] == [0.89979, 0.89979, 0.8977]
    assert got["confusion"] == [[1276, 16], [16, 129]]
    # and they are the run folders' numbers, written by the kernel
    import digitlab

    runs = {r.info.model.name + ("-detect" if r.is_binary else ""): r for r in digitlab.list_runs(tmp / "runs")
            if r.info.search is None}
    det = runs["sgd-detect"].metrics()
    assert [round(s, 5) for s in det["cv_scores"]] == got["cv"]
    assert (round(det["precision"], 4), round(det["recall"], 4), round(det["f1"], 4)) == \
        (got["precision"], got["recall"], got["f1"])
    assert round(runs["logreg"].metrics()["test_accuracy"], 4) == got["logreg"]
    assert (tmp / "my_digit.png").is_file()
    assert "probability" in text_of(cell(nb, "from pathlib import Path"))


def test_chapter_shows_rich_displays_figures_once_and_one_progress_output(digits_chapter):
    nb, _ = digits_chapter
    det = cell(nb, "detect = DETECT")
    html = [o["data"]["text/html"] for o in det.outputs if "text/html" in o.get("data", {})]
    assert len(html) == 1 and 'class="digitlab-run"' in html[0] and "threshold (target precision)" in html[0]
    # progress: one output, updated in place, holding the finished steps (no flood of lines)
    plain = [o for o in det.outputs if o["output_type"] == "display_data" and "text/html" not in o["data"]]
    assert len(plain) == 1
    assert re.fullmatch(r"✓ fitting sgd on [\d,]+ digits images, with 3 cross-validation folds alongside "
                        r"\([\d.]+ s\)\n✓ evaluating \([\d.]+ s\)", plain[0]["data"]["text/plain"])
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert 'class="digitlab-dataset"' in cell(nb, "ds = datasets.load").outputs[0]["data"]["text/html"]
    assert 'class="digitlab-search"' in cell(nb, "searched = ").outputs[-1]["data"]["text/html"]
    # every Display draws once: one image per figure cell
    for c in nb.cells:
        if c.cell_type == "code" and "Display." in c.source:
            pngs = [o for o in c.outputs if "image/png" in o.get("data", {})]
            assert len(pngs) == 1, c.source


@pytest.mark.slow
def test_chapter_on_full_mnist_reproduces_the_notebooks_numbers(tmp_path):
    nb = run_chapter(tmp_path, DATASET="mnist", QUICK=False)
    got = numbers(nb)
    assert got["cv"] == [0.95035, 0.96035, 0.9604]
    assert got["never"] == [0.90965] * 3
    assert got["confusion"] == [[53892, 687], [1891, 3530]]
    assert (got["precision"], got["recall"], got["f1"]) == (0.8371, 0.6512, 0.7325)


def test_cli_notebook_numbers_equal_the_study_report(run_cli, tmp_path):
    out = tmp_path / "study.ipynb"
    code, _, err = run_cli("notebook", "--dataset", "digits", "--quick", "--execute", "-o", out,
                           "--runs-dir", tmp_path / "nb-runs")
    assert code == 0, err
    assert err.strip() == f"notebook: {out} (executed)"
    got = numbers(nbformat.read(out, as_version=4))
    code, stdout, err = run_cli("study", "--dataset", "digits", "--quick", "--json", "-o", tmp_path / "r.html",
                                "--runs-dir", tmp_path / "study-runs")
    assert code == 0, err
    study = json.loads(stdout)["runs"]
    assert [round(s, 5) for s in study["detector"]["cv_scores"]] == got["cv"]
    assert round(study["detector"]["precision"], 4) == got["precision"]
    assert round(study["detector"]["recall"], 4) == got["recall"]
    assert round(study["logreg"]["test_accuracy"], 4) == got["logreg"]
    assert round(study["knn"]["test_accuracy"], 4) == got["knn"]
    assert round(study["dummy"]["test_accuracy"], 4) == got["dummy"]


def test_cli_notebook_without_execute_writes_the_parameters(run_cli, tmp_path):
    out = tmp_path / "n.ipynb"
    code, _, err = run_cli("notebook", "--dataset", "digits", "--quick", "--seed", "3", "-o", out)
    assert code == 0, err
    params = cell(nbformat.read(out, as_version=4), "# Parameters").source
    assert "DATASET = 'digits'" in params and "QUICK = True" in params and "SEED = 3" in params
    assert "RUNS_DIR = None" in params  # $DIGITLAB_RUNS_DIR (set by the tests) is not baked in


@pytest.mark.parametrize("kind", ["dir", "symlink", "socket"])
def test_cli_notebook_refuses_a_non_regular_output_path(run_cli, tmp_path, kind):
    target = tmp_path / "out.ipynb"
    if kind == "dir":
        target.mkdir()
    elif kind == "symlink":
        (tmp_path / "real.ipynb").write_text("keep")
        target.symlink_to(tmp_path / "real.ipynb")
    else:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(target))
    before = sorted(os.listdir(tmp_path))
    code, _, err = run_cli("notebook", "--dataset", "digits", "-o", target)
    assert code == 73 and err.count("\n") == 1 and str(target) in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == before
    if kind == "symlink":
        assert (tmp_path / "real.ipynb").read_text() == "keep"


def test_cli_notebook_bad_dataset_and_missing_extra(run_cli, tmp_path, monkeypatch):
    code, _, err = run_cli("notebook", "--dataset", "no-such-data", "-o", tmp_path / "x.ipynb")
    assert code == 66 and "no-such-data: no such dataset" in err and err.count("\n") == 1
    monkeypatch.setitem(sys.modules, "nbformat", None)
    code, _, err = run_cli("notebook", "-o", tmp_path / "x.ipynb")
    assert code == 2 and "pip install 'digitlab[notebook]'" in err and err.count("\n") == 1
    assert not (tmp_path / "x.ipynb").exists()


def test_missing_kernel_and_dead_kernel_are_one_line_errors(run_cli, tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; os._exit(1)")])
    with pytest.raises(WorkerError, match="kernel died"):
        N.execute(nb, cwd=tmp_path, timeout=300)
    monkeypatch.setattr(N, "KERNEL", "no-such-kernel")
    code, _, err = run_cli("notebook", "--dataset", "digits", "--execute", "-o", tmp_path / "x.ipynb")
    assert code == 69 and "no Jupyter kernel 'no-such-kernel'" in err and err.count("\n") == 1
    assert not (tmp_path / "x.ipynb").exists()


def test_a_failing_cell_keeps_the_digitlab_exit_code(tmp_path):
    nb = N.build(str(tmp_path / "missing-folder"))
    N.set_parameters(nb, RUNS_DIR=str(tmp_path / "runs"))
    with pytest.raises(N.NotebookError) as err:
        N.execute(nb, cwd=tmp_path, timeout=300)
    assert err.value.exit_code == 66 and "InputMissingError" in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_kernel_interrupt_during_train_leaves_no_half_written_run(tmp_path):
    """Jupyter's interrupt (SIGINT to the kernel) in the middle of `train`: like Ctrl-C in the CLI."""
    from jupyter_client.manager import start_new_kernel

    runs = tmp_path / "runs"
    km, kc = start_new_kernel(kernel_name=N.KERNEL, cwd=str(tmp_path), stderr=subprocess.DEVNULL)
    try:
        kc.execute_interactive("import digitlab", timeout=300)
        msg_id = kc.execute(f"digitlab.train('mnist', 'logreg', cv=3, runs_dir={str(runs)!r})")
        deadline = time.monotonic() + 600
        # interrupt once the run's temp folder exists: the fit is under way
        while not (runs.is_dir() and any(p.name.startswith(".") for p in runs.iterdir())):
            assert time.monotonic() < deadline, "train never started"
            time.sleep(0.2)
        km.interrupt_kernel()
        while True:
            reply = kc.get_shell_msg(timeout=300)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert list(runs.iterdir()) == []  # no run, no temp folder
        # the kernel is still usable
        assert kc.execute_interactive("x = 1", timeout=60)["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_progress_is_one_live_output_in_a_kernel_and_progress_false_is_silent(tmp_path):
    runs = str(tmp_path / "runs")
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_code_cell("import digitlab\nfrom digitlab import datasets\nds = datasets.load('digits')"),
        v4.new_code_cell(f"r = digitlab.train(ds, 'logreg', test_size=0.25, cv=2, figures=False, runs_dir={runs!r}, "
                         "progress=True)\nr2 = digitlab.train(ds, 'dummy', test_size=0.25, cv=0, figures=False, "
                         f"runs_dir={runs!r}, progress=True)"),
        v4.new_code_cell(f"r3 = digitlab.train(ds, 'logreg', test_size=0.25, cv=2, figures=False, runs_dir={runs!r}, "
                         "progress=False)"),
    ])
    N.execute(nb, cwd=tmp_path, timeout=600)
    live, silent = nb.cells[1].outputs, nb.cells[2].outputs
    # two train calls, four steps, one output: updated in place, the saved notebook keeps the final text
    assert len(live) == 1 and live[0]["output_type"] == "display_data"
    lines = live[0]["data"]["text/plain"].splitlines()
    assert [ln.split(" (")[0] for ln in lines] == [
        "✓ fitting logreg on 1,347 digits images, with 2 cross-validation folds alongside", "✓ evaluating",
        "✓ fitting dummy on 1,347 digits images", "✓ evaluating"]
    assert silent == []


def test_download_bar_in_a_kernel_is_one_output(tmp_path):
    """pooch's progress-bar protocol, as datasets._fetch hands it to pooch inside Jupyter."""
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_code_cell(
        "from digitlab import _progress\n"
        "b = _progress.bar(True, 'train-images-idx3-ubyte.gz')\n"
        "b.total = 2_000_000\n"
        "for _ in range(200):\n    b.update(10_000)\n"
        "b.close()\n"
        "assert _progress.bar(False, 'x') is None")])
    N.execute(nb, cwd=tmp_path, timeout=300)
    outs = nb.cells[0].outputs
    assert len(outs) == 1
    assert re.fullmatch(r"✓ train-images-idx3-ubyte\.gz \(2\.0 MB, [\d.]+ s\)", outs[0]["data"]["text/plain"])


def test_study_progress_in_a_kernel_is_one_output_with_every_step(tmp_path):
    """The study's steps run at once (a pool fits while this process evaluates): in a kernel they
    share one output, each ending as a ✓ line, in the order they end."""
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_code_cell(
        "from digitlab.study import run_study\n"
        f"res = run_study('digits', out={str(tmp_path / 'r.html')!r}, runs_dir={str(tmp_path / 'runs')!r}, n_jobs=2)")])
    N.execute(nb, cwd=tmp_path, timeout=600)
    outs = nb.cells[0].outputs
    assert len(outs) == 1 and outs[0]["output_type"] == "display_data", outs
    lines = outs[0]["data"]["text/plain"].splitlines()
    assert len(lines) == 6 and all(re.fullmatch(r"✓ \[\d/6\] .+  \(\d+\.\d s\)", ln) for ln in lines), lines
    assert sorted(ln.split("/")[0] for ln in lines) == [f"✓ [{k}" for k in range(1, 7)]
    assert lines[0].startswith("✓ [1/6] loading digits") and "writing the report" in lines[-1]


def test_search_shows_live_progress_in_a_kernel(tmp_path):
    """search(progress=True) in Jupyter: one output, updated as candidates finish (the live
    updates carry the count and the best so far; the saved output keeps the ✓ line)."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name=N.KERNEL, cwd=str(tmp_path), stderr=subprocess.DEVNULL)
    texts, outputs = [], []

    def hook(msg):
        if msg["msg_type"] in ("display_data", "update_display_data"):
            texts.append(msg["content"]["data"].get("text/plain", ""))
            if msg["msg_type"] == "display_data":
                outputs.append(msg)
        elif msg["msg_type"] == "stream":
            outputs.append(msg)

    try:
        reply = kc.execute_interactive(
            "from digitlab.searching import search\n"
            f"run = search('digits', 'logreg', grid={{'C': [0.01, 0.1, 1]}}, cv=2, n_jobs=1, test_size=0.25, "
            f"evaluate=False, runs_dir={str(tmp_path / 'runs')!r}, progress=True)",
            timeout=600, output_hook=hook)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert len(outputs) == 1, outputs  # one display, no stream output
    assert any(re.search(r"searching logreg on 1,347 digits images: 3/3 candidates, best 0\.\d{4} \(C=", t)
               for t in texts), texts
    assert re.fullmatch(r"✓ searching logreg on 1,347 digits images \(\d+\.\d s\)", texts[-1]), texts

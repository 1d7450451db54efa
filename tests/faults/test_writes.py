"""F2–F4, F6 and the runs folder: concurrent writers, read-only/unusable folders, full disk, dead workers."""

from __future__ import annotations

import errno
import json
import multiprocessing as mp
import signal
import sys
import time

import numpy as np
import pytest

from digitlab.exceptions import NoPermissionError, WorkerError, WriteError
from digitlab.runs import RunWriter, list_runs

from _faultproc import loky_workers, part_entries, snapshot, start, wait_for


def _write_runs(runs_dir, token, n, barrier):
    barrier.wait()
    for i in range(n):
        with RunWriter("20260101-000000-same-name", runs_dir) as w:
            w.write_json("run.json", {"created": "x", "dataset": {"name": "d"}, "model": {"name": "m"},
                                      "token": token, "i": i, "pad": "x" * 20000})
            w.commit()


def test_concurrent_run_writers_get_unique_folders(tmp_path):
    """F4: 4 processes commit 10 runs each under the same id: 40 complete, distinct folders."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_write_runs, args=(tmp_path, t, 10, barrier)) for t in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    runs = list_runs(tmp_path)
    assert len(runs) == 40 and len({r.id for r in runs}) == 40
    metas = [json.loads((r.path / "run.json").read_text()) for r in runs]
    seen = {(m["token"], m["i"]) for m in metas}
    assert seen == {(t, i) for t in range(4) for i in range(10)}  # nothing lost or overwritten
    assert part_entries(tmp_path) == []


def test_two_train_processes_at_once(tmp_path):
    """Two `digitlab train` at the same second: both exit 0, two runs, both models load."""
    args = ["train", "--dataset", "digits", "--test-size", "0.25", "--no-eval"]
    (p1, e1), (p2, e2) = start(args, tmp_path), start(args, tmp_path)
    assert p1.wait(120) == 0, e1.read_text()
    assert p2.wait(120) == 0, e2.read_text()
    runs = list_runs(tmp_path / "runs")
    assert len(runs) == 2
    for r in runs:
        assert r.load_model().predict(np.zeros((1, 64), "uint8")).shape == (1,)


@pytest.mark.parametrize("command", ["train", "search", "study"])
def test_unusable_runs_folder_fails_before_fitting(run_cli, tmp_path, monkeypatch, command):
    """A runs path under a regular file: exit 73 with the path, before any fitting (even as root)."""
    import digitlab.evaluation.cv as cv
    import digitlab.fitting as fitting
    import digitlab.training as training

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for module in (training, fitting):
        monkeypatch.setattr(module, "fit_model", _no_fitting)
    monkeypatch.setattr(cv, "_fit_fold", _no_fitting)
    monkeypatch.setattr("sklearn.model_selection._search.BaseSearchCV.fit", _no_fitting)
    extra = {"search": ["--grid", "C=0.1,1", "--jobs", "1", "--test-size", "0.25", "--no-eval"],
             "train": ["--test-size", "0.25", "--no-eval"], "study": ["-o", tmp_path / "r.html"]}[command]
    code, _, err = run_cli(command, "--dataset", "digits", "--runs-dir", blocker / "runs", *extra)
    assert code == 73, err
    assert str(blocker / "runs") in err and len(err.strip().splitlines()) == 1


def _no_fitting(*a, **k):
    raise AssertionError("fitting started although the runs folder is unusable")


def test_permission_denied_on_runs_folder(run_cli, tmp_path, monkeypatch):
    """EACCES creating the run's temp folder (what a read-only folder gives non-root users): exit 77."""
    import tempfile

    import digitlab.training as training

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    monkeypatch.setattr(training, "fit_model", _no_fitting)
    code, _, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--no-eval",
                           "--runs-dir", tmp_path / "runs")
    assert code == 77 and "Permission denied" in err, err
    with pytest.raises(NoPermissionError):
        with RunWriter("x", tmp_path / "runs"):
            pass


def _full_disk_dump(obj, file, *a, **k):
    with open(file, "wb") as fh:
        fh.write(b"PK\x03\x04 half a model")
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_saving_model_keeps_old_file(tmp_path, monkeypatch, digits):
    """F3: ENOSPC during save → WriteError (74), the previous model file byte-identical, no temp file."""
    import skops.io

    from digitlab.models import make_model
    from digitlab.persist import save_model

    model = make_model("dummy").fit(digits.X[:100], digits.y[:100])
    target = tmp_path / "model.skops"
    save_model(model, target)
    old = target.read_bytes()
    monkeypatch.setattr(skops.io, "dump", _full_disk_dump)
    with pytest.raises(WriteError, match="No space left") as info:
        save_model(model, target)
    assert info.value.exit_code == 74
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]


def test_disk_full_during_train_exit_74(run_cli, tmp_path, monkeypatch):
    """F3 through the CLI: exit 74, one line, no run folder left."""
    import skops.io

    monkeypatch.setattr(skops.io, "dump", _full_disk_dump)
    code, _, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--no-eval",
                           "--runs-dir", tmp_path / "runs")
    assert code == 74 and "No space left on device" in err and len(err.strip().splitlines()) == 1, err
    assert list((tmp_path / "runs").iterdir()) == []


_SAVER = r"""
import sys
from sklearn.dummy import DummyClassifier
from digitlab.persist import save_model
import numpy as np
X = np.zeros((20, 4)); ys = [np.arange(20) % 2, np.arange(20) % 3]
models = [DummyClassifier().fit(X, y) for y in ys]
i = 0
while True:
    save_model(models[i % 2], sys.argv[1]); i += 1
    print(i, flush=True)
"""


def test_sigkill_during_model_save_leaves_a_complete_file(tmp_path):
    """F2: SIGKILL at a random point of repeated saves: the target loads; leftovers are only temp files."""
    import subprocess

    from digitlab.persist import load_model

    target = tmp_path / "m.skops"
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(target)], stdout=subprocess.PIPE)
    for _ in range(20):  # let it complete a few saves first
        proc.stdout.readline()
    time.sleep(0.137)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    model = load_model(target)
    assert len(model.classes_) in (2, 3)
    assert all(".part_" in p.name for p in tmp_path.iterdir() if p.name != "m.skops")


# A grid whose first candidate is quick and whose second cannot finish in any test's lifetime (SGD
# with tol=None runs exactly max_iter epochs): a worker killed after the first candidate is
# always killed mid-search, however fast or slow the machine.
QUICK_THEN_ENDLESS = {"max_iter": ["1", "1000000"]}


def test_loky_worker_killed_mid_search_is_a_worker_error(tmp_path, digits):
    """F6: a worker process dies mid-search → WorkerError (exit 71), no run folder."""
    import psutil

    from digitlab.searching import search

    def kill_a_worker(event):
        if event.finished == 1:
            workers = loky_workers(psutil.Process())
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(10)

    with pytest.raises(WorkerError, match="worker process died") as info:
        search(digits, "sgd", grid=QUICK_THEN_ENDLESS, params={"tol": "None"}, test_size=0.25, cv=3, n_jobs=2,
               evaluate=False, runs_dir=tmp_path, callback=kill_a_worker)
    assert info.value.exit_code == 71
    assert list(tmp_path.iterdir()) == []


def test_loky_worker_killed_cli_exit_71(tmp_path, mnist_dir):
    """F6 through the CLI (a real process and a real SIGKILL of its worker): one line, exit 71."""
    import psutil

    grid = ",".join(QUICK_THEN_ENDLESS["max_iter"])
    proc, err = start(["search", "--dataset", "mnist", "--limit", "6000", "--model", "sgd", "--param", "tol=None",
                       "--grid", f"max_iter={grid}", "--jobs", "2", "--no-eval"], tmp_path, data_dir=mnist_dir)
    try:
        wait_for(lambda: "[1/2]" in err.read_text(), proc, what="the first finished candidate")
        victim = loky_workers(psutil.Process(proc.pid))[0]
        victim.send_signal(signal.SIGKILL)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:  # the search never ends by itself: its workers watch it and follow
            proc.kill()
    text = err.read_text()
    assert code == 71, text
    assert text.strip().splitlines()[-1].startswith("digitlab: error: search: a worker process died")
    assert "Traceback" not in text
    assert not (tmp_path / "runs").exists() or snapshot(tmp_path / "runs") == {}

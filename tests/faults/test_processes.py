"""H10: `kill -TERM` and `kill -9` of `train` and `search` leave no process computing.

Each test starts a real `digitlab` whose fits cannot finish before the kill (SGD with
``tol=None`` runs exactly ``max_iter`` = 10^6 epochs, hours), waits until its worker processes
exist, signals it, and checks every process under it (workers, loky's and multiprocessing's
resource trackers, Dask's worker processes) is gone 10 s later. TERM must clean up as Ctrl-C
does: exit 143, one "terminated" line, no temp run folder, the earlier run untouched.
"""

from __future__ import annotations

import signal

import pytest

from _faultproc import (dask_workers, kill_all, loky_workers, part_entries, snapshot, start, survivors,
                        wait_for)

psutil = pytest.importorskip("psutil")

GONE_WITHIN = 10  # seconds after the kill (the issue asks for 5; doubled for a loaded machine)
EXIT_WITHIN = 60  # seconds for the TERMed parent to stop its pool or cluster and exit
ENDLESS = ["--model", "sgd", "--param", "tol=None"]  # with max_iter=10**6: far longer than any test
LIMIT = ["--dataset", "mnist", "--limit", "6000"]  # 4.7 M pixels: above cv.SMALL_DATA, so CV uses a pool


@pytest.fixture
def earlier_run(tmp_path, run_cli):
    code, _, err = run_cli("train", "--dataset", "digits", "--test-size", "0.25", "--no-eval",
                           "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    return snapshot(tmp_path / "runs")


def _train_workers() -> int:
    from digitlab.evaluation.cv import default_n_jobs

    n = default_n_jobs(3 + 1, 6000 * 784)  # three folds and the final fit share one pool
    if n < 2:
        pytest.skip("one core: train runs its CV folds in-process, without workers")
    return n


def _kill_and_check(proc, err, sig, tmp_path, before):
    """Send *sig* once the tree is up; assert nothing under *proc* survives, and TERM's cleanup."""
    parent = psutil.Process(proc.pid)
    tree = parent.children(recursive=True)
    try:
        proc.send_signal(sig)
        code = proc.wait(timeout=EXIT_WITHIN)
        alive = survivors(tree, GONE_WITHIN)
        assert not alive, [" ".join(p.cmdline())[:120] for p in alive]
    finally:
        kill_all(tree)
        if proc.poll() is None:
            proc.kill()
    text = err.read_text()
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
        return
    assert code == 143, text
    assert text.strip().splitlines()[-1] == "digitlab: error: terminated (SIGTERM)", text
    assert "Traceback" not in text
    assert part_entries(tmp_path / "runs") == []  # the temp run folder was removed
    assert snapshot(tmp_path / "runs") == before  # the earlier run is untouched, nothing new


SIGNALS = pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])


@SIGNALS
def test_train_killed_while_cross_validating(tmp_path, earlier_run, mnist_dir, sig):
    """`train` with its CV pool busy: TERM exits 143 and cleans up; after either, no worker survives."""
    n = _train_workers()
    proc, err = start(["train", *LIMIT, *ENDLESS, "--param", "max_iter=1000000"], tmp_path, data_dir=mnist_dir)
    parent = psutil.Process(proc.pid)
    wait_for(lambda: len(loky_workers(parent)) == n, proc, what=f"{n} loky workers")
    _kill_and_check(proc, err, sig, tmp_path, earlier_run)


@SIGNALS
def test_search_killed_while_searching(tmp_path, earlier_run, mnist_dir, sig):
    """`search --jobs 2` with both workers busy: the same."""
    proc, err = start(["search", *LIMIT, *ENDLESS, "--grid", "max_iter=1000000,1000001", "--jobs", "2",
                       "--no-eval"], tmp_path, data_dir=mnist_dir)
    parent = psutil.Process(proc.pid)
    wait_for(lambda: len(loky_workers(parent)) == 2, proc, what="2 loky workers")
    _kill_and_check(proc, err, sig, tmp_path, earlier_run)


@pytest.mark.cluster
@SIGNALS
def test_search_on_local_cluster_killed(tmp_path, earlier_run, mnist_dir, sig):
    """`search --cluster local:2` with its fits running: its Dask worker processes go too."""
    pytest.importorskip("distributed")
    proc, err = start(["search", *LIMIT, *ENDLESS, "--grid", "max_iter=1000000,1000001", "--cluster", "local:2",
                       "--no-eval"], tmp_path, data_dir=mnist_dir)
    parent = psutil.Process(proc.pid)
    wait_for(lambda: "searching sgd" in err.read_text() and len(dask_workers(parent)) == 2, proc,
             what="the search on 2 Dask workers")
    _kill_and_check(proc, err, sig, tmp_path, earlier_run)


def test_sigterm_handler_is_scoped_and_keeps_an_inherited_ignore():
    """SIGTERM raises Terminated only inside the CLI's block; an inherited "ignore" is kept; both restored."""
    from digitlab import _signals

    before = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with _signals.sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with _signals.sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)  # else we'd die
            with pytest.raises(_signals.Terminated):
                signal.raise_signal(signal.SIGTERM)
            assert _signals.terminated()
            signal.raise_signal(signal.SIGTERM)  # a second TERM must not break the cleanup of the first
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and not _signals.terminated()
    finally:
        signal.signal(signal.SIGTERM, before)


def _thread_failing(shutdown):
    """A thread like loky's manager thread (``executor_flags``) that raises KeyError."""
    import threading
    import types

    class Manager(threading.Thread):
        executor_flags = types.SimpleNamespace(shutdown=shutdown)

        def run(self):
            raise KeyError(1)

    return Manager(name="ExecutorManagerThread")


def test_pool_teardown_noise_is_not_printed_but_other_thread_errors_are(monkeypatch):
    """Check the CLI's hook: loky's manager thread failing while its pool shuts down (Ctrl-C,
    SIGTERM) reaches no printer; the same thread failing in a running pool, or any other thread,
    still reaches the hook that was there before, which is back afterwards."""
    import threading

    from digitlab import _signals

    shown = []
    monkeypatch.setattr(threading, "excepthook", lambda args: shown.append((args.thread.name, args.exc_type)))
    before = threading.excepthook
    with _signals.quiet_pool_teardown():
        for shutdown in (True, False):
            t = _thread_failing(shutdown)
            t.start()
            t.join()
        other = threading.Thread(target=lambda: 1 / 0, name="other")
        other.start()
        other.join()
    assert threading.excepthook is before
    assert shown == [("ExecutorManagerThread", KeyError), ("other", ZeroDivisionError)]

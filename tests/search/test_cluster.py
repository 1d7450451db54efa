"""`search` on a real dask.distributed cluster (scheduler + 2 worker processes on 127.0.0.1)."""

from __future__ import annotations

import os
import signal

import pytest

pytest.importorskip("distributed")

from digitlab.searching import load_search, search  # noqa: E402

pytestmark = pytest.mark.cluster

GRID = {"C": ["0.01", "0.1", "1", "10"]}


@pytest.fixture
def cluster():
    """A scheduler and two nanny-managed worker processes, bound to 127.0.0.1, closed after."""
    from distributed import Client, LocalCluster

    lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50)
    client = Client(lc, set_as_default=False)
    try:
        yield lc, client
    finally:
        client.close()
        lc.close()
    assert lc.status.name == "closed"


def _same(a, b):
    for col in ("mean_test_score", "std_test_score", "split0_test_score", "split1_test_score",
                "split2_test_score", "params"):
        assert a["cv_results"][col] == b["cv_results"][col], col
    assert a["best_params"] == b["best_params"] and a["best_score"] == b["best_score"]


@pytest.fixture(scope="module")
def local_record(mnist_small, tmp_path_factory):
    run = search(_dataset(mnist_small), "logreg", grid=GRID, cv=3, n_jobs=1, evaluate=False,
                 test_size=0.1, runs_dir=tmp_path_factory.mktemp("local"))
    return load_search(run)


def _dataset(split):
    return split.train  # 3,000 MNIST images: fits take long enough to be seen on workers


def test_search_on_cluster_matches_local_and_runs_on_workers(cluster, local_record, mnist_small, tmp_path):
    """Tasks run on both workers, X is scattered once, and scores equal the local run's."""
    from distributed import get_task_stream

    lc, client = cluster
    workers = set(client.scheduler_info()["workers"])
    seen_deps = []

    def on_progress(event):
        if not seen_deps:  # mid-search: which data do the queued/running fold tasks depend on?
            seen_deps.append(client.run_on_scheduler(_fold_dependencies))

    with get_task_stream(client) as ts:
        run = search(_dataset(mnist_small), "logreg", grid=GRID, cv=3, evaluate=False, test_size=0.1,
                     cluster=lc.scheduler_address, runs_dir=tmp_path, callback=on_progress)
    rec = load_search(run)
    _same(rec, local_record)
    assert rec["backend"] == "dask" and rec["workers"] == 2 and rec["lost_workers"] == []
    assert run.info.search.backend == "dask" and "distributed" in run.info.versions
    fold_tasks = [t for t in ts.data if "_fit_and_score" in str(t["key"])]
    assert len(fold_tasks) >= 2
    assert {t["worker"] for t in fold_tasks} == workers  # both workers did folds
    deps = seen_deps[0]
    assert deps, "no fold task was seen on the scheduler"
    big = {k for task_deps in deps for k, nbytes in task_deps if nbytes >= 2700 * 784}
    assert len(big) == 1  # every fold task reads the same scattered copy of X_train (2,700 x 784)
    assert all(any(k in big for k, _ in d) for d in deps)


def _fold_dependencies(dask_scheduler):
    out = []
    for key, ts in dask_scheduler.tasks.items():
        if "_fit_and_score" in str(key):
            out.append([(str(d.key), d.nbytes) for d in ts.dependencies])
    return out


def test_search_survives_a_killed_worker(cluster, local_record, mnist_small, tmp_path):
    """SIGKILL one worker mid-search: Dask reschedules, the result is unchanged, the loss recorded."""
    lc, client = cluster
    pids = client.run(os.getpid)
    victim, pid = sorted(pids.items())[0]
    killed = []

    def on_progress(event):
        if not killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(victim)

    run = search(_dataset(mnist_small), "logreg", grid=GRID, cv=3, evaluate=False, test_size=0.1,
                 cluster=lc.scheduler_address, runs_dir=tmp_path, callback=on_progress)
    rec = load_search(run)
    assert killed
    _same(rec, local_record)
    assert [w["worker"] for w in rec["lost_workers"]] == [victim]
    assert run.info.search.lost_workers == rec["lost_workers"]


def test_local_cluster_option_starts_and_stops_workers(mnist_small, local_record, tmp_path):
    """`--cluster local:2` starts two worker processes, says where the dashboard is, and stops them."""
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    messages = []
    run = search(_dataset(mnist_small), "logreg", grid=GRID, cv=3, evaluate=False, test_size=0.1,
                 cluster="local:2", runs_dir=tmp_path, echo=messages.append)
    rec = load_search(run)
    _same(rec, local_record)
    assert rec["cluster"]["kind"] == "local" and rec["workers"] == 2
    assert any("dashboard:" in m for m in messages)
    left = {p.pid for p in psutil.Process().children(recursive=True) if p.is_running()} - before
    assert not [p for p in left if psutil.Process(p).status() != psutil.STATUS_ZOMBIE]

"""Run digitlab in a subprocess, wait for it to reach a given point, and watch its process tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# `python -m digitlab` with SIGINT and SIGTERM set to what an interactive shell gives a foreground
# command. A child inherits "ignored" from its parent (make under nohup or in a background job
# ignores SIGINT, and Python then installs no KeyboardInterrupt handler), so tests that signal the
# child must not rely on what the harness passed down.
_BOOT = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "signal.signal(signal.SIGTERM, signal.SIG_DFL); "
         "runpy.run_module('digitlab', run_name='__main__', alter_sys=True)")


def start(args, tmp_path: Path, *, data_dir=None) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "DIGITLAB_RUNS_DIR": str(tmp_path / "runs"),
           "DIGITLAB_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    if data_dir is not None:
        env["DIGITLAB_DATA_DIR"] = str(data_dir)
    err = tmp_path / f"stderr-{time.monotonic_ns()}.txt"
    with open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", _BOOT, *map(str, args)], env=env,
                                stdout=subprocess.DEVNULL, stderr=stderr)
    return proc, err


def wait_for(predicate, proc, timeout=120.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {what}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}")


def stop_when(predicate, proc, timeout=120.0, what="condition"):
    """Leave *proc* stopped (SIGSTOP) at a moment *predicate* holds, checked only while it is
    stopped: what follows (a signal) then reaches it in that state, however slow this process is.

    Waiting for a file and then signalling races the work that follows the file: on a loaded
    machine the child may finish first. The caller sends its signal, then SIGCONT.
    """
    import psutil

    child = psutil.Process(proc.pid)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        proc.send_signal(signal.SIGSTOP)
        while proc.poll() is None and child.status() not in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE):
            time.sleep(0.005)  # SIGSTOP is delivered asynchronously
        if proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {what}")
        if predicate():
            return
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}")


def part_entries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".part_" in p.name] if folder.is_dir() else []


def snapshot(folder: Path) -> dict:
    """{relative path: bytes} of every file under *folder*."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def loky_workers(parent) -> list:
    """The loky executor's worker processes under *parent* (a psutil.Process), not its resource tracker."""
    return [c for c in _descendants(parent) if "popen_loky" in " ".join(_cmdline(c))]


def dask_workers(parent) -> list:
    """The worker processes a ``local:N`` Dask cluster started under *parent*."""
    return [c for c in _descendants(parent) if "spawn_main" in " ".join(_cmdline(c))]


def _descendants(parent) -> list:
    import psutil

    try:
        return parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdline(p) -> list:
    import psutil

    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def survivors(procs, timeout: float) -> list:
    """Those of *procs* (psutil.Process) still running after *timeout* seconds.

    A zombie counts as gone: it computes nothing, and whether it is reaped depends on the
    harness's init process, not on digitlab.
    """
    import psutil

    end = time.monotonic() + timeout
    while True:
        alive = []
        for p in procs:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.1)


def kill_all(procs) -> None:
    """SIGKILL what a failed test left running (processes it started, by their psutil handle)."""
    import psutil

    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass

"""Run digitlab in a subprocess and wait for it to reach a given point."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def start(args, tmp_path: Path, *, data_dir=None) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "DIGITLAB_RUNS_DIR": str(tmp_path / "runs"),
           "DIGITLAB_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    if data_dir is not None:
        env["DIGITLAB_DATA_DIR"] = str(data_dir)
    err = tmp_path / f"stderr-{time.monotonic_ns()}.txt"
    proc = subprocess.Popen([sys.executable, "-m", "digitlab", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(err, "wb"))
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


def part_entries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".part_" in p.name] if folder.is_dir() else []


def snapshot(folder: Path) -> dict:
    """{relative path: bytes} of every file under *folder*."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

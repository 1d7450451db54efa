"""Special files for hostile tests (FIFO, device node, socket, symlink to /dev/zero) and a way to
call digitlab on them in a child process that cannot hang or exhaust the machine.

A regression in these tests means a blocked ``open()`` or an endless read, so nothing runs in
the pytest process: the CLI and the Python API are each called in a subprocess with a memory
limit and a generous timeout (the refusal itself takes microseconds; the timeout only proves
that nothing hangs, on however loaded a machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

KINDS = ("fifo", "dev_zero_link", "char_device", "socket")
TIMEOUT = 120  # seconds; only a hang comes near it
MEMORY_LIMIT = 6 * 2**30  # address space of the child: an endless read fails fast instead of swapping

# what the one-line error says about each kind
SAYS = {"fifo": "is a FIFO (named pipe), not a regular file",
        "dev_zero_link": "is a character device, not a regular file",
        "char_device": "is a character device, not a regular file",
        "socket": "is a socket, not a regular file"}


def make_special(path: Path, kind: str) -> Path:
    """Create a *kind* special file at *path* (private to the test's folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero_link":
        path.symlink_to("/dev/zero")
    elif kind == "char_device":
        try:  # a private copy of /dev/zero (major 1, minor 5); needs CAP_MKNOD
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))
        except PermissionError:
            pytest.skip("creating device nodes is not permitted here")
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as s, _chdir(path.parent):
            s.bind(path.name)  # relative: a unix socket's address is limited to 108 bytes
    else:
        raise ValueError(kind)
    return path


@contextlib.contextmanager
def _chdir(folder):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def _limit_memory():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "DIGITLAB_RUNS_DIR": str(tmp_path / "runs"),
            "DIGITLAB_CACHE_DIR": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}


def run_cli(tmp_path: Path, *args, stdin=subprocess.DEVNULL) -> tuple[int, str, str]:
    """``digitlab ARGS`` in a subprocess: (exit code, stdout, stderr); fails on a hang."""
    try:
        p = subprocess.run([sys.executable, "-m", "digitlab", *map(str, args)], env=_env(tmp_path),
                           capture_output=True, timeout=TIMEOUT, stdin=stdin, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"digitlab {' '.join(map(str, args))}: still running after {TIMEOUT} s") from None
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


_API = r"""
import json, sys
from digitlab.exceptions import DigitlabError
out = []
for code in json.loads(sys.argv[1]):
    try:
        exec(code, {})
        out.append({"raised": None})
    except DigitlabError as exc:
        out.append({"raised": type(exc).__name__, "exit_code": exc.exit_code, "message": str(exc),
                    "mro": [c.__name__ for c in type(exc).__mro__]})
    print(json.dumps(out[-1]), flush=True)
"""


def run_api(tmp_path: Path, snippets: list[str]) -> list[dict]:
    """Execute each Python snippet in one child process; per snippet, the DigitlabError it raised.

    Any other exception (or a hang, or running out of the memory limit) fails the test.
    """
    try:
        p = subprocess.run([sys.executable, "-c", _API, json.dumps(snippets)], env=_env(tmp_path),
                           capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
                           preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired as exc:
        done = (exc.stdout or b"").decode().count("\n")
        raise AssertionError(f"hung on snippet {done}: {snippets[done]}") from None
    lines = p.stdout.decode().splitlines()
    assert p.returncode == 0 and len(lines) == len(snippets), (
        f"snippet {len(lines)} failed: {snippets[min(len(lines), len(snippets) - 1)]}\n{p.stderr.decode()[-3000:]}")
    return [json.loads(line) for line in lines]

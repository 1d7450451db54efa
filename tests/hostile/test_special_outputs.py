"""H4: an output option naming a device, a FIFO, a symlink, a socket or a folder.

Writing through a temp file and a rename used to replace whatever the path named (as root,
``report --out /dev/full`` replaced /dev/full with an HTML file). Now a character device or a
FIFO is written through, ``-`` is standard output, and everything else that is not a regular
file is refused with exit 73; the special file is never replaced. Device nodes are private
copies made in the test's folder (never the real /dev files).
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _special import make_special, run_cli as run_cli_subprocess  # noqa: E402

from digitlab._atomic import atomic_path, check_output, write_bytes, write_text  # noqa: E402
from digitlab.exceptions import CannotCreateError, WriteError  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
HTML = b"<!doctype html>"


def _node(path: Path, kind: int, major: int, minor: int) -> Path:
    try:
        os.mknod(path, 0o600 | kind, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("creating device nodes is not permitted here")
    return path


def null_device(path):
    return _node(path, stat.S_IFCHR, 1, 3)  # what /dev/null is


def full_device(path):
    return _node(path, stat.S_IFCHR, 1, 7)  # /dev/full: every write fails with ENOSPC


def _identity(path: Path):
    st = os.lstat(path)
    return stat.S_IFMT(st.st_mode), st.st_ino, st.st_rdev, (os.readlink(path) if stat.S_ISLNK(st.st_mode) else None)


@pytest.fixture
def png(tmp_path):
    import numpy as np
    from PIL import Image

    a = np.full((40, 40), 255, np.uint8)
    a[8:32, 18:22] = 0
    Image.fromarray(a).save(tmp_path / "one.png")
    return tmp_path / "one.png"


# The commands with an output option: argv with {out} for the output path.
def _commands(run, png):
    return {
        "report": ["report", run.path, "--out", "{out}"],
        "data show": ["data", "show", "digits", "-o", "{out}"],
        "data hist": ["data", "hist", "digits", "-o", "{out}"],
        "predict --show-input": ["predict", run.path, png, "--show-input", "{out}"],
    }


def _argv(template, out):
    return [str(out) if a == "{out}" else a for a in template]


MAGIC = {"report": HTML, "data show": PNG, "data hist": PNG, "predict --show-input": PNG}
COMMANDS = list(MAGIC)


@pytest.mark.parametrize("command", COMMANDS)
def test_char_device_is_written_through_not_replaced(run_cli, digits_run, png, tmp_path, command):
    """A private /dev/null: exit 0, and it is still the same character device afterwards."""
    dev = null_device(tmp_path / "null")
    before = _identity(dev)
    code, _, err = run_cli(*_argv(_commands(digits_run, png)[command], dev))
    assert code == 0, err
    assert _identity(dev) == before
    assert [p.name for p in tmp_path.iterdir() if ".part_" in p.name] == []


@pytest.mark.parametrize("command", COMMANDS)
def test_full_device_is_an_io_error_and_stays(run_cli, digits_run, png, tmp_path, command):
    """A private /dev/full: the write fails (74, one line naming it); the node is untouched."""
    dev = full_device(tmp_path / "full")
    before = _identity(dev)
    code, _, err = run_cli(*_argv(_commands(digits_run, png)[command], dev))
    assert code == 74, err
    assert err.splitlines()[-1] == f"digitlab: error: {dev}: cannot write (No space left on device)"
    assert _identity(dev) == before


def _run_cli_bytes(*args):
    """Like the `run_cli` fixture, with stdout as bytes (a PNG is not text)."""
    from click.testing import CliRunner

    from digitlab.cli import main

    class Main:
        name = "digitlab"

        def main(self, args=None, prog_name=None, **extra):
            main(list(args or []))

    r = CliRunner().invoke(Main(), list(map(str, args)), catch_exceptions=False)
    return r.exit_code, r.stdout_bytes, r.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_dash_is_standard_output(digits_run, png, tmp_path, monkeypatch, command):
    """`-`: the file's bytes, and only them, on stdout; no file named '-' appears."""
    monkeypatch.chdir(tmp_path)
    code, out, err = _run_cli_bytes(*_argv(_commands(digits_run, png)[command], "-"))
    assert code == 0, err
    assert out.startswith(MAGIC[command]), out[:40]
    assert out.rstrip().endswith(b"</html>" if command == "report" else b"IEND\xaeB`\x82")
    assert not (tmp_path / "-").exists()


def test_dash_output_png_is_the_same_as_a_file(digits_run, png, tmp_path):
    """`--show-input -` sends the exact PNG a file would get; the prediction line goes to stderr."""
    import subprocess

    env = {**os.environ, "MPLBACKEND": "Agg"}
    args = [sys.executable, "-m", "digitlab", "predict", str(digits_run.path), str(png)]
    p = subprocess.run([*args, "--show-input", "-"], capture_output=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    subprocess.run([*args, "--show-input", str(tmp_path / "seen.png")], check=True, timeout=300, env=env,
                   capture_output=True)
    assert p.stdout == (tmp_path / "seen.png").read_bytes()
    assert p.stderr.decode().startswith(f"{png}: ")


def _symlink_to_file(tmp_path):
    target = tmp_path / "mine.txt"
    target.write_text("keep me")
    (tmp_path / "out").symlink_to(target)
    return tmp_path / "out", "is a symbolic link to a file"


def _broken_symlink(tmp_path):
    (tmp_path / "out").symlink_to(tmp_path / "nowhere")
    return tmp_path / "out", "is a broken symbolic link"


def _socket(tmp_path):
    return make_special(tmp_path / "out", "socket"), "is a socket; not writing to it"


def _block_device(tmp_path):
    return _node(tmp_path / "out", stat.S_IFBLK, 7, 0), "is a block device; not writing to it"  # loop0's numbers


REFUSED = {"symlink to a file": _symlink_to_file, "broken symlink": _broken_symlink, "socket": _socket,
           "block device": _block_device}


@pytest.mark.parametrize("case", list(REFUSED))
@pytest.mark.parametrize("command", COMMANDS)
def test_refused_outputs_exit_73_and_stay(run_cli, digits_run, png, tmp_path, command, case):
    """Symlink to a file, broken symlink, socket, block device: 73, one line, nothing replaced."""
    out, says = REFUSED[case](tmp_path)
    before = _identity(out)
    files = sorted(p.name for p in tmp_path.iterdir())
    code, stdout, err = run_cli(*_argv(_commands(digits_run, png)[command], out))
    assert code == 73, err
    assert err.startswith(f"digitlab: error: {out}: {says}") and err.count("\n") == 1, err
    assert _identity(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    if case == "symlink to a file":
        assert (tmp_path / "mine.txt").read_text() == "keep me"


def _drain(fd: int, box: dict, timeout: float = 120.0) -> None:
    """Read a FIFO (opened non-blocking) until a writer has come, written and gone."""
    chunks, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            b = os.read(fd, 1 << 16)
        except BlockingIOError:  # a writer is there, nothing yet
            time.sleep(0.01)
            continue
        if b:
            chunks.append(b)
        elif chunks:
            break  # EOF after the data: the writer closed
        else:
            time.sleep(0.01)  # no writer yet
    os.close(fd)
    box["data"] = b"".join(chunks)


@pytest.mark.parametrize("command", ["report", "data show"])
def test_fifo_with_a_reader_gets_the_bytes(run_cli, digits_run, png, tmp_path, command):
    """`--out` a named pipe someone reads: the bytes go down the pipe; the FIFO stays a FIFO."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader exists before the writer opens
    box = {}
    reader = threading.Thread(target=_drain, args=(fd, box), daemon=True)
    reader.start()
    code, _, err = run_cli(*_argv(_commands(digits_run, png)[command], fifo))
    reader.join(120)
    assert code == 0, err
    assert box["data"].startswith(MAGIC[command])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("command", ["report", "predict --show-input"])
def test_fifo_without_reader_is_refused_without_waiting(digits_run, png, tmp_path, command):
    """Nobody reads the pipe: 73 at once (a subprocess with a timeout proves it does not block)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, out, err = run_cli_subprocess(tmp_path, *_argv(_commands(digits_run, png)[command], fifo))
    assert code == 73, err
    assert err.strip().splitlines()[-1] == (f"digitlab: error: {fifo}: is a FIFO (named pipe) that "
                                            "nobody reads; not waiting for a reader")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_study_refuses_a_bad_out_before_training(run_cli, tmp_path):
    """A refused --out fails in a moment, before any model is trained (no run folder appears)."""
    out, _ = _symlink_to_file(tmp_path)
    code, _, err = run_cli("study", "--dataset", "digits", "--quick", "--out", out, "--runs-dir", tmp_path / "runs")
    assert code == 73 and "is a symbolic link to a file" in err, err
    assert not (tmp_path / "runs").exists()
    code, _, err = run_cli("study", "--dataset", "digits", "--out", "-", "--json")
    assert code == 2 and "--json and --out - both want standard output" in err


def test_predict_show_input_dash_with_json_is_a_usage_error(run_cli, digits_run, png):
    code, out, err = run_cli("predict", digits_run.path, png, "--show-input", "-", "--json")
    assert code == 2 and out == "" and "both want standard output" in err


def test_evaluate_refuses_a_symlinked_run_json(run_cli, run_copy, digits_run, tmp_path):
    """A run folder whose run.json links elsewhere: evaluate neither follows nor replaces it."""
    run = run_copy(digits_run)
    elsewhere = tmp_path / "elsewhere.json"
    os.replace(run.path / "run.json", elsewhere)
    (run.path / "run.json").symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    code, _, err = run_cli("evaluate", run.path, "--cv", "0", "--no-figures")
    assert code == 73 and "is a symbolic link to a file" in err, err
    assert (run.path / "run.json").is_symlink() and elsewhere.read_bytes() == before


# --------------------------------------------------------------------------- the library
def test_api_refusals_are_typed(tmp_path):
    """Python callers get CannotCreateError (an OSError, exit 73) from every atomic writer."""
    (tmp_path / "folder").mkdir()
    cases = [_symlink_to_file(tmp_path)[0], tmp_path / "folder"]
    for out in cases:
        for write in (lambda p: write_bytes(p, b"x"), lambda p: write_text(p, "x"), check_output):
            with pytest.raises(CannotCreateError) as info:
                write(out)
            assert info.value.exit_code == 73 and isinstance(info.value, OSError)
    with pytest.raises(CannotCreateError, match="is a directory"):
        from digitlab.reporting import report

        report([], tmp_path / "folder")


def test_api_write_through_and_stdout(tmp_path, monkeypatch):
    """Devices are written through (errors typed), `-` writes the bytes to sys.stdout.buffer."""
    import io
    import types

    assert check_output(null_device(tmp_path / "null")) is True
    assert check_output(tmp_path / "new.txt") is False
    write_bytes(tmp_path / "null", b"x" * 100)
    with pytest.raises(WriteError, match="No space left on device") as info:
        write_bytes(full_device(tmp_path / "full"), b"x")
    assert info.value.exit_code == 74
    buf = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(buffer=buf, flush=lambda: None))
    write_bytes("-", b"abc")
    with atomic_path("/dev/stdout") as tmp:
        tmp.write_bytes(b"def")
    assert buf.getvalue() == b"abcdef"


def test_api_failed_writer_sends_nothing_through(tmp_path):
    """A writer that fails half-way leaves nothing in the FIFO's reader and no temp file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(RuntimeError):
            with atomic_path(fifo) as tmp:
                tmp.write_bytes(b"half")
                raise RuntimeError("writer failed")
        assert os.read(fd, 100) == b""  # writer gone, nothing was sent
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]

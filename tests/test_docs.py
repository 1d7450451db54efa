"""The README and --help texts stay true."""

import re
from pathlib import Path

import pytest

from digitlab.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands(group, prefix=()):
    import click

    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path, cmd", list(_commands(cli)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_with_an_example(path, cmd):
    """Every command and option is documented; leaf commands show an example."""
    import click

    assert cmd.help and len(cmd.help) > 20, path
    for p in cmd.params:
        if isinstance(p, click.Option):
            assert p.help, f"{' '.join(path)} {p.opts[0]} has no help"
    if not isinstance(cmd, click.Group) or path == ("runs",):
        assert "Example" in cmd.help, path


def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert [line.split()[0:2] for line in block] == [["make", "study"], ["make", "test"]]


def test_readme_cli_commands_exist():
    """Every `digitlab <command>` in the README names a real command."""
    names = {" ".join(p) for p, _ in _commands(cli)}
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", README.read_text(), re.S))
    used = set(re.findall(r"^(?:\S+=\S+ )?digitlab ([a-z]+(?: [a-z]+)?)", blocks, re.M))
    assert len(used) > 10
    for u in used:
        first = u.split()[0]
        assert u in names or first in names, u


@pytest.mark.slow
def test_readme_python_example_runs(mnist_dir, tmp_path, monkeypatch):
    """The README's Python block runs as written (on real MNIST)."""
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(mnist_dir))
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - our own documentation
    assert ns["result"].summary()["test_accuracy"] > 0.9
    assert (tmp_path / "detector.html").exists()

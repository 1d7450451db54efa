"""H11: names from files (file names, class folders, run.json fields) printed to a terminal.

A newline would forge an output line, an ESC sequence would drive the terminal, and rich's
``[markup]`` would restyle or hide text. Human output escapes all three; ``--json`` keeps the
names exact (JSON escapes control characters itself).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from digitlab.cli._common import markup, safe

ESC = "\x1b"


@pytest.mark.parametrize("text, shown", [
    ("plain name.png", "plain name.png"),
    ("a\nb", "a\\nb"),
    ("\x1b[31mred", "\\x1b[31mred"),
    ("tab\there\r", "tab\\there\\r"),
    ("bidi\u202eevil", "bidi\\u202eevil"),
    ("line\u2028sep", "line\\u2028sep"),
    ("accents é ü 7", "accents é ü 7"),
])
def test_safe_escapes_control_characters_like_repr(text, shown):
    assert safe(text) == shown
    assert safe(text).isprintable()


def test_markup_also_escapes_rich_markup():
    from rich.console import Console

    con = Console(width=200, record=True, force_terminal=False)
    con.print(markup("[bold]x[/]\n"))
    assert con.export_text() == "[bold]x[/]\\n\n"


def _png(path):
    a = np.full((40, 40), 255, np.uint8)
    a[8:32, 18:22] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def test_data_info_class_names_are_escaped(run_cli, tmp_path):
    """Class folders named with a newline, ESC and rich markup: one table row each, shown literally."""
    root = tmp_path / "odd\x1b]0;title\x07set"
    names = ["se\nven", "[bold]one", "\x1b[31mred"]
    for n in names:
        _png(root / n / "a.png")
    code, out, err = run_cli("data", "info", root)
    assert code == 0, err
    assert ESC not in out and "\x07" not in out
    rows = [line for line in out.splitlines() if line.startswith("│ ")]
    assert [r.split("│")[1].strip() for r in rows] == [safe(n) for n in sorted(names)] + ["total"]
    assert out.splitlines()[0].startswith("odd\\x1b]0;title\\x07set  3 images")
    code, out, _ = run_cli("data", "info", root, "--json")
    assert sorted(json.loads(out)["classes"]) == sorted(names)


def test_runs_table_escapes_run_json_strings(run_cli, digits_run, tmp_path):
    """A shared run whose run.json names its model with escape codes cannot drive the terminal."""
    dst = tmp_path / "runs" / digits_run.id
    shutil.copytree(digits_run.path, dst)
    meta = json.loads((dst / "run.json").read_text())
    meta["model"]["name"] = "\x1b[2J\x1b[Hlogreg\nforged row"
    meta["dataset"]["name"] = "[red]digits"
    (dst / "run.json").write_text(json.dumps(meta))
    for args in (["runs", "--runs-dir", tmp_path / "runs"], ["runs", "compare", dst]):
        code, out, err = run_cli(*args)
        assert code == 0, err
        cells = "".join(out.replace("│", "").split())  # the table may wrap a long cell
        assert ESC not in out and "\\x1b[2J\\x1b[Hlogreg\\nforgedrow" in cells
        assert not any(line.lstrip("│ ").startswith("forged row") for line in out.splitlines())
        assert "[red]digits" in cells


def test_error_line_escapes_and_logging_too(tmp_path):
    """The CLI's error line and its log handler print control characters escaped, on one line."""
    import io
    import logging

    from digitlab.cli._app import _SafeFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_SafeFormatter("%(message)s"))
    log = logging.getLogger("digitlab.test-h11")
    log.addHandler(handler)
    try:
        log.warning("cached copy %s is corrupt", "x\ny\x1b[0m")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == "cached copy x\\ny\\x1b[0m is corrupt\n"

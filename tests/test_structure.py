"""The shape of the code (issue 11): one-way imports, small modules, one owner of the run folder."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "digitlab"
MAX_LINES = 500
RUN_FILE_NAMES = {"run.json", "model.skops", "eval.json", "predictions.npz", "search.json"}


def _modules():
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_layers_contract_is_kept():
    """import-linter's layers contract (pyproject.toml): no layer imports one above it."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports not installed (pip install 'digitlab[test]')")
    out = subprocess.run([exe, "--no-cache"], cwd=SRC.parents[1], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 kept, 0 broken" in out.stdout


def test_no_import_cycles_between_modules():
    """No two modules import each other, directly or around a loop (imports inside functions count)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("digitlab", include_external_packages=False)
    succ = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    loops = sorted((a, b) for a in succ for b in succ[a] if _reaches(succ, b, a))  # a → b → ... → a
    assert loops == []


def _reaches(succ, start, goal) -> bool:
    seen, stack = set(), [start]
    while stack:
        m = stack.pop()
        if m == goal:
            return True
        for n in succ.get(m, ()):
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return False


def test_no_module_over_500_lines():
    long = {str(p.relative_to(SRC)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_run_folder_names_are_spelled_once():
    """File names of the run folder appear as literals only in runs/_names.py."""
    found = []
    for p in _modules():
        if p == SRC / "runs" / "_names.py":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and node.value in RUN_FILE_NAMES:
                found.append(f"{p.relative_to(SRC)}:{node.lineno} {node.value}")
    assert found == []


def test_no_raw_run_json_access_outside_the_run_contract():
    """Nothing outside digitlab.runs reads run.json as a dict: ``run.info`` holds typed records."""
    found = []
    for p in _modules():
        if SRC / "runs" in p.parents:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "meta":
                found.append(f"{p.relative_to(SRC)}:{node.lineno}")
    assert found == []


def test_the_python_api_documents_every_parameter():
    """Issue 11 §4: the entry points' docstrings name each of their parameters."""
    import inspect
    import re

    from digitlab.evaluation import evaluate, evaluate_run
    from digitlab.searching import search
    from digitlab.training import train

    for f in (train, search, evaluate, evaluate_run):
        doc = inspect.getdoc(f) or ""
        missing = [p for p in inspect.signature(f).parameters if not re.search(rf"\b{p}\b", doc)]
        assert not missing, f"{f.__name__}: parameters not in the docstring: {missing}"

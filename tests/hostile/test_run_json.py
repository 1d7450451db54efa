"""H8: one bad run.json among good runs: listings go on, the bad run is marked, commands on it exit 65."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from digitlab.exceptions import DataError
from digitlab.runs import list_runs, read_run, resolve_run, scan_runs

DEEP = 200_000


def _deep(n: int) -> str:
    return "[" * n + "]" * n


# (name, how to spoil the run.json text, a phrase the reason must contain)
BAD = [
    ("task-is-a-string", lambda m: {**m, "task": "y"}, "$.task"),
    ("deep-nesting", lambda m: '{"model": ' + _deep(DEEP) + "}", "nested more than"),
    ("deep-but-parseable", lambda m: {**m, "model": {**m["model"], "params": json.loads(_deep(200))}},
     "nested more than"),
    ("n-features-text", lambda m: {**m, "n_features": "784"}, "$.n_features"),
    ("negative-count", lambda m: {**m, "split": {**m["split"], "n_test": -5}}, "$.split.n_test"),
    ("classes-not-a-list", lambda m: {**m, "classes": {"0": 1}}, "$.classes"),
    ("accuracy-out-of-range", lambda m: {**m, "metrics": {**m["metrics"], "test_accuracy": 7}},
     "$.metrics.test_accuracy"),
    ("not-an-object", lambda m: "[1, 2]", "expected a JSON object"),
    ("not-json", lambda m: "{'model': 1", "not JSON"),
    ("newer-format", lambda m: {**m, "format": 99}, "newer digitlab"),
    ("huge", lambda m: {**m, "notes": "x" * (9 * 2**20)}, "more than the 8 MiB limit"),
    ("no-model", lambda m: {k: v for k, v in m.items() if k != "model"}, "model"),
]


@pytest.fixture(scope="module")
def good_runs(tmp_path_factory, digits):
    from digitlab import train

    root = tmp_path_factory.mktemp("runs")
    return [train(digits, "dummy", test_size=0.25, evaluate=False, runs_dir=root) for _ in range(2)]


@pytest.fixture
def runs_dir(good_runs, tmp_path):
    """The two good runs plus one spoiled copy, created last (so it is the newest)."""
    root = tmp_path / "runs"
    for r in good_runs:
        shutil.copytree(r.path, root / r.id)
    return root


def _spoil(runs_dir: Path, how) -> str:
    src = next(p for p in sorted(runs_dir.iterdir()))
    bad = runs_dir / "zzzz-bad-run"
    shutil.copytree(src, bad)
    meta = json.loads((bad / "run.json").read_text())
    meta["created"] = "2099-01-01T00:00:00+0000"
    spoiled = how(meta)
    (bad / "run.json").write_text(spoiled if isinstance(spoiled, str) else json.dumps(spoiled))
    return bad.name


@pytest.mark.parametrize("name, how, phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_run_json_is_refused_with_its_field(runs_dir, name, how, phrase):
    """The Python API: DataError (65) naming the file and the field or reason."""
    bad = _spoil(runs_dir, how)
    with pytest.raises(DataError) as info:
        read_run(runs_dir / bad)
    assert info.value.exit_code == 65
    assert "run.json: " in str(info.value) and phrase in str(info.value)
    good, marked = scan_runs(runs_dir)
    assert len(good) == 2 and [b.id for b in marked] == [bad]
    assert [r.id for r in list_runs(runs_dir)] == [r.id for r in good]
    with pytest.raises(DataError, match=phrase.replace("$", r"\$")):
        resolve_run(bad, runs_dir)
    assert resolve_run("latest", runs_dir).id == good[-1].id  # the newest *valid* run


@pytest.mark.parametrize("name, how, phrase", BAD[:3], ids=[b[0] for b in BAD[:3]])
def test_cli_lists_the_others_and_refuses_the_bad_one(runs_dir, run_cli, name, how, phrase):
    bad = _spoil(runs_dir, how)
    code, out, err = run_cli("runs", "--runs-dir", runs_dir)
    assert code == 0
    assert err.strip().count("\n") == 0 and err.startswith(f"warning: skipping run {bad}:"), err
    assert sum(line.startswith("│") or "dummy" in line for line in out.splitlines()) >= 2
    code, out, err = run_cli("runs", "--runs-dir", runs_dir, "--json")
    assert code == 0 and len(json.loads(out)) == 2
    for args in (("evaluate", bad, "--cv", "0"), ("runs", "compare", bad)):
        code, _, err = run_cli(*args[:1], "--runs-dir", runs_dir, *args[1:]) if args[0] == "evaluate" else \
            run_cli("runs", "--runs-dir", runs_dir, *args[1:])
        lines = err.strip().splitlines()
        assert code == 65 and len(lines) == 1 and "invalid run description" in lines[0], err
        assert "Traceback" not in err


@pytest.mark.parametrize("name, how, phrase", BAD[:3], ids=[b[0] for b in BAD[:3]])
def test_web_lists_a_marked_entry(runs_dir, digits, good_runs, name, how, phrase):
    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    bad = _spoil(runs_dir, how)
    with TestClient(create_app(runs_dir), base_url="http://127.0.0.1") as client:
        r = client.get("/api/runs")
        assert r.status_code == 200
        entries = r.json()
        assert len(entries) == 3
        marked = [e for e in entries if e["invalid"]]
        assert [e["id"] for e in marked] == [bad] and str(runs_dir) not in marked[0]["invalid"]
        assert all(e["invalid"] is None for e in entries if e["id"] != bad)
        r = client.get(f"/api/runs/{bad}")
        assert r.status_code == 422 and set(r.json()) == {"error", "detail"}
        # the default run is the newest valid one
        pixels = (digits.X[0].reshape(8, 8).astype(int) * 16).clip(0, 255).tolist()
        r = client.post("/api/predict", json={"pixels": pixels})
        assert r.status_code == 200 and r.json()["run"] == good_runs[-1].id, r.text


def test_run_written_by_this_version_validates(good_runs):
    """Every run.json digitlab writes passes its own validation (with typed records filled)."""
    run = read_run(good_runs[0].path)
    assert run.info.dataset.name == "digits" and run.info.model.name == "dummy"
    assert run.info.split.n_test == 450 and run.info.task.kind == "multiclass"

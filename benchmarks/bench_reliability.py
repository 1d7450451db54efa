"""Reliability figures for BENCHMARKS.md: the hostile model corpus and fuzzing counts.

- **Hostile model corpus** (``tests/hostile/_model_corpus.py``): every payload hidden in a real
  run's ``model.skops`` is loaded through ``Run.load_model``; the row counts files refused and
  payloads executed (their effect — a marker file created, a victim file or folder deleted —
  observed on disk). The tests also try each one through the CLI and the web app.
- **Fuzzing**: per parser, byte-level mutations of structured seeds (``run_mutations``) and the
  hypothesis properties (``run_property``). ``$DIGITLAB_FUZZ_CASES`` sets the mutation count per
  parser (default 20,000, what CI runs; ``make fuzz`` runs 200,000 x 5 parsers = 1,000,000).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from . import ROOT, ROW_KEYS

HOSTILE = ROOT / "tests" / "hostile"


def _import_hostile():
    sys.path.insert(0, str(HOSTILE))
    try:
        import _fuzzing
        import _model_corpus
    finally:
        sys.path.pop(0)
    return _fuzzing, _model_corpus


def _row(case: str, seconds: float, iterations: int, notes: str) -> dict:
    row = dict.fromkeys(ROW_KEYS)
    row.update(section="reliability", case=case, seconds=round(seconds, 1), iterations=iterations, notes=notes)
    return row


def corpus_row() -> dict:
    """Load every corpus file; count refusals and executed payloads."""
    from digitlab import datasets, train
    from digitlab.exceptions import ModelError
    from digitlab.runs import read_run

    _, mc = _import_hostile()
    t0 = time.perf_counter()
    refused = executed = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        digits = datasets.load("digits")
        logreg = train(digits, "logreg", test_size=0.25, evaluate=False, runs_dir=tmp / "base", progress=False)
        forest = train(digits, "forest", params={"n_estimators": 3, "n_jobs": 1}, test_size=0.25, evaluate=False,
                       runs_dir=tmp / "base", progress=False)
        names = [(name, logreg) for name in mc.corpus(mc.Effect(tmp))] + [(name, forest) for name in mc.tree_payloads()]
        for k, (name, base) in enumerate(names):
            effect = mc.Effect(tmp / f"home-{k}")  # each payload aims at its own marker and victims
            effect.arm()
            run_dir = mc.copy_run(base.path, tmp / f"runs-{k}", base.id)
            if base is logreg:
                mc.install(run_dir, mc.corpus(effect)[name])
            else:
                mc.install_members(run_dir, mc.tree_payloads()[name])
            total += 1
            try:
                read_run(run_dir).load_model()
            except ModelError:
                refused += 1
            executed += effect.happened()
    notes = (f"{total} hostile model files ({total - 4} payloads: re-exported stdlib callables under sklearn./"
             f"numpy./scipy./digitlab. names, builtins, numpy.load with pickles, operator/functools, hidden in "
             f"Pipeline attributes, lists, dict keys, parameters, loss/tree nodes; 4 memory-unsafe trees): "
             f"{refused} refused, {executed} executed")
    return _row("hostile model corpus (Run.load_model)", time.perf_counter() - t0, total, notes)


def fuzz_rows(quick: bool) -> list[dict]:
    fz, _ = _import_hostile()
    n_mut = int(os.environ.get("DIGITLAB_FUZZ_CASES", "2000" if quick else "20000"))
    n_prop = 300 if quick else 2000
    rows = []
    for name, (check, strategy) in fz.TARGETS.items():
        t0 = time.perf_counter()
        mut = fz.run_mutations(check, fz.seeds_from(strategy, 100, seed=0), n_mut, seed=1)
        prop = fz.run_property(check, strategy, n_prop, seed=0)
        failures = [f for f in (mut["failure"], prop["failure"]) if f]
        cases = mut["cases"] + prop["cases"]
        note = (f"{cases:,} cases ({mut['cases']:,} mutations + {prop['cases']:,} structured), "
                f"{len(failures)} failures; parsed {mut['ok'] + prop['ok']:,}, refused "
                f"{mut['refused'] + prop['refused']:,} with DigitlabError; deadline "
                f"{fz.DEADLINE_MS / 1000:g} s, traced memory <= 8-64x input + 64 MB")
        if failures:
            note += f"; FAILED: {failures[0]}"
        rows.append(_row(f"fuzz: {name}", time.perf_counter() - t0, cases, note))
    return rows


def run(quick: bool = False) -> list[dict]:
    """Rows for BENCHMARKS.md's reliability section."""
    return [corpus_row()] + fuzz_rows(quick)


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['case']}: {row['iterations']} in {row['seconds']} s; {row['notes']}")

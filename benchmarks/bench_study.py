"""Wall time of ``digitlab study`` end to end, as a user runs it, against the same study with its
trainings one at a time.

A fresh ``digitlab study [--quick] --json`` process in an empty folder (imports, loading MNIST,
every fit, cross-validation, figure and the report included); its peak RSS is read from the
children's rusage. The baseline, ``python -m benchmarks._one_at_a_time study``, is the same
study with each training fitted and evaluated in turn, as before the scheduler (issue 14 §3);
the two alternate, so a noisy machine slows both alike, and the medians are reported. Targets on
two cores (issue 14): full study <= 35 s, ``--quick`` <= 10 s. The timeline of the median full
run (what ran when, in which process) is a section of its own.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECTION = "digitlab study, end to end"
TIMELINE = "digitlab study: timeline of the full run (median)"
BASELINE = "one training at a time"


def _study(quick: bool, one_at_a_time: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["-m", "benchmarks._one_at_a_time"] if one_at_a_time else ["-m", "digitlab"]
        args = [sys.executable, *cmd, "study", "--json"] + (["--quick"] if quick else [])
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(err.decode()[-800:])
        d = json.loads(out)
        assert (Path(tmp) / "report.html").is_file()
    return {"wall": wall, "study": d}


def _timeline_rows(study: dict) -> list[dict]:
    rows = []
    for s in study["timeline"]:
        wall = s["end"] - s["start"]
        rows.append({"section": TIMELINE, "case": s["what"], "seconds": round(wall, 1),
                     "notes": f"{s['where']}: {s['start']:.1f}–{s['end']:.1f} s; CPU {s['cpu']:.1f} s"
                              + (f" ({s['cpu'] / wall:.2f} of a core)" if wall >= 0.5 else "")})
    return rows


def run(quick: bool) -> list[dict]:
    import resource

    rows = []
    for q, pairs in ([(True, 3)] if quick else [(False, 2), (True, 3)]):
        new, old, peak = [], [], 0
        for _ in range(pairs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            new.append(_study(q, one_at_a_time=False))
            after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest process so far
            peak = max(peak, after) if after > before else peak
            old.append(_study(q, one_at_a_time=True))
        walls, base = [r["wall"] for r in new], [r["wall"] for r in old]
        med, med_base = statistics.median(walls), statistics.median(base)
        middle = sorted(new, key=lambda r: r["wall"])[len(new) // 2]
        target = 10 if q else 35
        cpu = sum(s["cpu"] for s in middle["study"]["timeline"])
        lr = middle["study"]["runs"]["logreg"]
        rows.append({
            "section": SECTION, "case": "digitlab study --quick" if q else "digitlab study (full MNIST)",
            "seconds": round(med, 1), "peak_rss_mb": round(peak / 1024, 0) if peak else None,
            "accuracy": lr.get("test_accuracy"), "baseline": BASELINE, "ratio": round(med_base / med, 2),
            "notes": (f"target <= {target} s: {'met' if med <= target else 'NOT met'}; median of {pairs} "
                      f"({', '.join(f'{w:.1f}' for w in walls)} s), {BASELINE}: median "
                      f"{med_base:.1f} s ({', '.join(f'{w:.1f}' for w in base)} s), alternating; CPU of the "
                      f"median run's steps {cpu:.0f} s (its floor on 2 cores: {cpu / 2:.0f} s); load average "
                      f"{os.getloadavg()[0]:.1f}; accuracy = the logreg step's test accuracy"),
        })
        if not q:
            rows += _timeline_rows(middle["study"])
    return rows


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))

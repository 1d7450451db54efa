"""Wall time of ``digitlab study`` end to end, as a user runs it.

A fresh ``digitlab study [--quick] --json`` process in an empty folder (imports, loading MNIST,
every fit, cross-validation, figure and the report included); its peak RSS is read with
``os.wait4``. Targets on two cores: full study <= 60 s (issue 4; issue 3 asks < 3 min),
``--quick`` < 30 s. One run each: the study is long, and its step timings are in the notes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECTION = "digitlab study, end to end"


def _study(quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "digitlab", "study", "--json"] + (["--quick"] if quick else [])
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(err.decode()[-800:])
        d = json.loads(out)
        assert (Path(tmp) / "report.html").is_file()
    return {"wall": wall, "study": d}


def run(quick: bool) -> list[dict]:
    import resource

    rows = []
    for q in ([True] if quick else [False, True]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        r = _study(q)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        target = 30 if q else 60
        steps = ", ".join(f"{k.split(':')[0]} {v:.1f} s" for k, v in r["study"]["timings"].items())
        lr = r["study"]["runs"]["logreg"]
        rows.append({
            "section": SECTION, "case": "digitlab study --quick" if q else "digitlab study (full MNIST)",
            "seconds": round(r["wall"], 1), "peak_rss_mb": round(peak / 1024, 0) if peak > before else None,
            "iterations": None, "accuracy": lr.get("test_accuracy"), "baseline": None, "ratio": None,
            "notes": (f"target <= {target} s: {'met' if r['wall'] <= target else 'NOT met'}; load average "
                      f"{os.getloadavg()[0]:.1f}; steps: {steps}; accuracy = the logreg step's test accuracy"),
        })
    return rows


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))

"""digitlab in Jupyter: ``import digitlab`` in a fresh process, and ``digitlab notebook --execute``.

``import digitlab`` is what every notebook's first cell pays: the median of 7 fresh processes
(``python -c "import digitlab"``), against ``python -c "pass"`` in the same run; target <= 0.3 s.
``digitlab notebook [--quick] --execute`` is measured end to end in an empty folder as a user runs
it, kernel start included: targets <= 45 s (quick) and <= 90 s (full MNIST). One run each.
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

SECTION = "digitlab in Jupyter"


def _fresh(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def _import_row() -> dict:
    base = statistics.median(_fresh("pass") for _ in range(7))
    ours = statistics.median(_fresh("import digitlab") for _ in range(7))
    return {"section": SECTION, "case": "import digitlab (fresh process)", "seconds": round(ours, 3),
            "baseline": round(base, 3), "ratio": None,
            "notes": (f"target <= 0.3 s: {'met' if ours <= 0.3 else 'NOT met'}; baseline = python -c pass; "
                      f"median of 7; load average {os.getloadavg()[0]:.1f}")}


def _notebook_row(quick: bool) -> dict:
    target = 45 if quick else 90
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "digitlab", "notebook", "--execute", "-o", "study.ipynb",
                *(["--quick"] if quick else [])]
        t0 = time.perf_counter()
        proc = subprocess.run(args, cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-800:])
        size = (Path(tmp) / "study.ipynb").stat().st_size
    return {"section": SECTION,
            "case": f"digitlab notebook{' --quick' if quick else ''} --execute ({'6,000 images' if quick else 'full MNIST'})",
            "seconds": round(wall, 1),
            "notes": (f"target <= {target} s: {'met' if wall <= target else 'NOT met'}; kernel start included; "
                      f"saved notebook {size / 1e6:.1f} MB; load average {os.getloadavg()[0]:.1f}")}


def run(quick: bool) -> list[dict]:
    rows = [_import_row(), _notebook_row(True)]
    if not quick:
        rows.append(_notebook_row(False))
    return rows


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))

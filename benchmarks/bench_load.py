"""Time and peak memory of a fresh process that loads MNIST.

Each case starts a new Python process (interpreter start-up and imports included, as a user
running ``digitlab`` pays them), waits for it with ``os.wait4`` for its CPU time, reads the peak RSS it reports,
and reports the median of several runs.

Cases:

* ``load mnist from cache``: the cache holds uncompressed IDX, as ``digitlab data import`` (run
  first, into a temp cache) and downloads leave it. Targets: <= 0.5 s and <= 150 MB peak RSS.
* ``load mnist from gz data dir``: the four ``.gz`` files, inflated on every load.
* ``baseline: python + numpy``: what any process pays before digitlab does anything.

``run(quick)`` returns rows for the ``python -m benchmarks`` driver; ``python benchmarks/bench_load.py``
prints them.
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

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.5
TARGET_RSS_MB = 150.0

_LOAD = """
import time
t0 = time.perf_counter()
from digitlab import datasets
ds = datasets.load("mnist", download=False, progress=False)
assert len(ds) == 70000 and ds.verified, ds
print(time.perf_counter() - t0, _hwm())
"""
# The child reports its own peak RSS (VmHWM): ru_maxrss of a forked child starts at the parent's
# RSS, so a driver process that holds big arrays would inflate it.
_HWM = """
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
"""
_LOAD = _HWM + _LOAD
_BASELINE = _HWM + "import numpy; print(0.0, _hwm())"


def mnist_dir() -> Path | None:
    """The four MNIST .gz files: ``$DIGITLAB_DATA_DIR`` or ``../shared/data/mnist``."""
    env = os.environ.get("DIGITLAB_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data" / "mnist"]:
        if (cand / "train-images-idx3-ubyte.gz").is_file():
            return cand
    return None


def measure_process(args: list[str], env: dict, runs: int) -> tuple[float, float, float, float]:
    """Medians of *runs* runs: wall seconds, peak RSS (MB), in-process seconds, CPU seconds.

    CPU seconds (user + system) say how much work the load is when other jobs share the cores
    and stretch the wall time.

    The child prints its own in-process time on stdout (imports + work, no interpreter start-up).
    Each child is reaped with ``os.wait4``, whose rusage (CPU) is that child's alone; the child
    prints its own peak RSS (``VmHWM``).
    """
    walls, rss, inner, cpu = [], [], [], []
    for _ in range(runs):
        with tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=err)
            out = proc.stdout.read()  # EOF when the child exits; wait4 below reaps it
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - t0)
            proc.stdout.close()
            proc.returncode = code = os.waitstatus_to_exitcode(status)
            if code != 0:
                err.seek(0)
                raise RuntimeError(f"benchmark child exited {code}: {err.read().decode()[-500:]}")
        secs, hwm = out.decode().strip().splitlines()[-1].split()
        rss.append(float(hwm))
        inner.append(float(secs))
        cpu.append(usage.ru_utime + usage.ru_stime)
    med = statistics.median
    return med(walls), med(rss), med(inner), med(cpu)


def run(quick: bool = False) -> list[dict]:
    """Measure the load cases; rows are ``{case, seconds, peak_rss_mb, notes}``.

    Parameters
    ----------
    quick : bool, default=False
        3 runs per case instead of 5.
    """
    runs = 3 if quick else 5
    src = mnist_dir()
    if src is None:
        note = "skipped: MNIST .gz files not found (set DIGITLAB_DATA_DIR)"
        return [{"case": c, "seconds": None, "peak_rss_mb": None, "notes": note}
                for c in ("load mnist from cache", "load mnist from gz data dir")]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITLAB_")}
    base_env["PYTHONDONTWRITEBYTECODE"] = "1"
    rows = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="digitlab-bench-") as tmp:
        cache = Path(tmp) / "cache"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "digitlab", "data", "import", str(src), "--cache-dir", str(cache)],
                       env=base_env, check=True, capture_output=True)
        import_s = time.perf_counter() - t0
        cases = [
            ("load mnist from cache", _LOAD, dict(base_env, DIGITLAB_CACHE_DIR=str(cache)),
             f"uncompressed IDX made by `digitlab data import` ({import_s:.1f} s, once); "
             f"targets <= {TARGET_SECONDS} s, <= {TARGET_RSS_MB:.0f} MB"),
            ("load mnist from gz data dir", _LOAD,
             dict(base_env, DIGITLAB_DATA_DIR=str(src), DIGITLAB_CACHE_DIR=str(Path(tmp) / "empty")),
             "the four .gz files, inflated on each load"),
            ("baseline: python + numpy", _BASELINE, base_env, "interpreter start-up and `import numpy` only"),
        ]
        for case, code, env, notes in cases:
            wall, rss, inner, cpu = measure_process([sys.executable, "-c", code], env, runs)
            notes += f"; CPU {cpu:.2f} s"
            if code is _LOAD:
                notes += f"; in-process (imports + load) {inner:.2f} s"
                if case.endswith("cache"):
                    ok = wall <= TARGET_SECONDS and rss <= TARGET_RSS_MB
                    notes += "; meets targets" if ok else "; MISSES a target"
            if load is not None:
                notes += f"; load average {load:.1f} on {os.cpu_count()} cores"
            rows.append({"case": case, "seconds": round(wall, 3), "peak_rss_mb": round(rss, 1),
                         "notes": f"median of {runs} fresh processes; {notes}"})
    return rows


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    results = run(quick=quick)
    if "--json" in sys.argv[1:]:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            secs = "-" if r["seconds"] is None else f"{r['seconds']:.3f} s"
            rss = "-" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.1f} MB"
            print(f"{r['case']:<30} {secs:>9} {rss:>10}  {r['notes']}")

"""Start-up: how long a person waits for a command that does almost no work (issue 14 §1).

Each case starts fresh processes (interpreter start-up and imports included, as a user running
``digitlab`` pays them) and reports the median wall time, with the median CPU time of the child
(``os.wait4``): on a busy machine the wall time stretches, the CPU time much less. The floor is
``python -c "import numpy"``, measured in the same run. Bytecode is compiled and cached (in a
temporary ``PYTHONPYCACHEPREFIX``) by one untimed run of each command first, as it is for a user
from the second run on (an installed package has it from the start).

Targets (quiet 2-core machine): ``digitlab predict RUN one.png`` <= 1.0 s; ``digitlab --help``,
``runs`` and ``models`` <= 0.3 s; ``import digitlab`` <= 0.3 s; ``digitlab serve`` answers its first
request <= 3 s after start. The run is a ``logreg`` on MNIST (3,000 training images: the model file
is the same size as a full run's).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks import ROOT, mnist_dir

SECTION = "start-up (fresh processes)"
TARGETS = {"predict": 1.0, "help": 0.3, "runs": 0.3, "models": 0.3, "import": 0.3, "serve": 3.0}


def time_command(args: list[str], env: dict, runs: int) -> tuple[float, float]:
    """Medians of *runs* runs of *args*: wall seconds and the child's CPU seconds."""
    walls, cpu = [], []
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)  # warm-up
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - t0)
        proc.stderr.close()
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise RuntimeError(f"{' '.join(args[2:])} exited {code}: {err.decode()[-300:]}")
        cpu.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), statistics.median(cpu)


def time_serve(run_dir: Path, env: dict, runs: int) -> float:
    """Median seconds from starting ``digitlab serve RUN --port 0`` to its first 200 on ``/``."""
    waits = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "digitlab", "serve", str(run_dir), "--port", "0"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            port = None
            while port is None:
                line = proc.stderr.readline()
                if not line:
                    raise RuntimeError(f"serve exited {proc.wait()} before listening")
                m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
                port = int(m.group(1)) if m else None
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.02)
            waits.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            proc.stderr.close()
    return statistics.median(waits)


def run(quick: bool = False) -> list[dict]:
    runs = 3 if quick else 7
    data = mnist_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITLAB_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])))
    if data is None:
        return [{"section": SECTION, "case": "start-up", "notes": "skipped: MNIST files not found"}]
    py = sys.executable
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="digitlab-bench-") as tmp:
        env["DIGITLAB_CACHE_DIR"] = str(Path(tmp) / "cache")
        # compiled bytecode as a user has it after the first run (an installed package has it from
        # the start), kept out of the repository; without it every run compiles digitlab's ~40
        # modules again (~30 ms). Each command runs once untimed first to write it.
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        runs_dir = Path(tmp) / "runs"
        subprocess.run([py, "-m", "digitlab", "train", "--dataset", "mnist", "--data-dir", str(data), "--limit",
                        "3000", "--cv", "0", "--runs-dir", str(runs_dir)], env=env, check=True,
                       capture_output=True, cwd=ROOT)
        run_dir = next(p for p in runs_dir.iterdir() if p.is_dir())
        from PIL import Image

        digit = Path(tmp) / "one.png"
        Image.new("L", (28, 28), 0).save(digit)  # drawn below: a vertical stroke, a "1"
        img = Image.open(digit)
        for y in range(5, 23):
            img.putpixel((14, y), 255)
        img.save(digit)
        cases = [
            ("baseline: python -c 'import numpy'", None, [py, "-c", "import numpy"]),
            ("python -c 'import digitlab'", "import", [py, "-c", "import digitlab"]),
            ("digitlab --help", "help", [py, "-m", "digitlab", "--help"]),
            ("digitlab models", "models", [py, "-m", "digitlab", "models"]),
            ("digitlab runs", "runs", [py, "-m", "digitlab", "runs", "--runs-dir", str(runs_dir)]),
            ("digitlab predict RUN one.png (logreg)", "predict", [py, "-m", "digitlab", "predict", str(run_dir),
                                                                 str(digit)]),
        ]
        floor = None
        for case, key, args in cases:
            wall, cpu = time_command(args, env, runs)
            floor = floor if floor is not None else wall
            notes = f"median of {runs} fresh processes; CPU {cpu:.2f} s"
            if key:
                notes += (f"; {wall - floor:+.2f} s over the numpy floor; target <= {TARGETS[key]} s: "
                          + ("met" if wall <= TARGETS[key] else "NOT met"))
            rows.append({"section": SECTION, "case": case, "seconds": round(wall, 3),
                         "notes": notes + f"; load average {load:.1f} on {os.cpu_count()} cores"})
        wall = time_serve(run_dir, env, max(3, runs // 2))
        rows.append({"section": SECTION, "case": "digitlab serve RUN: first 200 on /", "seconds": round(wall, 3),
                     "notes": f"median of {max(3, runs // 2)} starts, from spawn to the first answer; target <= "
                              f"{TARGETS['serve']} s: " + ("met" if wall <= TARGETS["serve"] else "NOT met")
                              + f"; load average {load:.1f} on {os.cpu_count()} cores"})
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv[1:]):
        print(f"{r['case']:<45} {r.get('seconds') or '-':>8}  {r['notes']}")

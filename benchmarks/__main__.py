"""``python -m benchmarks [--quick] [--only NAME ...]``: run bench_*.py, rewrite BENCHMARKS.md/.json.

Results of modules not run this time (``--only``) are kept from the previous BENCHMARKS.json, so
the report always shows every module, each with the date and mode (quick or full) it was run in.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from . import EXTRA_COLUMNS, ROOT, ROW_KEYS

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Names of the bench modules (``bench_logreg.py`` -> ``logreg``), sorted."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def machine_info() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split()
        info["memory_gb"] = round(int(mem[mem.index("MemTotal:") + 1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    versions = {}
    for name in ("numpy", "scipy", "sklearn", "skops", "torch", "digitlab"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception:  # noqa: BLE001 - optional libraries
            versions[name] = None
    info["versions"] = versions
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = sorted({f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                               for i in threadpool_info()})
    except Exception:  # noqa: BLE001
        pass
    return info


def run_module(name: str, quick: bool) -> list[dict]:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    rows = module.run(quick)
    return [{k: row.get(k) for k in ROW_KEYS} | {k: v for k, v in row.items() if k not in ROW_KEYS}
            for row in rows]


def _fmt(value, key):
    if value is None:
        return ""
    if key == "ratio":
        return f"{value:.1f}×" if value >= 1.95 else f"{value:.2f}×"
    if key in ("accuracy", *EXTRA_COLUMNS) and isinstance(value, float):
        return f"{value:.4f}"
    if key == "seconds" and isinstance(value, (int, float)):
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if key == "iterations" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def render(report: dict) -> str:
    m = report["machine"]
    v = m.get("versions", {})
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m benchmarks` (`make bench`; `--quick` for a reduced set, `--only NAME` for",
        "one module). Do not edit by hand. Cases run in their own process where the notes do not",
        "say otherwise (peak RSS is that process's high-water mark, `VmHWM`, data loading included);",
        "seconds are medians of the runs noted. Baselines are measured in the same run: the machine",
        "is shared, so ratios are what count and absolute seconds are context. In `bench_logreg.py`,",
        "`bench_predict.py` and `bench_ladder.py`, **ratio** = baseline seconds / case seconds (a",
        "speed-up); other modules say in their notes how they define it.",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} CPUs, {m.get('memory_gb', '?')} GB; {m.get('platform')}.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + f", python {m.get('python')}.",
    ]
    if m.get("blas"):
        lines.append("BLAS: " + "; ".join(m["blas"]) + ".")
    sections: dict[str, list] = {}
    stamps: dict[str, set] = {}
    for name, mod in sorted(report["modules"].items()):
        for row in mod["rows"]:
            sec = row.get("section") or name
            sections.setdefault(sec, []).append(row)
            stamps.setdefault(sec, set()).add(f"`bench_{name}.py`, {mod['mode']} run of {mod['date']}")
    order = sorted(sections, key=lambda s: (s == "reliability", 0))
    for sec in order:
        extra = [k for k in EXTRA_COLUMNS if any(row.get(k) is not None for row in sections[sec])]
        headers = ["case", "seconds", "peak RSS (MB)", "iterations", "accuracy", "baseline", "ratio",
                   *(EXTRA_COLUMNS[k] for k in extra), "notes"]
        keys = ["case", "seconds", "peak_rss_mb", "iterations", "accuracy", "baseline", "ratio", *extra, "notes"]
        lines += ["", f"## {sec}", "", "From " + "; ".join(sorted(stamps[sec])) + ".", "",
                  "| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        for row in sections[sec]:
            lines.append("| " + " | ".join(_fmt(row.get(k), k) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced set of cases (under 3 minutes)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only these modules (repeatable); known: {', '.join(discover())}")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md",
                        help="report to write; the JSON goes beside it (default: BENCHMARKS.md)")
    args = parser.parse_args(argv)
    names = discover()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"--only: unknown module(s) {', '.join(unknown)}; known: {', '.join(names)}")
        names = [n for n in names if n in args.only]
    json_path = args.out.with_suffix(".json")
    report = {"machine": machine_info(), "modules": {}}
    if json_path.exists():
        try:
            report["modules"] = json.loads(json_path.read_text())["modules"]
        except (ValueError, KeyError):
            pass
    mode = "quick" if args.quick else "full"
    for name in names:
        t0 = time.perf_counter()
        print(f"[benchmarks] {name} ({mode}) …", file=sys.stderr, flush=True)
        try:
            rows = run_module(name, args.quick)
        except Exception as exc:  # noqa: BLE001 - one broken module must not lose the others
            traceback.print_exc()
            rows = [dict.fromkeys(ROW_KEYS) | {"section": name, "case": f"bench_{name}.py",
                                               "notes": f"failed: {type(exc).__name__}: {exc}"}]
        report["modules"][name] = {"mode": mode, "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                                   "wall_seconds": round(time.perf_counter() - t0, 1), "rows": rows}
        print(f"[benchmarks] {name}: {len(rows)} rows in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
        # written after every module: a long run interrupted late still leaves its results
        json_path.write_text(json.dumps(report, indent=1, default=str) + "\n")
        args.out.write_text(render(report))
    print(f"[benchmarks] wrote {args.out} and {json_path.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

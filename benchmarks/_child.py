"""Child process of :func:`benchmarks.run_case`: run one case, print a JSON line."""

import importlib
import json
import resource
import sys


def main(spec: str) -> None:
    spec = json.loads(spec)
    module, _, name = spec["target"].partition(":")
    fn = getattr(importlib.import_module(module), name)
    runs = [fn(**spec["kwargs"]) for _ in range(spec["repeats"])]
    print(json.dumps({"runs": runs, "peak_rss_mb": round(peak_rss_mb(), 1)}))


def peak_rss_mb() -> float:
    """This process's peak RSS. On Linux ``VmHWM`` of the process's own memory map: ru_maxrss
    would also count the parent's RSS at fork time (the kernel carries it across exec), so a
    child of a 1 GB benchmark driver could never report less than 1 GB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


if __name__ == "__main__":
    main(sys.argv[1])

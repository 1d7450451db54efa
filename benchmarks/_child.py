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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"runs": runs, "peak_rss_mb": round(peak, 1)}))


if __name__ == "__main__":
    main(sys.argv[1])

"""``python -m benchmarks._one_at_a_time study ...``: ``digitlab study ...`` with its trainings run
one after the other, each fitted as ``train`` fits it (its own pool for the CV ones), and nothing
alongside: the study as it ran before :mod:`digitlab.scheduling`, the baseline of bench_study."""

from __future__ import annotations

import runpy
import sys

import numpy as np

from digitlab import scheduling
from digitlab._workers import cores, run_parallel
from digitlab.evaluation.cv import SMALL_DATA


class OneAtATime(scheduling.Schedule):
    def __enter__(self):
        import time
        from contextlib import ExitStack

        self.t0, self._writers, self.writers = time.perf_counter(), ExitStack(), {}
        for key, (label, t) in self.trainings.items():
            self.board.start(key, label, of=len(t.calls), unit="fits", then="evaluating")
        return self

    def finish_all(self) -> dict:
        runs = {}
        for key, (_, t) in self.trainings.items():
            self.writers[key] = self._writers.enter_context(t.writer())  # as train(): before its fits
            if t.pooled:
                # the pool train() had before the scheduler: one worker per fit, up to two per core
                n = 1 if np.asarray(t.X_train).size < SMALL_DATA else min(len(t.calls), 2 * cores())
                with self.timeline.span(f"{key}: fits (a pool of {n} workers)"):
                    out = run_parallel(t.calls, n)
            else:
                with self.timeline.span(f"{key}: fit"):
                    out = [t.fit_here()]
            runs[key] = self._finish(key, out)
        return runs

    def __exit__(self, *exc):
        return self._writers.__exit__(*exc)


class NoWarmUp:
    def __init__(self, *args):
        pass

    def wait(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    scheduling.Schedule, scheduling.WarmPool = OneAtATime, NoWarmUp
    sys.argv = ["digitlab", *sys.argv[1:]]
    runpy.run_module("digitlab", run_name="__main__", alter_sys=True)

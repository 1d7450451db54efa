"""One live status line per long step: rich's spinner in a terminal, one updated output in Jupyter.

Tried in a real kernel (nbclient + ipykernel 7): rich's ``Console.status`` there needs ipywidgets,
and without them it leaves an empty output and a warning per refresh in the saved notebook;
tqdm.auto needs ipywidgets too, and a widget saves as a view that headless runs and GitHub show
as nothing. IPython's own ``display(..., display_id=True)`` + ``update`` needs nothing more: the
kernel replaces the output in place, so a live notebook shows one changing line per cell and a
saved one (nbclient applies the updates) keeps the final lines only.
"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from contextvars import ContextVar

from ._text import markup, safe


def in_jupyter() -> bool:
    """True inside a Jupyter kernel (never imports IPython when it is not loaded already)."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    ip = sys.modules["IPython"].get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


# The status line of the step running in this context, for work deep inside it (a CNN's epochs)
# to report into with :func:`report` without being handed it.
_current: ContextVar = ContextVar("digitlab_status", default=None)


def status(enabled: bool, label: str):
    """A context manager showing *label* while its block runs; ``.update(text)``, or
    :func:`report` from anything the block calls, adds *text* after the label. Nothing when not
    *enabled*."""
    if not enabled:
        return nullcontext()
    if in_jupyter():
        return _Reporting(_CellStatus(safe(label)), label, safe)
    from rich.console import Console

    return _Reporting(Console(stderr=True).status(f"{markup(label)} …", spinner="dots"), label, markup)


def report(text: str) -> None:
    """Show *text* (``epoch 3/5, loss 0.1234``) on the running step's status line, if there is one."""
    line = _current.get()
    if line is not None:
        line.update(text)


class _Reporting:
    """A status display that :func:`report` reaches while its block runs; *clean* makes user
    data (a class name in a label) printable on it."""

    def __init__(self, display, label: str, clean):
        self.display, self.label, self.clean = display, label, clean

    def __enter__(self):
        self.display.__enter__()
        self._token = _current.set(self)
        return self

    def update(self, text: str) -> None:
        self.display.update(self.clean(f"{self.label}: {text.rstrip(' …')}") + " …")

    def __exit__(self, *exc):
        _current.reset(self._token)
        return self.display.__exit__(*exc)


class _CellStatus:
    """The steps of one notebook cell in a single output: finished steps with their time, then
    the running one."""

    _cell: tuple | None = None  # (execution count, display handle, finished lines) of the current cell

    def __init__(self, label: str):
        self.label = label

    def _lines(self) -> list:
        from IPython import get_ipython

        count = get_ipython().execution_count
        cell = _CellStatus._cell
        if cell is None or cell[0] != count:
            from IPython.display import display

            handle = display({"text/plain": ""}, raw=True, display_id=True)
            cell = _CellStatus._cell = (count, handle, [])
        return cell

    def _show(self, current: str | None) -> None:
        _, handle, done = self._cell_state
        text = "\n".join(done + ([f"… {current}"] if current else []))
        handle.update({"text/plain": text}, raw=True)

    def __enter__(self):
        self._cell_state = self._lines()
        self.t0 = time.perf_counter()
        self._show(self.label)
        return self

    def update(self, text: str) -> None:
        self._show(text.rstrip(" …"))

    def __exit__(self, exc_type, *exc):
        mark = "✓" if exc_type is None else ("✗ interrupted:" if issubclass(exc_type, KeyboardInterrupt) else "✗")
        self._cell_state[2].append(f"{mark} {self.label} ({time.perf_counter() - self.t0:.1f} s)")
        self._show(None)
        return False


class CellBar:
    """A download bar in pooch's protocol (``total``, ``update``, ``reset``, ``close``) for
    Jupyter: one output, redrawn at most 4 times a second, ending with the size and time."""

    def __init__(self, label: str):
        self.label, self.total, self.n = label, 0, 0
        self.t0 = self._shown = 0.0
        self.handle = None

    def _text(self, done: bool = False) -> str:
        mb = self.n / 1e6
        if done:
            return f"✓ {self.label} ({mb:.1f} MB, {time.perf_counter() - self.t0:.1f} s)"
        pct = f"{100 * self.n / self.total:3.0f}% " if self.total else ""
        return f"… {self.label}: {pct}{mb:.1f} MB"

    def update(self, n: int) -> None:
        from IPython.display import display

        if self.handle is None:
            self.t0 = time.perf_counter()
            self.handle = display({"text/plain": self._text()}, raw=True, display_id=True)
        self.n += n
        now = time.perf_counter()
        if now - self._shown >= 0.25:
            self._shown = now
            self.handle.update({"text/plain": self._text()}, raw=True)

    def reset(self) -> None:
        self.n = 0

    def close(self) -> None:
        if self.handle is not None:
            self.handle.update({"text/plain": self._text(done=True)}, raw=True)


def bar(enabled: bool, label: str):
    """:class:`CellBar` in Jupyter; ``None`` elsewhere (the caller keeps its terminal bar)."""
    return CellBar(label) if enabled and in_jupyter() else None


class Board:
    """Several steps running at once (``digitlab study``): one line per running step with what it
    has done (``2/4 fits``), and a ``✓ label (12.3 s)`` line as each ends, in the order they end.

    A terminal gets rich's live :class:`~rich.progress.Progress` on stderr; Jupyter one output
    updated in place, as :class:`_CellStatus`; nothing when not *enabled*. Steps are named by a
    key; every method is called from one thread.
    """

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.k = enabled, total, 0
        self.steps: dict = {}  # key -> [label, t0, done, of, unit, then, (rich task id)]
        self.finished: list = []  # "✓ [k/total] label (s)" lines (Jupyter)
        self.timings: dict = {}  # label -> wall seconds from start to end
        self.timings_keys: dict = {}  # key -> label as given
        self._live = self._handle = None

    def __enter__(self):
        if self.enabled and in_jupyter():
            from IPython.display import display

            self._handle = display({"text/plain": ""}, raw=True, display_id=True)
        elif self.enabled:
            from rich.console import Console
            from rich.progress import (
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._live = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  TextColumn("[dim]{task.fields[count]}"), TimeElapsedColumn(),
                                  console=Console(stderr=True, highlight=False), transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)
        elif self._handle is not None and exc[0] is not None:
            for label, *_ in self.steps.values():
                self.finished.append(f"✗ {label} (stopped)")
            self._handle.update({"text/plain": "\n".join(self.finished)}, raw=True)
        return False

    def start(self, key, label: str, of: int = 0, unit: str = "", then: str = "") -> None:
        """A step begins; *of* > 0 counts its parts (``advance``) as ``done/of unit``, and *then*
        is shown once all are done (what the step does after them)."""
        self.k += 1
        self.timings_keys[key] = label
        # a label names user data (the detector's class): shown escaped, plain text in Jupyter
        label = f"[{self.k}/{self.total}] {safe(label)}"
        self.steps[key] = [label, time.perf_counter(), 0, of, unit, then]
        if self._live is not None:
            self.steps[key].append(self._live.add_task(markup(label), count=self._count(key)))
        self._show()

    def advance(self, key, n: int = 1) -> None:
        self.steps[key][2] += n
        if self._live is not None:
            self._live.update(self.steps[key][6], count=self._count(key))
        self._show()

    def end(self, key) -> float:
        """The step is over: its line becomes a ✓ line; returns its wall seconds."""
        step = self.steps.pop(key)
        label, dt = step[0], time.perf_counter() - step[1]
        self.timings[self.timings_keys.pop(key)] = round(dt, 2)
        line = f"✓ {label}  ({dt:.1f} s)"
        if self._live is not None:
            self._live.remove_task(step[6])
            self._live.console.print(f"[green]✓[/] {markup(label)}  [dim]{dt:.1f} s[/]")
        self.finished.append(line)
        self._show()
        return dt

    def _count(self, key) -> str:
        _, _, done, of, unit, then = self.steps[key][:6]
        return then if then and done >= of else f"{done}/{of} {unit}" if of else ""

    def _show(self) -> None:
        if self._handle is None:
            return
        running = [f"… {label}" + (f"  {self._count(k)}" if self._count(k) else "")
                   for k, (label, *_) in self.steps.items()]
        self._handle.update({"text/plain": "\n".join(self.finished + running)}, raw=True)

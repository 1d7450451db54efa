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


def in_jupyter() -> bool:
    """True inside a Jupyter kernel (never imports IPython when it is not loaded already)."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    ip = sys.modules["IPython"].get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def status(enabled: bool, label: str):
    """A context manager showing *label* while its block runs (``.update(text)`` changes the text);
    nothing when not *enabled*."""
    if not enabled:
        return nullcontext()
    if in_jupyter():
        return _CellStatus(label)
    from rich.console import Console

    return Console(stderr=True).status(f"{label} …", spinner="dots")


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

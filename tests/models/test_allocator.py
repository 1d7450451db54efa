"""keep_freed_memory: glibc keeps what a CNN fit frees for the next step, and gives it back after."""

import ctypes
import threading

import pytest

from digitlab.models import _allocator
from digitlab.models._allocator import keep_freed_memory

libc = _allocator._libc()
glibc_only = pytest.mark.skipif(libc is None or not hasattr(libc, "mallinfo2"), reason="needs glibc >= 2.33")
BLOCK = 16 * 1024 * 1024  # above glibc's first mmap threshold (128 KiB), below its largest (32 MB)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


def _releasable():
    """Free bytes at the top of the main heap, which trimming would hand back to the system."""
    libc.mallinfo2.restype = _Mallinfo2
    return libc.mallinfo2().keepcost


def _malloc_and_free(size):
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    p = libc.malloc(size)
    assert p
    ctypes.memset(p, 1, size)  # touch it: the pages are really in the process
    libc.free(p)


@glibc_only
def test_freed_block_stays_in_the_heap_inside_and_is_returned_after():
    """Check a 16 MB block freed inside the block stays at the top of the heap for reuse (glibc's
    defaults would have mapped and unmapped it, or trimmed it), and leaving the block trims it."""
    with keep_freed_memory():
        _malloc_and_free(BLOCK)
        assert _releasable() >= BLOCK
    assert _releasable() < BLOCK


@glibc_only
def test_nested_and_concurrent_blocks_restore_once_the_last_one_leaves(monkeypatch):
    """Check the first block in sets glibc's knobs and only the last one out restores them, with
    threads entering and leaving in any order, and after an exception."""
    calls = []
    monkeypatch.setattr(_allocator, "_libc", lambda: _Recorder(calls))
    inside = threading.Barrier(3)
    leave = threading.Event()

    def worker():
        with keep_freed_memory():
            inside.wait()
            leave.wait()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    with pytest.raises(RuntimeError), keep_freed_memory():
        inside.wait()
        leave.set()
        for t in threads:
            t.join()
        assert calls == [("mallopt", _allocator.M_TRIM_THRESHOLD, _allocator.KEEP_TRIM),
                         ("mallopt", _allocator.M_MMAP_THRESHOLD, _allocator.MMAP_THRESHOLD)]
        raise RuntimeError("a fit that fails")
    assert calls[2:] == [("mallopt", _allocator.M_TRIM_THRESHOLD, _allocator.AFTER_TRIM), ("malloc_trim", 0)]
    assert _allocator._depth == 0


class _Recorder:
    def __init__(self, calls):
        self.calls = calls

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


def test_without_glibc_the_block_changes_nothing(monkeypatch):
    """Check on a C library without mallopt (musl, macOS) the block runs its body and nothing else."""
    monkeypatch.setattr(_allocator, "_libc", lambda: None)
    ran = []
    with keep_freed_memory():
        ran.append(1)
    assert ran == [1] and _allocator._depth == 0

"""Keep freed memory in the process while a CNN trains (glibc only; elsewhere a no-op).

Every training step frees its activations (a few MB per layer) and the next step allocates the
same sizes again. glibc's defaults hand such blocks back to the kernel (``mmap`` above its
threshold, heap trimming below it), so each step page-faults its memory in afresh. Measured on
``cnn-fast``, two epochs of 20,000 MNIST images, 4 runs each way alternating on the 2-core
machine of BENCHMARKS.md: 83,000 to 852,000 minor page faults and 10.0-12.6 s (median 10.8)
with glibc's defaults; 33,000 to 35,000 faults and 9.3-10.5 s (median 10.3) with this. Only
memory reuse changes, not arithmetic: a full cnn-fast fit scored 0.9942 either way.

PyTorch's CPU tuning guide fixes this by preloading jemalloc or tcmalloc; a Python library cannot
choose the allocator of the process it runs in, but it can set glibc's two documented knobs
(``mallopt``) for the length of a fit, which is what this does.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from contextlib import contextmanager

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameters (malloc.h)
# glibc's largest mmap threshold on 64-bit: blocks below it come from the heap
MMAP_THRESHOLD = 32 * 1024 * 1024
KEEP_TRIM = 1 << 30  # while training: keep up to 1 GiB of freed memory at the top of the heap
# afterwards: twice the mmap threshold, as glibc's own dynamic thresholds set it. Setting either
# knob turns the dynamic adjustment off for good, so the block leaves the state glibc reaches by
# itself after freeing a 32 MB array (128 KiB, its starting point, would send every numpy array
# over 128 KiB back to mmap and page faults for the rest of the process)
AFTER_TRIM = 2 * MMAP_THRESHOLD

_lock = threading.Lock()
_depth = 0


@functools.cache
def _libc():
    """glibc, or None (musl, macOS, Windows: their allocators have other knobs)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
        libc = ctypes.CDLL(None)  # the C library this process already runs on
    except (AttributeError, ValueError, OSError):
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc


@contextmanager
def keep_freed_memory():
    """Within the block, freed memory stays in the process for the next allocation; afterwards
    what the block freed is returned to the system.

    Nested or concurrent blocks (threads) share one setting: the first in sets it, the last out
    restores it.
    """
    global _depth
    libc = _libc()
    if libc is None:
        yield
        return
    with _lock:
        if _depth == 0:
            libc.mallopt(M_TRIM_THRESHOLD, KEEP_TRIM)
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(M_TRIM_THRESHOLD, AFTER_TRIM)
                libc.malloc_trim(0)

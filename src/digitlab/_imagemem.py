"""The memory an image decode takes: estimated before decoding, shared under a budget, given back.

Pillow decodes a whole image into memory at once, so a 150 KB PNG can ask for 160 MB, and the
decoders of some formats hold more than the image itself. :func:`decode_bytes` estimates what a
decode will hold from the header alone (measured per format, see ``DECODER_FACTOR``);
:class:`DecodeBudget` lets threads decode concurrently only while their estimates fit in one
pool; :func:`shrink` reduces a decoded image band by band, so no full-size copy is made after
the decode; :func:`prefer_mmap` makes glibc give freed image buffers back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from contextlib import contextmanager

import numpy as np

# Bytes a decoder holds per byte of the decoded image, measured with Pillow 13 (peak RSS of
# open + load over the image's size): WebP 4.2 (libwebp decodes into its own canvas, which Pillow
# copies through a bytes object); BMP up to 2 (the RLE decoders build the pixels in a bytearray
# first; 1.05 uncompressed); PNG, GIF and baseline JPEG 1.
DECODER_FACTOR = {"WEBP": 4.5, "BMP": 2.0}
WORK_BYTES_PER_PIXEL = 24  # float32 grey, ink and mask copies made while preprocessing the reduced image
BAND_BYTES = 4 * 2**20  # rows converted and reduced at a time by shrink()


class BudgetBusy(RuntimeError):
    """Too many decodes are already waiting for the budget."""


def pixel_bytes(mode: str) -> int:
    """Bytes per pixel in Pillow's storage: 1 for "L"/"P"/"1", 2 for "I;16", 4 for "I"/"F" and
    every multi-band mode (RGB is stored as 4 bytes too)."""
    from PIL import ImageMode

    m = ImageMode.getmode(mode)
    return 4 if len(m.bands) > 1 else np.dtype(m.typestr).itemsize


def decode_bytes(img, data: bytes, full_size: tuple[int, int]) -> int:
    """Memory that ``img.load()`` will hold, from the header of the opened (not loaded) *img*.

    *full_size* is the size before a JPEG ``draft()``: a progressive JPEG, or one whose first scan
    does not hold every component, makes libjpeg keep every DCT coefficient of the full-size image
    (2 bytes each) whatever the output scale.
    """
    w, h = img.size
    need = w * h * pixel_bytes(img.mode) * DECODER_FACTOR.get(img.format, 1.0)
    if img.format in ("JPEG", "MPO") and jpeg_buffers_whole_image(data):
        fw, fh = full_size
        layers = getattr(img, "layer", None) or [(0, 1, 1, 0)] * len(img.getbands())
        hmax = max(lay[1] for lay in layers) or 1
        vmax = max(lay[2] for lay in layers) or 1
        for _, hs, vs, _ in layers:
            need += -(-fw * hs // (8 * hmax)) * -(-fh * vs // (8 * vmax)) * 64 * 2
    return int(need)


def work_bytes(size: tuple[int, int], side: int) -> int:
    """Memory for reducing an image of *size* to fit *side* (:func:`shrink`) and preprocessing it."""
    w, h = size
    scale = min(1.0, side / max(w, h))
    out = round(w * scale) * round(h * scale)
    wide = round(w * scale) * h * 4 + BAND_BYTES * 3 if scale < 1.0 else 0
    return wide + out * WORK_BYTES_PER_PIXEL


def jpeg_buffers_whole_image(data: bytes) -> bool:
    """Whether libjpeg decodes *data* through a whole-image coefficient buffer: the file is
    progressive, or its first scan does not carry every component (jdinput.c). Only the marker
    segments before the first scan are read; anything unexpected counts as "yes"."""
    i, ncomp, progressive = 2, None, False
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return True
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = (data[i + 2] << 8) | data[i + 3]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
            if i + 10 > len(data):
                return True
            progressive = marker in (0xC2, 0xC6, 0xCA, 0xCE)
            ncomp = data[i + 9]
        elif marker == 0xDA:  # first start of scan
            return progressive or ncomp is None or i + 5 > len(data) or data[i + 4] < ncomp
        i += 2 + length
    return True


class DecodeBudget:
    """Bytes that the image decodes of this process may hold at once, shared by threads.

    A decode reserves its estimate and waits while the pool cannot hold it; at most *max_waiting*
    decodes wait (more raise :class:`BudgetBusy`), so waiting decodes cannot take every worker
    thread. Reservations under *small* bytes (a drawing canvas) do not wait at all.
    """

    def __init__(self, total: int, *, small: int = 4 * 2**20, max_waiting: int = 16):
        self.total, self.small, self.max_waiting = total, small, max_waiting
        self.used = self.peak = self.waiting = 0
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int):
        if nbytes < self.small:
            yield
            return
        nbytes = min(nbytes, self.total)
        with self._cond:
            if self.used + nbytes > self.total:
                if self.waiting >= self.max_waiting:
                    raise BudgetBusy(f"{self.waiting} large images are waiting to be decoded")
                self.waiting += 1
                try:
                    self._cond.wait_for(lambda: self.used + nbytes <= self.total)
                finally:
                    self.waiting -= 1
            self.used += nbytes
            self.peak = max(self.peak, self.used)
        try:
            yield
        finally:
            with self._cond:
                self.used -= nbytes
                self._cond.notify_all()


def shrink(img, side: int):
    """*img* reduced to fit in *side* x *side* by area averaging (BOX), without a full-size copy.

    Pillow's ``resize`` would convert the whole image first (palette to RGBA, RGBA to
    premultiplied RGBa) and keep a second full-size buffer; here rows are converted and reduced
    across in bands, then the narrow result is reduced down. These are Pillow's own two passes
    (horizontal, then vertical), so the pixels equal ``img.convert(...).resize(size, BOX)``.
    """
    from PIL import Image

    w, h = img.size
    if max(w, h) <= side:
        return img
    scale = side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # palette indices cannot be averaged; alpha is premultiplied while averaging, as resize does
    steps = {"P": ("RGBA", "RGBa"), "PA": ("RGBA", "RGBa"), "1": ("L",), "RGBA": ("RGBa",),
             "LA": ("La",)}.get(img.mode, ())
    work = steps[-1] if steps else img.mode
    wide = Image.new(work, (size[0], h))
    rows = max(1, BAND_BYTES // (w * 4))
    for y in range(0, h, rows):
        band = img.crop((0, y, w, min(h, y + rows)))
        for mode in steps:
            band = band.convert(mode)
        wide.paste(band.resize((size[0], band.height), Image.Resampling.BOX), (0, y))
        del band
    out = wide.resize(size, Image.Resampling.BOX)
    del wide
    out = out.convert({"RGBa": "RGBA", "La": "LA"}.get(work, work))
    out.info.update(img.info)
    return out


def prefer_mmap(threshold: int = 2**20) -> bool:
    """Make glibc serve allocations of *threshold* bytes and more from their own mappings, which
    go back to the system when freed; True if applied (glibc only).

    glibc's threshold starts at 128 KB but rises to a freed block's size (up to 32 MB) after each
    big free, so Pillow's 16 MB image blocks end up in the per-thread heaps and stay there: 16
    uploads of a 4800x4800 PNG left ``serve`` 263 MB above idle, ``malloc_trim`` after each
    decode did not help; with a fixed 1 MB threshold it was back within 10 MB (bench_web_decode).
    Small allocations (a canvas prediction's) are unaffected.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    M_MMAP_THRESHOLD = -3
    return hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") and bool(
        libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))

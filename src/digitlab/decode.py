"""Decode any user image file safely: the format allow-list, pixel and memory caps, a grey array.

An upload may be a decompression bomb (a 150 KB PNG of 6300x6300 RGBA pixels), a truncated or
corrupt file, a format outside the allow-list (SVG, PDF, TIFF), an animated GIF or a phone photo
on its side. :func:`open_image` refuses what it must before decoding (by the header: pixel cap,
decode memory budget), decodes the first frame reduced to ``WORK_SIDE``, applies the EXIF
orientation, and :func:`to_gray` gives grey levels of any mode in [0, 1]. Typed errors carry
the HTTP status the web app answers with.
"""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from pathlib import Path

import numpy as np

from . import _imagemem
from ._files import MAX_IMAGE_BYTES, InputTooLargeError, read_input_bytes
from .exceptions import DataError

WORK_SIDE = 1024  # big images are reduced to this before any float maths: digits survive, RAM stays low
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
FORMATS_TEXT = "PNG/JPEG/GIF/BMP/WEBP"
MAX_PIXELS = 40_000_000  # decoded size cap, checked on the header before decoding (C4, C5)
# Memory one decode may take, estimated from the header (H6): a 24 MP RGB PNG or progressive JPEG,
# a 40 MP grey PNG; a 6300x6300 RGBA PNG (160 MB decoded from 150 KB) is refused before decoding.
MAX_DECODE_BYTES = 96 * 2**20
# Memory all decodes of a process may hold at once; more wait (H6: 16 uploads at once stay bounded)
DECODES = _imagemem.DecodeBudget(160 * 2**20)
MAX_PNG_TEXT = 4 * 2**20  # Pillow inflates PNG text chunks at open, up to 64 MB by default
MAX_FILE_BYTES = MAX_IMAGE_BYTES  # an image file larger than this is not a photo of a digit
MIN_SIDE = 8  # a smaller image cannot hold a readable digit (C3)


class ImageError(DataError):
    """An image that cannot be turned into a digit (HTTP 422)."""

    status = 422


class UnsupportedImageError(ImageError):
    """Not an image, or a format outside the allow-list (C1, C12; HTTP 415)."""

    status = 415


class ImageTooLargeError(ImageError):
    """More pixels or bytes than digitlab decodes (C4, C5; HTTP 413)."""

    status = 413


class ImageBusyError(ImageError):
    """Too many large images are already waiting to be decoded (HTTP 503); retry later."""

    status = 503


class NoDigitError(ImageError):
    """The image is blank or has no contrast: no digit to classify."""


def read_image_bytes(path, name: str | None = None, *, stdin: bool = False) -> bytes:
    """The bytes of an image file: a regular file of at most ``MAX_FILE_BYTES`` (H3).

    With *stdin*, ``-`` and ``/dev/stdin`` are read from the standard input (a pipe).
    """
    try:
        return read_input_bytes(path, max_bytes=MAX_FILE_BYTES, what="image", stdin=stdin)
    except InputTooLargeError:
        raise ImageTooLargeError(f"{name or path}: image too large (file over "
                                 f"{MAX_FILE_BYTES // 2**20} MB)") from None


def open_image(data: bytes | str | Path, name: str | None = None, *, max_side: int | None = None):
    """Decode an image with Pillow under digitlab's format allow-list, pixel cap and memory budget.

    Parameters
    ----------
    data : bytes or path-like
        The encoded image, or a file to read it from.
    name : str, default=None
        What to call the image in error messages (default: the path, or ``"image"``).
    max_side : int, default=None
        Reduce the image to fit in ``max_side`` x ``max_side`` (area averaging) as part of the
        decode, before any full-size copy is made. JPEGs are decoded at reduced scale anyway.

    Returns
    -------
    PIL.Image.Image
        Loaded (decoded), first frame only, EXIF orientation applied. ``img.info["digitlab_notes"]``
        lists what the user should be told.

    Raises
    ------
    UnsupportedImageError
        Empty, not an image, or not PNG/JPEG/GIF/BMP/WEBP (the content decides, never the name).
    ImageTooLargeError
        More than ``MAX_PIXELS`` pixels, or a decode estimated at more than ``MAX_DECODE_BYTES``
        of memory (both checked on the header, before decoding).
    ImageBusyError
        Too many large images are waiting for the process's decode budget (``DECODES``).
    ImageError
        Truncated or corrupt, or smaller than ``MIN_SIDE`` pixels.
    """
    with decoded(data, name, max_side) as img:
        return img


_HEADER_LOCK = threading.Lock()  # Pillow's bomb limit is a module global, switched off around open()
# EXIF orientation -> the transpose that makes the image upright (the map of ImageOps.exif_transpose,
# applied here after the reduction instead of to a full-size copy)
_ORIENT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
           7: "TRANSVERSE", 8: "ROTATE_90"}


@contextlib.contextmanager
def decoded(data, name: str | None, max_side: int | None):
    """Open, check and decode *data* while holding its reservation of the decode budget."""
    if isinstance(data, (str, Path)):
        name = name or str(data)
        data = read_image_bytes(data, name)
    name = name or "image"
    if not data:
        raise UnsupportedImageError(f"{name}: empty file; not a supported image ({FORMATS_TEXT})")
    img, need = _open_checked(data, name)
    if max_side:
        need += _imagemem.work_bytes(img.size, max_side)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(DECODES.reserve(need))
        except _imagemem.BudgetBusy as exc:
            raise ImageBusyError(f"{name}: the server is busy decoding other large images ({exc}); "
                                 "retry shortly") from None
        yield _load(img, name, max_side)


def _open_checked(data: bytes, name: str):
    """The opened, not yet decoded image and the memory its decode will hold, or an ImageError."""
    from PIL import Image, PngImagePlugin, UnidentifiedImageError

    notes: list[str] = []
    # PNG text chunks are inflated at open() and kept; digitlab has no use for them (H6)
    PngImagePlugin.MAX_TEXT_MEMORY = min(PngImagePlugin.MAX_TEXT_MEMORY, MAX_PNG_TEXT)
    try:
        with _HEADER_LOCK:
            old = Image.MAX_IMAGE_PIXELS
            # Pillow's own bomb check is replaced by ours below (one message, JPEG draft allowed).
            Image.MAX_IMAGE_PIXELS = None
            try:
                img = Image.open(io.BytesIO(data), formats=FORMATS)
                full = img.size
                if img.format == "JPEG" or img.format == "MPO":
                    # decode at 1/2..1/8 scale in libjpeg: a 48 MP phone photo costs a few MB, not 150
                    img.draft(None, (WORK_SIDE, WORK_SIDE))
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise ImageTooLargeError(f"{name}: image too large ({w}×{h} pixels; the limit is {MAX_PIXELS:,})")
                if getattr(img, "is_animated", False):
                    img.seek(0)  # only frame 0 is decoded
                    notes.append("animated image: using first frame")
            finally:
                Image.MAX_IMAGE_PIXELS = old
        need = _imagemem.decode_bytes(img, data, full)
    except UnidentifiedImageError:
        raise UnsupportedImageError(f"{name}: not a supported image ({FORMATS_TEXT})") from None
    except DataError:
        raise
    except Image.DecompressionBombError:  # pragma: no cover - disabled above, kept as a backstop
        raise ImageTooLargeError(f"{name}: image too large (the limit is {MAX_PIXELS:,} pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, MemoryError) as exc:
        raise _decode_error(name, exc) from None
    if need > MAX_DECODE_BYTES:
        raise ImageTooLargeError(
            f"{name}: image too large to decode ({full[0]}×{full[1]} {img.mode} {img.format} needs about "
            f"{need / 2**20:.0f} MB of memory; the limit is {MAX_DECODE_BYTES // 2**20} MB): scale it down")
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{name}: image too small ({w}×{h}; at least {MIN_SIDE}×{MIN_SIDE} needed)")
    img.info["digitlab_notes"] = notes
    return img, need


def _load(img, name: str, max_side: int | None):
    """Decode the opened *img*, reduce it to *max_side*, and turn it upright (EXIF orientation)."""
    from PIL import Image

    notes = img.info["digitlab_notes"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Palette images with Transparency expressed in bytes"
            img.load()
        orientation = img.getexif().get(0x0112)  # a PNG's eXIf chunk may follow the pixels
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, MemoryError) as exc:
        raise _decode_error(name, exc) from None
    if max_side:
        img = _imagemem.shrink(img, max_side)
    if orientation in _ORIENT:
        img = img.transpose(Image.Transpose[_ORIENT[orientation]])
    img.info["digitlab_notes"] = notes
    return img


def _decode_error(name: str, exc: Exception) -> ImageError:
    why = "image is truncated" if "truncated" in str(exc) else f"image is corrupt ({exc})"
    return ImageError(f"{name}: {why}")


def shrink(img):
    """Reduce a big image to ``WORK_SIDE`` (area averaging) so later float copies stay small."""
    return _imagemem.shrink(img, WORK_SIDE)


def to_gray(img) -> np.ndarray:
    """Grey levels of a Pillow image as float32 in [0, 1] (1 = white), for any mode.

    16-bit images are scaled, not clipped (C7). Transparent pixels are composited onto a
    background that contrasts with the visible ink, so black ink on a transparent background
    and white ink on one both survive (C6, C8).
    """
    g = gray_levels(img)
    return g / np.float32(255.0) if g.dtype == np.uint8 else g


def gray_levels(img) -> np.ndarray:
    """:func:`to_gray`, but 8-bit images stay uint8 (exact and ~3x cheaper downstream)."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(img, dtype=np.float32)
        top = 65535.0 if mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        return np.clip(a / top, 0, 1)
    if mode == "F":
        a = np.nan_to_num(np.asarray(img, dtype=np.float32))
        return np.clip(a / max(1.0, float(a.max(initial=0))), 0, 1)
    if mode in ("P", "PA", "LA", "La", "RGBa") or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 1.0:
            lum = np.asarray(img.convert("RGB").convert("L"), dtype=np.float32) / 255.0
            seen = alpha > 0.5
            # the ink is what is opaque; put it on the background it contrasts with
            bg = 1.0 if not seen.any() or float(lum[seen].mean()) <= 0.5 else 0.0
            return lum * alpha + bg * (1.0 - alpha)
        return np.asarray(img.convert("L"))
    return np.asarray(img if img.mode == "L" else img.convert("L"))

"""Turn any user image into what an MNIST model expects.

MNIST digits are white ink on black, scaled to fit a 20x20 box (aspect ratio kept) and centred by
centre of mass in a 28x28 field. :func:`preprocess` does the same to a PNG/JPEG/GIF/BMP/WebP of
any size and mode, and scales the recipe for other input sizes (8x8 for ``digits``: a 6x6 box).
The CLI's ``predict``, the Python API and the web app all call this one function.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .exceptions import DataError

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_PIXELS = 40_000_000  # refuse decompression bombs at open(), before decoding
MIN_SIDE = 8
INK_THRESHOLD = 0.15  # after normalising, weaker ink counts as background noise


@dataclass
class Preprocessed:
    """The model-ready image and what was done to get it.

    Attributes
    ----------
    image : ndarray of shape (size, size), dtype=uint8
        White ink on black, 0..255.
    inverted : bool
        The input was dark ink on a light background and was inverted.
    notes : list of str
        Warnings worth showing the user (animated GIF, ...).
    """

    image: np.ndarray
    inverted: bool = False
    notes: list = field(default_factory=list)


def open_image(data: bytes | str | Path, name: str | None = None):
    """Decode an image with Pillow under digitlab's format allow-list and pixel cap."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(data, (str, Path)):
        from .datasets.idx import open_input

        name = name or str(data)
        with open_input(data) as fh:
            data = fh.read()
    name = name or "image"
    if not data:
        raise DataError(f"{name}: empty file; not a supported image ({'/'.join(FORMATS)})")
    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise DataError(f"{name}: image too large ({w}×{h} pixels; the limit is {MAX_PIXELS:,})")
            notes = []
            if getattr(img, "is_animated", False):
                img.seek(0)
                notes.append("animated GIF: using first frame")
            img.load()
            img = ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{name}: image too large (decompression bomb; the limit is {MAX_PIXELS:,} pixels)") from None
    except UnidentifiedImageError:
        raise DataError(f"{name}: not a supported image ({'/'.join(FORMATS)})") from None
    except DataError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DataError(f"{name}: image is truncated or corrupt ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old
    if min(img.size) < MIN_SIDE:
        raise DataError(f"{name}: image too small ({img.size[0]}×{img.size[1]})")
    img.info["digitlab_notes"] = notes
    return img


def to_gray(img) -> np.ndarray:
    """Float array in [0, 1], 1 = white, for any Pillow mode; transparency is composited on white."""
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if a.max() > 255 or mode.startswith("I;16") else 255.0
        return np.clip(a / top, 0, 1)
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        return np.clip(a / max(1.0, float(a.max())), 0, 1)
    if mode == "P" or "transparency" in img.info or mode in ("LA", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def preprocess_array(gray: np.ndarray, *, size: int = 28, name: str = "image") -> Preprocessed:
    """MNIST-style normalisation of a 2-D grey array in [0, 1] (any polarity)."""
    from PIL import Image
    from scipy import ndimage

    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2:
        raise DataError(f"{name}: expected a 2-D image, got shape {gray.shape}")
    if not np.isfinite(gray).all():
        raise DataError(f"{name}: image has NaN or infinite values")
    # Polarity from the border: MNIST has a dark background, paper is light.
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    inverted = bool(np.median(border) > 0.5)
    ink = 1.0 - gray if inverted else gray.copy()
    ink -= np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))
    peak = ink.max()
    if peak < 0.2:
        raise DataError(f"{name}: no digit found (the image is blank or has no contrast)")
    ink = np.clip(ink / peak, 0, 1)
    ink[ink < INK_THRESHOLD] = 0.0  # faint background noise, paper texture, JPEG artefacts
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    ink = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    box = max(1, round(size * 20 / 28))  # MNIST: 20x20 box in a 28x28 field
    h, w = ink.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray((ink * 255).astype(np.uint8)).resize((nw, nh), Image.Resampling.LANCZOS)
    small = np.asarray(small, dtype=np.float64)
    field_ = np.zeros((size, size))
    top, left = (size - nh) // 2, (size - nw) // 2
    field_[top: top + nh, left: left + nw] = small
    cy, cx = ndimage.center_of_mass(field_)
    if np.isfinite(cy):
        dy, dx = int(round(size / 2 - 0.5 - cy)), int(round(size / 2 - 0.5 - cx))
        # keep the digit inside the field while centring it
        dy = int(np.clip(dy, -top, size - (top + nh)))
        dx = int(np.clip(dx, -left, size - (left + nw)))
        field_ = np.roll(field_, (dy, dx), axis=(0, 1))
    out = np.clip(np.rint(field_), 0, 255).astype(np.uint8)
    return Preprocessed(out, inverted)


def preprocess(data, *, size: int = 28, name: str | None = None) -> Preprocessed:
    """Bytes, a path, a PIL image or a 2-D array → an MNIST-style ``size``×``size`` uint8 digit."""
    if isinstance(data, np.ndarray):
        a = data.astype(np.float64)
        top = 255.0 if a.max(initial=0) > 1 else 1.0
        return preprocess_array(a / top, size=size, name=name or "array")
    from PIL import Image

    img = data if isinstance(data, Image.Image) else open_image(data, name)
    res = preprocess_array(to_gray(img), size=size, name=name or str(getattr(img, "filename", "") or "image"))
    res.notes = list(img.info.get("digitlab_notes", []))
    return res


def preprocess_file(path, *, size: int = 28) -> Preprocessed:
    return preprocess(Path(path), size=size, name=str(path))

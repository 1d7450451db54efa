"""Load a folder of images with one sub-folder per class (``digits/3/a.png``).

Names starting with a dot are skipped at both levels (``.originals/``, ``.DS_Store``, temp files).
A grey PNG of the requested size carrying digitlab's model-ready text chunk (what ``serve --collect``
writes: the image a model saw) is taken as it is; preprocessing it again would move and rescale it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..exceptions import DataError, InputMissingError, NoPermissionError
from .dataset import Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}


def load_image_folder(folder, *, name: str | None = None, size: int = 28) -> Dataset:
    """Each image is turned into an MNIST-style *size*×*size* digit by :func:`digitlab.preprocess.preprocess`
    (model-ready PNGs are kept as they are). A collection (``serve --collect``) without samples
    yet is an empty dataset of the digits 0–9."""
    from ..preprocess import preprocess, read_image_bytes
    from ._collection import CLASSES, Collection

    folder = Path(folder)
    collection = Collection.is_collection(folder)
    try:
        class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except PermissionError:
        raise NoPermissionError(f"{folder}: permission denied") from None
    except OSError as exc:
        raise InputMissingError(f"{folder}: cannot read ({exc.strerror or exc})") from None
    if not class_dirs and collection:
        return _empty(folder, name, size, CLASSES)
    if not class_dirs:
        raise InputMissingError(f"{folder}: no class sub-folders (expected e.g. {folder}/0/*.png)")
    names = [p.name for p in class_dirs]
    if all(n.isdigit() and len(n) == 1 for n in names):
        classes = tuple(str(i) for i in range(10))
        label_of = {n: int(n) for n in names}
    else:
        classes = tuple(names)
        label_of = {n: i for i, n in enumerate(names)}
    images, labels = [], []
    md5 = hashlib.md5()
    for d in class_dirs:
        for f in sorted(d.iterdir()):
            if f.name.startswith(".") or f.is_dir():
                continue  # a dangling link, a FIFO or a device is not skipped: reading it says what it is
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{f}: not a supported image (PNG/JPEG/GIF/BMP/WEBP)")
            data = read_image_bytes(f)  # read once: decoded and hashed from the same bytes
            ready = _model_ready(data, size, str(f))
            images.append(ready if ready is not None else preprocess(data, size=size, name=str(f)).image)
            labels.append(label_of[d.name])
            md5.update(f.name.encode())
            md5.update(data)
    if not images and collection:
        return _empty(folder, name, size, classes)
    if not images:
        raise DataError(f"{folder}: no images in the class sub-folders")
    return Dataset(
        name=name or folder.name,
        images=np.stack(images).astype(np.uint8),
        labels=np.asarray(labels, dtype=np.int64),
        classes=classes,
        split="all",
        source=str(folder),
        checksums={folder.name: "md5:" + md5.hexdigest()},
    )



_PNG = b"\x89PNG\r\n\x1a\n"


def _model_ready(data: bytes, size: int, name: str) -> np.ndarray | None:
    """The pixels of a PNG marked model-ready for *size* (see ``_collection``), else None."""
    from ..decode import open_image
    from ._collection import READY_KEY, ready_text

    # tEXt chunks are stored uncompressed before the pixels: a cheap look before any decode
    if not data.startswith(_PNG) or f"{READY_KEY}\0{ready_text(size)}".encode() not in data[:1024]:
        return None
    img = open_image(data, name)  # the usual checks (format, size, truncation)
    if img.format != "PNG" or img.mode != "L" or img.size != (size, size) or img.info.get(READY_KEY) != ready_text(size):
        return None
    return np.asarray(img, dtype=np.uint8).copy()


def _empty(folder: Path, name, size: int, classes) -> Dataset:
    return Dataset(name=name or folder.name, images=np.zeros((0, size, size), np.uint8),
                   labels=np.zeros(0, np.int64), classes=tuple(classes), split="all", source=str(folder),
                   checksums={folder.name: "md5:" + hashlib.md5().hexdigest()})

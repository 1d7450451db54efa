"""Load a folder of images with one sub-folder per class (``digits/3/a.png``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..exceptions import DataError, InputMissingError, NoPermissionError
from .dataset import Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}


def load_image_folder(folder, *, name: str | None = None, size: int = 28) -> Dataset:
    """Each image is turned into an MNIST-style *size*×*size* digit by :func:`digitlab.preprocess.preprocess`."""
    from ..preprocess import preprocess, read_image_bytes

    folder = Path(folder)
    try:
        class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except PermissionError:
        raise NoPermissionError(f"{folder}: permission denied") from None
    except OSError as exc:
        raise InputMissingError(f"{folder}: cannot read ({exc.strerror or exc})") from None
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
            images.append(preprocess(data, size=size, name=str(f)).image)
            labels.append(label_of[d.name])
            md5.update(f.name.encode())
            md5.update(data)
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


"""``wild-digits``: the frozen real-world-style test set shipped with digitlab (issue 13 §5).

1,500 digits (150 of each) drawn in fonts that neither the tests nor matplotlib use and by a
pen-stroke generator, "photographed" on paper (uneven light, noise, defocus, JPEG) and passed
through :func:`digitlab.preprocess.preprocess` like a user's upload. No model or preprocessing
choice was tuned on them. ``benchmarks/make_wild_digits.py`` made the file once; it is frozen
here with the checksum of its pixels and labels, so results never depend on font versions.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from ..exceptions import ChecksumError, DataError, InputMissingError
from .dataset import Dataset

WILD_FILE = Path(__file__).resolve().parent / "data" / "wild-digits.npz"
# sha256 of images.tobytes() + labels.tobytes() (zip timestamps make the file's own hash vary)
WILD_SHA256 = "08a9d83b3e7ab2b1f71a87263d56d85cbe7fc82170f384c2952bb2e62f3a7b24"
WILD_SHAPE = (1500, 28, 28)
MAX_BYTES = 8 * 2**20


def load_wild_digits(path: Path | None = None) -> Dataset:
    """The wild-digits test set: 1,500 uint8 28x28 images, white on black, labels 0–9.

    Raises
    ------
    InputMissingError
        The file is missing (a broken install).
    DataError, ChecksumError
        The file is damaged or is not the frozen set.
    """
    path = Path(path or WILD_FILE)
    if not path.is_file():
        raise InputMissingError(f"{path}: wild-digits file missing (reinstall digitlab)")
    if path.stat().st_size > MAX_BYTES:
        raise DataError(f"{path}: {path.stat().st_size:,} bytes; the wild-digits file is under {MAX_BYTES:,}")
    try:
        with np.load(path, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable wild-digits file ({exc})") from None
    if images.dtype != np.uint8 or images.shape != WILD_SHAPE or labels.dtype != np.uint8 \
            or labels.shape != WILD_SHAPE[:1]:
        raise DataError(f"{path}: expected images uint8 {WILD_SHAPE} and labels uint8 ({WILD_SHAPE[0]},), "
                        f"got {images.dtype} {images.shape} and {labels.dtype} {labels.shape}")
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    if digest != WILD_SHA256:
        raise ChecksumError(f"{path}: sha256 of the images and labels is {digest}, expected {WILD_SHA256}; "
                            "the file was changed (reinstall digitlab)")
    return Dataset(
        name="wild-digits",
        images=images,
        labels=labels.astype(np.int64),
        classes=tuple(str(d) for d in range(10)),
        split="test",
        source=str(path),
        checksums={path.name: f"sha256:{digest}"},
        verified=True,
    )

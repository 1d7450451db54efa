"""A folder of images with one sub-folder per class."""

import re

import numpy as np
import pytest
from PIL import Image

from digitlab import datasets
from digitlab.exceptions import DataError, InputMissingError


def digit_png(path, *, dark_on_light=False):
    """A vertical bar ("1") drawn as white ink on black (or the reverse)."""
    a = np.zeros((40, 40), dtype=np.uint8)
    a[8:32, 17:23] = 255
    if dark_on_light:
        a = 255 - a
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "mydigits"
    digit_png(root / "1" / "a.png")
    digit_png(root / "1" / "b.jpg", dark_on_light=True)
    digit_png(root / "7" / "c.bmp")
    (root / "7" / ".DS_Store").write_bytes(b"\x00junk")  # hidden files are skipped
    return root


def test_load_image_folder(image_folder):
    """Digit-named sub-folders give labels 0–9; images become 28×28 white-on-black uint8."""
    ds = datasets.load(image_folder)
    assert ds.name == "mydigits" and len(ds) == 3
    assert ds.images.shape == (3, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.tolist() == [1, 1, 7]
    assert ds.classes == tuple(str(i) for i in range(10))
    # the dark-on-light JPEG was inverted like the rest: the ink is bright, the border dark
    assert all(img[14, 14] > 128 and img[0, 0] == 0 for img in ds.images)


def test_load_image_folder_named_classes(tmp_path):
    """Non-digit sub-folder names become the class names, in sorted order."""
    digit_png(tmp_path / "cat" / "a.png")
    digit_png(tmp_path / "bird" / "b.png")
    ds = datasets.load(tmp_path)
    assert ds.classes == ("bird", "cat") and ds.labels.tolist() == [0, 1]


def test_load_image_folder_non_image_with_image_name(image_folder):
    """C1 in a folder: bytes that are not an image, under a .png name."""
    bad = image_folder / "7" / "d.png"
    bad.write_text("hello")
    with pytest.raises(DataError, match=re.escape(f"{bad}: not a supported image (PNG/JPEG/GIF/BMP/WEBP)")):
        datasets.load(image_folder)


def test_load_image_folder_empty_image_file(image_folder):
    """C1: a zero-byte .png."""
    bad = image_folder / "1" / "z.png"
    bad.write_bytes(b"")
    with pytest.raises(DataError, match=re.escape(f"{bad}: empty file; not a supported image")):
        datasets.load(image_folder)


def test_load_image_folder_other_file_type(image_folder):
    """A stray text file is named, not silently skipped."""
    bad = image_folder / "1" / "notes.txt"
    bad.write_text("labels checked by hand")
    with pytest.raises(DataError, match=re.escape(f"{bad}: not a supported image")):
        datasets.load(image_folder)


def test_load_image_folder_unreadable_file(image_folder):
    """A14: a dangling link (an image that cannot be opened) is reported, exit 66."""
    bad = image_folder / "7" / "gone.png"
    bad.symlink_to(image_folder / "nowhere.png")
    with pytest.raises(InputMissingError, match=re.escape(f"{bad}: no such file")):
        datasets.load(image_folder)


def test_load_image_folder_without_class_folders(tmp_path):
    """A folder of loose images is not a labelled dataset."""
    digit_png(tmp_path / "a.png")
    with pytest.raises(InputMissingError, match=re.escape(f"{tmp_path}: no class sub-folders")):
        datasets.load(tmp_path)


def test_load_image_folder_empty_classes(tmp_path):
    """Class folders with nothing in them."""
    (tmp_path / "0").mkdir()
    with pytest.raises(DataError, match=re.escape(f"{tmp_path}: no images in the class sub-folders")):
        datasets.load(tmp_path)

"""The frozen wild-digits test set (issue 13 §5): loads, verifies, refuses damaged copies."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from digitlab import datasets
from digitlab.datasets._load_wild import WILD_FILE, load_wild_digits
from digitlab.exceptions import ChecksumError, DataError, InputMissingError


def test_load_by_name_gives_the_frozen_set():
    """Check datasets.load("wild-digits") gives 1,500 verified 28x28 uint8 digits, 150 of each."""
    ds = datasets.load("wild-digits")
    assert ds.name == "wild-digits" and ds.split == "test" and ds.verified
    assert ds.images.shape == (1500, 28, 28) and ds.images.dtype == np.uint8
    assert ds.classes == tuple("0123456789")
    assert np.array_equal(ds.class_counts(), np.full(10, 150))
    assert list(ds.checksums) == ["wild-digits.npz"] and ds.checksums["wild-digits.npz"].startswith("sha256:")
    assert len(datasets.load("WILD-DIGITS")) == 1500


def test_images_look_like_preprocessed_digits():
    """Check every image is white ink on black with its centre of mass near the field's centre (preprocess output)."""
    from scipy import ndimage

    ds = datasets.load("wild-digits")
    border = np.concatenate([ds.images[:, 0], ds.images[:, -1], ds.images[:, :, 0], ds.images[:, :, -1]], 1)
    assert np.median(border) == 0 and (ds.images.max(axis=(1, 2)) == 255).all()
    com = np.array([ndimage.center_of_mass(im) for im in ds.images[:200]])
    assert np.abs(com - 14).max() < 2.5


def test_sources_avoid_the_test_fonts():
    """Check no image was rendered in a font the tests use (tests/_render.py), and both sources are there."""
    with np.load(WILD_FILE, allow_pickle=False) as z:
        sources = set(z["sources"].tolist())
    assert "strokes" in sources and len(sources) > 30
    assert not any(s.lower().startswith(("dejavu", "stix", "cm")) for s in sources)


def test_harder_than_mnist_for_a_small_model(mnist_small):
    """Check a logreg fitted on 3,000 MNIST images scores far above chance on wild digits, but below MNIST."""
    from digitlab.models import make_model

    model = make_model("logreg").fit(mnist_small.X_train, mnist_small.y_train)
    wild = datasets.load("wild-digits")
    acc = model.score(wild.X, wild.y)
    assert 0.3 < acc < model.score(mnist_small.X_test, mnist_small.y_test)


def test_changed_pixels_fail_the_checksum(tmp_path):
    """Check a copy with one pixel changed is refused by its checksum, naming the file."""
    with np.load(WILD_FILE, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["images"][0, 0, 0] ^= 1
    bad = tmp_path / "wild-digits.npz"
    np.savez_compressed(bad, **arrays)
    with pytest.raises(ChecksumError, match=r"wild-digits\.npz: sha256 .* expected"):
        load_wild_digits(bad)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "pickle", "shape"])
def test_damaged_file_is_a_data_error(tmp_path, damage):
    """Check truncated, non-zip, pickled or mis-shaped files fail with one line naming the file."""
    bad = tmp_path / "wild-digits.npz"
    if damage == "truncate":
        data = WILD_FILE.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"not a zip file at all")
    elif damage == "pickle":
        np.savez(bad, images=np.array([object()], dtype=object), labels=np.zeros(1, np.uint8))
    else:
        np.savez(bad, images=np.zeros((10, 28, 28), np.uint8), labels=np.zeros(10, np.uint8))
    with pytest.raises(DataError, match="wild-digits.npz"):
        load_wild_digits(bad)


def test_missing_file(tmp_path):
    with pytest.raises(InputMissingError, match="missing"):
        load_wild_digits(tmp_path / "nope.npz")
    folder = tmp_path / "dir.npz"
    folder.mkdir()
    with pytest.raises(InputMissingError):
        load_wild_digits(folder)


def test_oversized_file_refused_before_reading(tmp_path):
    big = tmp_path / "wild-digits.npz"
    shutil.copy(WILD_FILE, big)
    with big.open("ab") as fh:
        fh.truncate(9 * 2**20)
    with pytest.raises(DataError, match="under"):
        load_wild_digits(big)

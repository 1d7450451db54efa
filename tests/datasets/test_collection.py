"""The collection folder of ``serve --collect``: an image-folder dataset written safely."""

from __future__ import annotations

import errno
import io
import multiprocessing
import os
import threading

import numpy as np
import pytest
from PIL import Image

from digitlab import datasets
from digitlab.datasets import _collection
from digitlab.datasets._collection import ORIGINALS, Collection, CollectionFullError
from digitlab.exceptions import CannotCreateError, DataError, NoPermissionError, ParameterError, WriteError


def _digit(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).resize((120, 120)).save(buf, format="JPEG")
    return buf.getvalue()


def _tree(root) -> dict:
    """Every file under *root* with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_collection_loads_exactly_what_was_stored(tmp_path):
    """Check the folder loads with datasets.load: the stored pixels as they are (not preprocessed
    again), labels from the class folders, classes 0–9, originals not loaded as training images."""
    c = Collection.open(tmp_path / "mine")
    assert len(datasets.load(tmp_path / "mine")) == 0  # a new collection is an empty dataset
    stored = {}
    for i, label in enumerate("4471"):
        img = _digit(i)
        out = c.add(img, label, _jpeg(img))
        assert out.status == "added" and out.samples == i + 1
        stored[out.sha256] = (img, int(label))
    ds = datasets.load(tmp_path / "mine")
    assert ds.classes == tuple("0123456789") and len(ds) == 4
    assert ds.class_counts().tolist() == [0, 1, 0, 0, 2, 0, 0, 1, 0, 0]
    got = sorted((img.tobytes(), int(y)) for img, y in zip(ds.images, ds.labels))
    assert got == sorted((img.tobytes(), y) for img, y in stored.values())
    originals = sorted(p.name for p in (tmp_path / "mine" / ORIGINALS).iterdir())
    assert originals == sorted(f"{sha}.jpg" for sha in stored)


def test_collection_keeps_the_original_bytes(tmp_path):
    """Check the original upload is kept byte for byte, named by the sample's hash and its sniffed format."""
    c = Collection.open(tmp_path / "c")
    img = _digit(1)
    original = _png(np.kron(img, np.ones((4, 4), np.uint8)))
    out = c.add(img, "3", original)
    assert (tmp_path / "c" / ORIGINALS / f"{out.sha256}.png").read_bytes() == original
    assert (tmp_path / "c" / "3" / f"{out.sha256}.png").is_file()


def test_collection_deduplicates_and_relabels(tmp_path):
    """Check the same digit with the same label writes nothing, and with another label moves."""
    c = Collection.open(tmp_path / "c")
    img = _digit(2)
    first = c.add(img, "9", _png(img))
    before = _tree(tmp_path / "c")
    again = c.add(img, "9", _png(img))
    assert again.status == "duplicate" and again.samples == 1
    assert _tree(tmp_path / "c") == before
    moved = c.add(img, "4", _png(img))
    assert (moved.status, moved.previous, moved.samples) == ("relabelled", "9", 1)
    assert not (tmp_path / "c" / "9" / f"{first.sha256}.png").exists()
    assert datasets.load(tmp_path / "c").labels.tolist() == [4]


@pytest.mark.parametrize("label", ["../x", "4/../../evil", "%2e%2e%2f", "4\x00", "/tmp", "\u0664", " 4", "04",
                                   "4.0", "", "10", "-1", 4, None, True, "..", "."])
def test_collection_refuses_labels_that_are_not_classes(tmp_path, label):
    """Attack: path traversal and look-alike digits as the label; refused, nothing written anywhere."""
    c = Collection.open(tmp_path / "c")
    before = _tree(tmp_path)
    with pytest.raises(ParameterError, match="label=.*must be one of the classes 0, 1, 2"):
        c.add(_digit(0), label, b"x")
    assert _tree(tmp_path) == before


def test_collection_caps_count_and_size(tmp_path, monkeypatch):
    """Attack: many distinct corrections filling the disk; the caps stop them, nothing half-written."""
    c = Collection.open(tmp_path / "c")
    monkeypatch.setattr(_collection, "MAX_SAMPLES", 3)
    for i in range(3):
        c.add(_digit(i), "1", b"")
    before = _tree(tmp_path / "c")
    with pytest.raises(CollectionFullError, match=r"collection full \(3 samples, the limit\)") as info:
        c.add(_digit(9), "1", b"")
    assert info.value.exit_code == 74 and info.value.status == 507
    assert _tree(tmp_path / "c") == before
    # a duplicate or a relabel adds nothing, so it is still taken at the cap
    assert c.add(_digit(0), "2", b"").status == "relabelled"

    monkeypatch.setattr(_collection, "MAX_SAMPLES", 100)
    size = c.stats()["bytes"]
    monkeypatch.setattr(_collection, "MAX_BYTES", size + 1000)
    with pytest.raises(CollectionFullError, match="MB; the limit is"):
        c.add(_digit(10), "5", b"\x00" * 2000)
    assert c.stats()["samples"] == 3


def test_collection_leaves_the_disk_its_last_free_space(tmp_path, monkeypatch):
    """Check a correction is refused (507) when the disk would drop below MIN_FREE_BYTES."""
    c = Collection.open(tmp_path / "c")
    monkeypatch.setattr(_collection, "MIN_FREE_BYTES", 2**62)
    with pytest.raises(CollectionFullError, match="disk full"):
        c.add(_digit(0), "1", b"")
    assert c.stats()["samples"] == 0


def test_collection_disk_full_mid_write_leaves_nothing(tmp_path, monkeypatch):
    """F3 for corrections: ENOSPC writing the sample → WriteError (74), no orphan original, no temp file."""
    c = Collection.open(tmp_path / "c")
    c.add(_digit(0), "1", b"")
    before = _tree(tmp_path / "c")
    real = _collection.write_bytes

    def full(target, data):
        if str(target).endswith(".png") and ORIGINALS not in str(target):
            raise WriteError(f"{target}: cannot write (No space left on device)")
        return real(target, data)

    monkeypatch.setattr(_collection, "write_bytes", full)
    with pytest.raises(WriteError, match="No space left"):
        c.add(_digit(1), "2", _png(_digit(1)))
    after = _tree(tmp_path / "c")
    assert after == before  # the original written first was removed again
    assert not [p for p in (tmp_path / "c").rglob("*") if ".part_" in p.name]


def test_collection_open_refuses_a_file(tmp_path):
    """A collect path that is a file: 73 naming it."""
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(CannotCreateError, match="afile: not a folder") as info:
        Collection.open(f)
    assert info.value.exit_code == 73


def test_collection_open_refuses_a_folder_of_other_things(tmp_path):
    """`serve --collect ~` must not scatter digit folders among a user's files: 73, nothing written."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    with pytest.raises(CannotCreateError, match=r"not empty and not a digitlab collection \(it holds 'notes.txt'\)"):
        Collection.open(tmp_path / "home")
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["notes.txt"]


def test_collection_open_accepts_a_digit_image_folder(tmp_path):
    """An existing image folder of digits 0–9 can be collected into."""
    (tmp_path / "d" / "3").mkdir(parents=True)
    Collection.open(tmp_path / "d")
    assert Collection.is_collection(tmp_path / "d")


def test_collection_open_not_writable(tmp_path, monkeypatch):
    """EACCES writing into the folder (what a read-only folder gives non-root users): 77."""
    import tempfile

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(NoPermissionError, match="ro: cannot write to collection folder") as info:
        Collection.open(tmp_path / "ro")
    assert info.value.exit_code == 77
    assert list((tmp_path / "ro").iterdir()) == []


def test_collection_open_disk_full(tmp_path, monkeypatch):
    """A disk with less than MIN_FREE_BYTES free: 74 at open."""
    monkeypatch.setattr(_collection, "MIN_FREE_BYTES", 2**62)
    with pytest.raises(CollectionFullError, match="disk full") as info:
        Collection.open(tmp_path / "c")
    assert info.value.exit_code == 74


def test_collection_open_refuses_another_kind_of_collection(tmp_path):
    """A marker for another image size or other classes: 65."""
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / _collection.MARKER).write_text('{"format": 1, "size": 8, "classes": ["0"]}')
    with pytest.raises(DataError, match="not a collection of 28×28 digits"):
        Collection.open(tmp_path / "c")


def test_collection_refuses_a_planted_symlink(tmp_path):
    """A class folder replaced by a symlink to elsewhere must not redirect the write."""
    c = Collection.open(tmp_path / "c")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, tmp_path / "c" / "7")
    with pytest.raises(CannotCreateError, match="not a folder"):
        c.add(_digit(0), "7", b"")
    assert list(outside.iterdir()) == []


def _add_many(folder, start, n):
    c = Collection(folder)
    for i in range(start, start + n):
        c.add(_digit(i), str(i % 10), _png(_digit(i)))


def test_collection_concurrent_writers_lose_nothing(tmp_path):
    """Check 6 threads and 2 processes adding 20 distinct digits each all land, counted once."""
    Collection.open(tmp_path / "c")
    threads = [threading.Thread(target=_add_many, args=(tmp_path / "c", 20 * k, 20)) for k in range(6)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(tmp_path / "c", 20 * k, 20)) for k in (6, 7)]
    for t in threads + procs:
        t.start()
    for t in threads:
        t.join(120)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    st = Collection(tmp_path / "c").stats()
    assert st["samples"] == 160 and st["originals"] == 160
    assert st["counts"] == {str(d): 16 for d in range(10)}
    assert len(datasets.load(tmp_path / "c")) == 160


def test_data_info_shows_the_collection(run_cli, tmp_path):
    """Check `data info DIR` counts per label and says what the collection holds, also when empty."""
    import json

    c = Collection.open(tmp_path / "mine")
    code, out, err = run_cli("data", "info", tmp_path / "mine", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["n_samples"] == 0 and d["collection"]["samples"] == 0 and d["shape"] == [28, 28]
    for i, label in enumerate("44719"):
        c.add(_digit(i), label, _png(_digit(i)))
    code, out, err = run_cli("data", "info", tmp_path / "mine", "--json")
    d = json.loads(out)
    assert d["splits"]["all"]["class_counts"] == [0, 1, 0, 0, 2, 0, 0, 1, 0, 1]
    assert d["collection"]["originals"] == 5 and d["collection"]["max_samples"] == _collection.MAX_SAMPLES
    code, out, err = run_cli("data", "info", tmp_path / "mine")
    assert code == 0 and "collection (serve --collect): 5 of at most 10,000 samples, 5 originals" in out

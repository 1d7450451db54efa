"""A folder of four IDX files, and the named datasets (digits, fashion-mnist, mnist) through load()."""

import re
from pathlib import Path

import numpy as np
import pytest
from _dataset_factory import gz, header, tiny_arrays, write_set

from digitlab import datasets
from digitlab.datasets.idx import idx_bytes
from digitlab.exceptions import DataError, InputMissingError, OfflineError

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_load_idx_folder_round_trip(tmp_path, compress):
    """The four files load into one uint8 block, train first, with the canonical split."""
    arrays = tiny_arrays()
    write_set(tmp_path / "mine", arrays, compress=compress)
    ds = datasets.load(tmp_path / "mine")
    assert ds.name == "mine" and ds.n_train == 20 and len(ds) == 30
    assert ds.images.dtype == np.uint8 and ds.labels.dtype == np.int64
    split = ds.train_test()
    np.testing.assert_array_equal(split.train.images, arrays["train-images"])
    np.testing.assert_array_equal(split.test.labels, arrays["test-labels"])
    assert np.shares_memory(split.test.images, ds.images)
    assert sorted(ds.checksums) == sorted(p.name for p in (tmp_path / "mine").iterdir())
    assert not ds.verified  # user data has no registry checksum


def test_load_idx_folder_split_argument(tmp_path):
    """split='test' returns the canonical test part only."""
    write_set(tmp_path, tiny_arrays())
    test = datasets.load(tmp_path, split="test")
    assert len(test) == 10 and test.split == "test"


def test_load_idx_folder_accepts_dotted_and_test_names(tmp_path):
    """Files named like torchvision's copies (train-images.idx3-ubyte, test-...) are found."""
    arrays = tiny_arrays()
    names = {"train-images": "train-images.idx3-ubyte", "train-labels": "train-labels.idx1-ubyte",
             "test-images": "test-images.idx3-ubyte", "test-labels": "test-labels-idx1-ubyte.gz"}
    for role, name in names.items():
        data = idx_bytes(arrays[role])
        (tmp_path / name).write_bytes(gz(data) if name.endswith(".gz") else data)
    assert len(datasets.load(tmp_path)) == 30


def test_load_idx_folder_ignores_stale_part_files(tmp_path):
    """E7: a temp file from a killed run beside the real files is not taken for data."""
    write_set(tmp_path, tiny_arrays())
    (tmp_path / ".train-images-idx3-ubyte.part_abc123").write_bytes(b"garbage")
    (tmp_path / "train-images-idx3-ubyte.part_x").write_bytes(b"garbage")
    assert len(datasets.load(tmp_path)) == 30


def test_load_idx_folder_image_size_differs(tmp_path):
    """A10: test images of another size than the training images."""
    arrays = tiny_arrays()
    arrays["test-images"] = np.zeros((10, 32, 32), dtype=np.uint8)
    paths = write_set(tmp_path, arrays)
    with pytest.raises(DataError, match=re.escape(
            f"{paths['test-images']}: images are 32×32, but training images are 28×28")):
        datasets.load(tmp_path)


def test_load_idx_folder_label_count_mismatch(tmp_path):
    """A11: 20 images but 19 labels, named in the message."""
    arrays = tiny_arrays()
    arrays["train-labels"] = arrays["train-labels"][:19]
    paths = write_set(tmp_path, arrays)
    with pytest.raises(DataError, match=re.escape(f"{paths['train-labels']}: 20 train images but 19 labels")):
        datasets.load(tmp_path)


@pytest.mark.parametrize("role, index", [("train-labels", 7), ("test-labels", 3)])
def test_load_idx_folder_label_out_of_range(tmp_path, role, index):
    """A12: the file and the index within that file are named."""
    arrays = tiny_arrays()
    arrays[role][index] = 11
    paths = write_set(tmp_path, arrays)
    with pytest.raises(DataError, match=re.escape(f"{paths[role]}: label 11 at index {index} is outside 0–9")):
        datasets.load(tmp_path)


def test_load_idx_folder_images_given_as_labels(tmp_path):
    """A5: a labels file that is really 3-D is a bad magic for labels."""
    arrays = tiny_arrays()
    paths = write_set(tmp_path, arrays, override={"test-labels": gz(idx_bytes(arrays["test-images"]))})
    with pytest.raises(DataError, match=re.escape(
            f"{paths['test-labels']}: bad IDX magic 0x00000803; expected 0x00000801 (uint8, 1-D)")):
        datasets.load(tmp_path)


def test_load_idx_folder_truncated_member(tmp_path):
    """A1 through load(): the broken file is the one named."""
    arrays = tiny_arrays()
    good = gz(idx_bytes(arrays["train-images"]))
    paths = write_set(tmp_path, arrays, override={"train-images": good[:-30]})
    with pytest.raises(DataError, match=re.escape(f"{paths['train-images']}: corrupt gzip")):
        datasets.load(tmp_path)


def test_load_idx_folder_zero_images(tmp_path):
    """A8 through load(): an images header with 0 images."""
    paths = write_set(tmp_path, tiny_arrays(), override={"test-images": gz(header(0, 28, 28))})
    with pytest.raises(DataError, match=re.escape(f"{paths['test-images']}: IDX header has a dimension of 0")):
        datasets.load(tmp_path)


def test_load_missing_path_and_unknown_name(tmp_path):
    """A14: not a file, not a folder, not a dataset name: exit 66 with the choices."""
    with pytest.raises(InputMissingError, match=re.escape(
            f"{tmp_path / 'nope'}: no such file or folder, and not a dataset name (mnist, fashion-mnist, digits, wild-digits)")):
        datasets.load(tmp_path / "nope")


def test_load_unknown_file_type(tmp_path):
    """A single .gz file is not a dataset: say what is expected."""
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(b"x")
    with pytest.raises(DataError, match="unknown dataset file type; expected a .csv, an IDX folder"):
        datasets.load(p)


def test_load_explicit_data_dir_missing(tmp_path):
    """A14: a --data-dir that does not exist is an error, not a silent download."""
    with pytest.raises(InputMissingError, match=re.escape(f"{tmp_path / 'typo'}: no such folder (given as data_dir)")):
        datasets.load("mnist", data_dir=tmp_path / "typo", download=False)
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(InputMissingError, match=re.escape(f"{f}: is not a folder (given as data_dir)")):
        datasets.load("mnist", data_dir=f, download=False)


def test_load_env_data_dir_missing(tmp_path, monkeypatch):
    """A14: the same check for $DIGITLAB_DATA_DIR, named as such."""
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(InputMissingError, match=re.escape(f"{tmp_path / 'gone'}: no such folder (given as $DIGITLAB_DATA_DIR)")):
        datasets.load("mnist", download=False)


def test_load_mnist_without_files_or_downloads(tmp_path, monkeypatch):
    """E6: no local copy and download=False: OfflineError naming the 4 files and both remedies."""
    monkeypatch.delenv("DIGITLAB_DATA_DIR", raising=False)
    with pytest.raises(OfflineError) as info:
        datasets.load("mnist", cache_dir=tmp_path / "c", download=False)
    msg = str(info.value)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in msg
    assert "--data-dir" in msg and "DIGITLAB_DATA_DIR" in msg and "digitlab data import" in msg
    assert info.value.exit_code == 69
    assert not (tmp_path / "c").exists()


def test_load_digits(digits):
    """scikit-learn's bundled digits: 1,797 8x8 uint8 images, rescaled 0–16 → 0–255."""
    assert digits.images.shape == (1797, 8, 8)
    assert digits.images.dtype == np.uint8
    assert digits.images.max() == 255
    assert digits.class_counts().tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert digits.n_train is None
    with pytest.raises(DataError, match="digits: has no canonical test split"):
        datasets.load("digits", split="test")


@pytest.mark.skipif(not (FASHION / "train-labels-idx1-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_load_fashion_mnist_from_system_dir(monkeypatch):
    """Found in /usr/share/datasets/fashion-mnist with no configuration, verified, class names."""
    monkeypatch.delenv("DIGITLAB_DATA_DIR", raising=False)
    ds = datasets.load("fashion-mnist", download=False)
    assert ds.source == str(FASHION)
    assert ds.verified and ds.n_train == 60000 and len(ds) == 70000
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert ds.train_test().test.class_counts().tolist() == [1000] * 10


@pytest.mark.skipif(not (FASHION / "train-labels-idx1-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_load_mnist_never_takes_fashion_files(monkeypatch):
    """Both use the same file names: a data dir holding Fashion-MNIST is not MNIST."""
    monkeypatch.delenv("DIGITLAB_DATA_DIR", raising=False)
    with pytest.raises(OfflineError):
        datasets.load("mnist", data_dir=FASHION, download=False)

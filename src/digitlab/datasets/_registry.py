"""Known datasets: their files, checksums of the *uncompressed* IDX bytes, and mirrors.

Checksums are of the decompressed bytes because mirrors wrap the same IDX data in different gzip
headers (mtime, compression level), so a compressed-file hash would reject good copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("train-images", "train-labels", "test-images", "test-labels")


@dataclass(frozen=True)
class RemoteDataset:
    name: str
    files: dict[str, str]  # role -> canonical file name (uncompressed)
    md5: dict[str, str]  # role -> md5 of the uncompressed file
    mirrors: tuple[str, ...]  # base URLs; a file is <mirror><name>.gz
    classes: tuple[str, ...]
    shape: tuple[int, int] = (28, 28)
    n_train: int = 60_000
    n_test: int = 10_000
    system_dirs: tuple[str, ...] = field(default_factory=tuple)


_IDX_FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}

MNIST = RemoteDataset(
    name="mnist",
    files=_IDX_FILES,
    md5={
        "train-images": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels": "a25bea736e30d166cdddb491f175f624",
        "test-images": "2646ac647ad5339dbf082846283269ea",
        "test-labels": "27ae3e4e09519cfbb04c329615203637",
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    classes=tuple(str(d) for d in range(10)),
)

FASHION_MNIST = RemoteDataset(
    name="fashion-mnist",
    files=_IDX_FILES,
    md5={
        "train-images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels": "9018921c3c673c538a1fc5bad174d6f9",
        "test-images": "8181f5470baa50b63fa0f6fddb340f0a",
        "test-labels": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    classes=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    # Debian's dataset-fashion-mnist package
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)

REMOTE = {d.name: d for d in (MNIST, FASHION_MNIST)}
BUILTIN = ("digits", "wild-digits")
NAMES = tuple(REMOTE) + BUILTIN


# What the images show, in the report's words (issue 11: the wording follows the dataset)
_WHAT = {
    "mnist": "handwritten digits, white ink on black, each size-normalised and centred",
    "fashion-mnist": "photos of clothing — T-shirts, trousers, sneakers, bags and six more kinds — "
                     "light on a black background, each centred",
    "digits": "handwritten digits scanned at 8×8 pixels in 17 grey levels",
    "wild-digits": "digits in unseen handwriting-style and print fonts and from a pen-stroke generator, "
                   "photographed on paper and preprocessed like a user's upload (a test set only)",
}
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


@dataclass(frozen=True)
class Words:
    """How a report speaks of a dataset: ``what`` its images show, one ``item`` ("digit" or
    "class"), ``all_items`` ("all ten digits")."""

    what: str
    item: str
    all_items: str


def words(name: str, classes) -> Words:
    classes = list(classes)
    item = "digit" if all(str(c).isdigit() for c in classes) else "class"
    n = _NUMBERS.get(len(classes), str(len(classes)))
    plural = "digits" if item == "digit" else "classes"
    what = _WHAT.get(name, f"images in {len(classes)} classes ({', '.join(map(str, classes[:4]))}"
                           f"{', ...' if len(classes) > 4 else ''})")
    return Words(what=what, item=item, all_items=f"all {n} {plural}")

"""Corrected digits collected by ``digitlab serve --collect DIR``, kept as an image-folder dataset.

Layout (``datasets.load(DIR)`` reads it like any image folder)::

    DIR/.digitlab-collection        marker: this folder is a collection (JSON: format, size, classes)
    DIR/<label>/<sha256>.png         the 28x28 image the model saw, grey, marked model-ready
    DIR/.originals/<sha256>.<ext>    the upload it was made from, byte for byte
    DIR/.lock                        serialises writers (threads of one server and its workers)

``<sha256>`` is the hash of the 784 pixels: two uploads the preprocessing turns into the same digit
are one sample, and correcting it again moves it to the new label. Originals sit in a dot-folder
because the image-folder loader skips dot-names; beside the sample in its class folder an original
would be read as a second training image (or, under another suffix, refused as "not an image").
Keyed by the sample's hash, relabelling moves one file, and deleting ``.originals`` (they may be
photos the user would rather not keep) leaves the dataset whole.

Every file is written to a temp name and renamed (``_atomic``), under an exclusive ``flock`` of
``DIR/.lock``; counts and sizes are read from the folder under that lock, so concurrent writers
(threads or ``serve --workers`` processes) lose nothing and together never pass the caps.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import PART_MARK, ensure_dir, os_error, write_bytes, write_text
from ..exceptions import CannotCreateError, DataError, ParameterError, WriteError

__all__ = ["Collection", "Added", "CollectionFullError", "SIZE", "CLASSES", "MAX_SAMPLES", "MAX_BYTES",
           "MIN_FREE_BYTES", "READY_KEY", "ready_text"]

SIZE = 28  # MNIST's field: the size every collected digit is stored at
CLASSES = tuple(str(i) for i in range(10))  # what the image-folder loader makes of folders 0..9
MAX_SAMPLES = 10_000  # about a thousand per digit: far more than anyone corrects by hand
MAX_BYTES = 256 * 2**20  # samples and originals together; one original is at most 5 MB (the web body cap)
MIN_FREE_BYTES = 64 * 2**20  # a collection never takes a disk's last 64 MB
MARKER = ".digitlab-collection"
ORIGINALS = ".originals"
LOCK = ".lock"
FORMAT = 1
READY_KEY = "digitlab"  # PNG text keyword: the pixels are already what a model takes (no preprocessing)
_EXT = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "GIF": "gif", "BMP": "bmp", "WEBP": "webp"}


def ready_text(size: int) -> str:
    return f"model-ready {size}x{size}"


class CollectionFullError(WriteError):
    """The collection reached a cap, or the disk its last free space (74; HTTP 507)."""

    status = 507


@dataclass(frozen=True)
class Added:
    """What :meth:`Collection.add` did: ``added``, ``duplicate`` (same digit, same label, nothing
    written) or ``relabelled`` (same digit, moved from *previous*)."""

    status: str
    label: str
    sha256: str
    previous: str | None
    samples: int


class Collection:
    """A collection folder (see the module docstring). ``Collection(dir)`` does no I/O; use
    :meth:`open` to check or create it."""

    def __init__(self, folder):
        self.folder = Path(folder)

    @classmethod
    def is_collection(cls, folder) -> bool:
        return (Path(folder) / MARKER).is_file()

    @classmethod
    def open(cls, folder) -> "Collection":
        """Check *folder* can take corrections (creating it if missing) and mark it a collection.

        Raises
        ------
        CannotCreateError
            Not a folder, or a folder with other things in it (73).
        NoPermissionError
            Not writable (77).
        WriteError
            Less than ``MIN_FREE_BYTES`` free on its disk (74).
        DataError
            A collection of another image size or other classes (65).
        """
        c = cls(folder)
        p = c.folder
        try:
            st = os.stat(p)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise os_error(p, exc, "cannot use as collection folder") from None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise CannotCreateError(f"{p}: not a folder; give a new or empty folder to collect into")
        ensure_dir(p)
        if cls.is_collection(p):
            c._check_marker()
        else:
            # `serve --collect ~` must not scatter digit folders among someone's files
            other = sorted(e.name for e in p.iterdir() if not e.name.startswith(".")
                           and not (e.name in CLASSES and e.is_dir()))
            if other:
                raise CannotCreateError(f"{p}: not empty and not a digitlab collection (it holds {other[0]!r}); "
                                        "give a new or empty folder to collect into")
        c._probe()
        c._check_free(0)
        with c._locked():  # creates the lock file now, not with the first sample
            pass
        if not cls.is_collection(p):
            write_text(p / MARKER, json.dumps({"format": FORMAT, "size": SIZE, "classes": list(CLASSES)}) + "\n")
        return c

    def _check_marker(self) -> None:
        from .._files import read_input_bytes

        path = self.folder / MARKER
        try:
            d = json.loads(read_input_bytes(path, max_bytes=64 * 1024, what="collection marker"))
            ok = d.get("format") == FORMAT and d.get("size") == SIZE and d.get("classes") == list(CLASSES)
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            raise DataError(f"{path}: not a collection of {SIZE}×{SIZE} digits 0–9 (format {FORMAT}); "
                            "collect into a new folder")

    def _probe(self) -> None:
        """Write and remove a temp file: permission bits alone do not tell (root, read-only mounts, ACLs)."""
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".probe{PART_MARK}", dir=self.folder)
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise os_error(self.folder, exc, "cannot write to collection folder") from None

    def _check_free(self, need: int) -> None:
        try:
            vfs = os.statvfs(self.folder)
        except OSError:
            return
        free = vfs.f_bavail * vfs.f_frsize
        if free - need < MIN_FREE_BYTES:
            raise CollectionFullError(f"{self.folder}: disk full ({free / 2**20:.0f} MB free; a collection "
                                      f"leaves at least {MIN_FREE_BYTES // 2**20} MB free)")

    # ---- reading ---------------------------------------------------------------------------------
    def _samples(self):
        for label in CLASSES:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                with os.scandir(self.folder / label) as it:
                    for e in it:
                        if not e.name.startswith(".") and e.is_file(follow_symlinks=False):
                            yield label, e

    def stats(self) -> dict:
        """``{samples, counts: {label: n}, originals, bytes}`` as the folder holds them now."""
        counts = dict.fromkeys(CLASSES, 0)
        size = 0
        for label, e in self._samples():
            counts[label] += 1
            size += e.stat(follow_symlinks=False).st_size
        originals = 0
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            with os.scandir(self.folder / ORIGINALS) as it:
                for e in it:
                    if not e.name.startswith(".") and e.is_file(follow_symlinks=False):
                        originals += 1
                        size += e.stat(follow_symlinks=False).st_size
        return {"samples": sum(counts.values()), "counts": counts, "originals": originals, "bytes": size,
                "max_samples": MAX_SAMPLES, "max_bytes": MAX_BYTES}

    # ---- writing ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        import fcntl

        path = self.folder / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise os_error(path, exc, "cannot lock the collection") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one open file per caller: excludes threads and processes alike
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def add(self, image: np.ndarray, label: str, original: bytes = b"") -> Added:
        """Store the model-ready *image* under *label*, with the *original* upload it came from.

        Parameters
        ----------
        image : ndarray of shape (28, 28), dtype=uint8
            What the model saw (the output of ``preprocess``).
        label : str
            ``"0"`` .. ``"9"``: the digit the user says it is.
        original : bytes, default=b""
            The encoded upload (PNG/JPEG/GIF/BMP/WebP; its format names the file).

        Raises
        ------
        ParameterError
            *label* is not a class, or *image* not 28×28 uint8.
        CollectionFullError
            ``MAX_SAMPLES`` or ``MAX_BYTES`` reached, or the disk nearly full (nothing written).
        WriteError, NoPermissionError, CannotCreateError
            The write failed (nothing half-written is left).
        """
        if not isinstance(label, str) or label not in CLASSES:
            raise ParameterError(f"label={str(label)[:20]!r}: must be one of the classes {', '.join(CLASSES)}")
        label = CLASSES[CLASSES.index(label)]  # the path is built from our own string, never the caller's
        image = np.asarray(image)
        if image.shape != (SIZE, SIZE) or image.dtype != np.uint8:
            raise ParameterError(f"image: must be {SIZE}×{SIZE} uint8, got {image.shape} {image.dtype}")
        sha = hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
        png = _ready_png(image)
        name = f"{sha}.png"
        with self._locked():
            where = next((lb for lb in CLASSES if (self.folder / lb / name).is_file()), None)
            if where == label:
                return Added("duplicate", label, sha, None, self.stats()["samples"])
            target = self._label_dir(label) / name
            if where is not None:
                try:
                    os.replace(self.folder / where / name, target)
                except OSError as exc:
                    raise os_error(target, exc, "cannot move sample") from None
                return Added("relabelled", label, sha, where, self.stats()["samples"])
            st = self.stats()
            if st["samples"] >= MAX_SAMPLES:
                raise CollectionFullError(f"{self.folder}: collection full ({MAX_SAMPLES:,} samples, the limit); "
                                          "train with it and collect into a new folder")
            if st["bytes"] + len(png) + len(original) > MAX_BYTES:
                raise CollectionFullError(f"{self.folder}: collection full ({st['bytes'] / 2**20:.0f} MB; the limit "
                                          f"is {MAX_BYTES // 2**20} MB); train with it and collect into a new folder")
            self._check_free(len(png) + len(original))
            kept = self._keep_original(sha, original) if original else None
            try:
                write_bytes(target, png)
            except BaseException:
                if kept is not None:  # no orphan original for a sample that was never written
                    with contextlib.suppress(OSError):
                        kept.unlink()
                raise
            return Added("added", label, sha, None, st["samples"] + 1)

    def _label_dir(self, label: str) -> Path:
        d = self.folder / label
        try:
            os.mkdir(d)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(d).st_mode):  # a symlink planted here must not redirect writes
                raise CannotCreateError(f"{d}: not a folder; the collection's class folders must be folders") from None
        except OSError as exc:
            raise os_error(d, exc, "cannot create folder") from None
        return d

    def _keep_original(self, sha: str, original: bytes) -> Path | None:
        folder = self.folder / ORIGINALS
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                raise CannotCreateError(f"{folder}: not a folder") from None
        except OSError as exc:
            raise os_error(folder, exc, "cannot create folder") from None
        path = folder / f"{sha}.{_original_ext(original)}"
        if path.exists():
            return None
        write_bytes(path, original)
        return path


def _ready_png(image: np.ndarray) -> bytes:
    """A grey PNG of *image* marked model-ready, so the image-folder loader takes it as it is."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(READY_KEY, ready_text(image.shape[0]))
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _original_ext(data: bytes) -> str:
    """File extension of an upload by its content (the client's name or type is never used)."""
    from PIL import Image, UnidentifiedImageError

    from ..decode import FORMATS

    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:  # the header only: no decode
            return _EXT.get(img.format or "", "bin")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return "bin"


"""MNIST and IDX data: reading, checking and downloading.

The IDX format (used by MNIST) is a big-endian header followed by the raw array::

    bytes 0-1   zero
    byte  2     dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64)
    byte  3     number of dimensions ``ndim``
    then        ``ndim`` big-endian uint32 sizes, then the data in C order.

Files may be stored raw or gzipped; gzip is recognised by its magic bytes.
Every failure a user can cause (missing, truncated, corrupt or wrong file) raises
:class:`~neuro_grlu.errors.DataError` with a one-line message naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuro_grlu.errors import DataError
from neuro_grlu.paths import source_checkout

__all__ = [
    "MNIST_FILES",
    "MNIST_MD5",
    "DEFAULT_MIRRORS",
    "DATASETS",
    "Dataset",
    "read_idx",
    "default_data_root",
    "load_idx_dir",
    "load_mnist",
    "download",
    "file_md5",
]

#: Role -> standard (uncompressed) file name. A file may also be present as ``name + '.gz'``.
MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: File name -> MD5 of the canonical MNIST files, gzipped and uncompressed.
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

#: Base URLs of MNIST mirrors, tried in order by :func:`download` (base + file name).
DEFAULT_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

#: Data sets :func:`download` knows about.
DATASETS: tuple[str, ...] = ("mnist",)

_ENV_VAR = "NEURO_GRLU_DATA"
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_HINT = (
    f"run `neuro-grlu download mnist`, or set {_ENV_VAR} to the data root that holds mnist/, "
    "or pass the directory explicitly"
)

# IDX dtype code -> big-endian NumPy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _one_line(exc: BaseException) -> str:
    """An exception as one short line (type and first line of its message)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """An image classification data set held in memory.

    Attributes
    ----------
    name : str
        Short name, e.g. ``'mnist'``.
    path : Path
        Directory the files were loaded from.
    x_train : ndarray of uint8, shape (n_train, rows * cols)
        Training images, flattened row-major, pixel values 0..255.
    y_train : ndarray of uint8, shape (n_train,)
        Training labels in ``0 .. n_classes - 1``.
    x_test : ndarray of uint8, shape (n_test, rows * cols)
        Test images (784 columns for 28x28 MNIST).
    y_test : ndarray of uint8, shape (n_test,)
        Test labels.
    n_classes : int
        Number of classes (10 for MNIST).
    image_shape : tuple of int
        ``(rows, cols)`` of one image as stored (``()`` if unknown).

    The arrays are read-only so that one loaded data set can be shared safely;
    copy them (``x.astype(np.float32) / 255``) before changing them.
    """

    name: str
    path: Path
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int = 10
    image_shape: tuple = ()

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, path={str(self.path)!r}, "
            f"x_train={self.x_train.shape}, x_test={self.x_test.shape}, "
            f"n_classes={self.n_classes})"
        )


# --------------------------------------------------------------------------- reading


def file_md5(path: str | os.PathLike) -> str:
    """Hex MD5 of a file's bytes, read in chunks."""
    digest = hashlib.md5()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {_one_line(exc)}; check the file and its permissions") from exc
    return digest.hexdigest()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, raw or gzipped.

    Parameters
    ----------
    path : str or PathLike
        The file. Gzip is detected from the magic bytes, not the suffix.

    Returns
    -------
    ndarray, shape given by the header
        In native byte order with the header's dtype (uint8 for MNIST).

    Raises
    ------
    DataError
        The file is missing or unreadable, the gzip stream is corrupt or truncated,
        the header is not IDX, or the payload is not exactly ``prod(dims) * itemsize`` bytes.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"IDX file not found: {path}; check the path") from exc
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path}: {_one_line(exc)}; check the file and its permissions") from exc

    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"{path} is a corrupt or truncated gzip file ({_one_line(exc)}); delete it and download it again"
            ) from exc

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        head = raw[:4].hex(" ") or "empty"
        raise DataError(
            f"{path} is not an IDX file (magic bytes {head}, expected 00 00 <dtype 08/09/0b/0c/0d/0e> <ndim>=1+); "
            "check that this is an MNIST-style IDX file"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{path} is truncated: its IDX header needs {header} bytes but the file has {len(raw)}; "
            "delete it and download it again"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(dims) * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        what = "truncated" if actual < expected else "followed by trailing bytes"
        raise DataError(
            f"{path} is {what}: header says shape {dims} of {dtype.name} = {expected} data bytes, "
            f"found {actual}; delete it and download it again"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=True)


# --------------------------------------------------------------------------- loading


def default_data_root() -> Path:
    """Root directory for data sets.

    ``$NEURO_GRLU_DATA`` if set (and not empty), else the source checkout's ``data/``
    directory (:func:`neuro_grlu.paths.source_checkout`). MNIST lives in ``<root>/mnist``.

    Raises
    ------
    DataError
        Neither is available (an installed package with ``$NEURO_GRLU_DATA`` unset): one line
        saying how to point at the data.
    """
    env = os.environ.get(_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    checkout = source_checkout()
    if checkout is None:
        raise DataError(f"no data directory: pass --data DIR (a directory with the MNIST IDX files), set "
                        f"{_ENV_VAR} to a directory holding mnist/, or run from a source checkout "
                        "(fetch MNIST with `neuro-grlu download --dest DIR`)")
    return checkout / "data"


def _find(directory: Path, name: str) -> Path | None:
    """The file ``name`` or ``name.gz`` in ``directory`` (raw preferred), or None."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _has_idx_files(directory: Path) -> bool:
    return any(_find(directory, name) for name in MNIST_FILES.values())


def load_idx_dir(
    path: str | os.PathLike,
    *,
    name: str = "idx",
    md5: Mapping[str, str] | None = None,
    n_classes: int = 10,
) -> Dataset:
    """Load a data set stored as the four standard MNIST-layout IDX files.

    Parameters
    ----------
    path : str or PathLike
        Directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or with ``.gz``.
    name : str
        Name given to the returned :class:`Dataset`.
    md5 : mapping of file name to hex MD5, optional
        Checksums to verify, keyed by the file name as present (with or without
        ``.gz``); files not in the mapping are not checked. None checks nothing.
    n_classes : int
        Labels must lie in ``0 .. n_classes - 1``.

    Returns
    -------
    Dataset
        ``x_*`` uint8 of shape (n, rows * cols), ``y_*`` uint8 of shape (n,).

    Raises
    ------
    DataError
        A directory or file is missing, a checksum differs, a file is malformed,
        or images and labels disagree.
    """
    directory = Path(path).expanduser()
    looked_for = ", ".join(f"{n}[.gz]" for n in MNIST_FILES.values())
    if not directory.is_dir():
        raise DataError(f"data directory {directory} does not exist (looked for {looked_for}); {_HINT}")

    found = {role: _find(directory, fname) for role, fname in MNIST_FILES.items()}
    missing = [MNIST_FILES[role] for role, p in found.items() if p is None]
    if len(missing) == len(MNIST_FILES):
        raise DataError(f"no IDX data files in {directory} (looked for {looked_for}); {_HINT}")
    if missing:
        raise DataError(f"missing in {directory}: {', '.join(f'{m}[.gz]' for m in missing)}; {_HINT}")

    if md5 is not None:
        for file in found.values():
            expected = md5.get(file.name)
            if expected is None:
                continue
            actual = file_md5(file)
            if actual != expected.lower():
                raise DataError(
                    f"{file} is corrupt or not the canonical file (md5 {actual}, expected {expected}); "
                    "delete it and run `neuro-grlu download mnist`"
                )

    arrays = {role: read_idx(p) for role, p in found.items()}
    out: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        img_path, lab_path = found[f"{split}_images"], found[f"{split}_labels"]
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(
                f"{img_path} holds {images.dtype} of shape {images.shape}, expected uint8 images (n, rows, cols); "
                "check that this is an image file"
            )
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise DataError(
                f"{lab_path} holds {labels.dtype} of shape {labels.shape}, expected uint8 labels (n,); "
                "check that this is a label file"
            )
        if len(images) != len(labels):
            raise DataError(
                f"{img_path} has {len(images)} images but {lab_path.name} has {len(labels)} labels; "
                "the files belong to different data sets, download them again"
            )
        if labels.size and int(labels.max()) >= n_classes:
            raise DataError(
                f"{lab_path} contains label {int(labels.max())}, expected labels below {n_classes}; "
                "check that this is the right label file"
            )
        flat = images.reshape(len(images), int(np.prod(images.shape[1:])))  # also for 0 images
        flat.setflags(write=False)
        labels.setflags(write=False)
        out[f"x_{split}"], out[f"y_{split}"] = flat, labels

    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(
            f"{found['train_images']} has images of {arrays['train_images'].shape[1:]} but "
            f"{found['test_images'].name} has {arrays['test_images'].shape[1:]}; the files belong to different data sets"
        )
    return Dataset(name=name, path=directory, n_classes=n_classes,
                   image_shape=tuple(int(d) for d in arrays["train_images"].shape[1:]), **out)


def load_mnist(path: str | os.PathLike | None = None, *, verify_md5: bool = True) -> Dataset:
    """Load MNIST (60000 training and 10000 test images of 28x28).

    Parameters
    ----------
    path : str or PathLike, optional
        Directory with the four MNIST files (raw or ``.gz``). A directory without
        them but with a ``mnist`` subfolder is also accepted. Default
        ``default_data_root() / 'mnist'``.
    verify_md5 : bool
        Check every file against :data:`MNIST_MD5` (gzipped or raw form, whichever is present).

    Returns
    -------
    Dataset
        ``x_train`` uint8 (60000, 784), ``y_train`` uint8 (60000,),
        ``x_test`` uint8 (10000, 784), ``y_test`` uint8 (10000,), ``n_classes`` 10.

    Raises
    ------
    DataError
        Files missing, corrupt, not canonical MNIST, or of the wrong size.
    """
    directory = default_data_root() / "mnist" if path is None else Path(path).expanduser()
    if directory.is_dir() and not _has_idx_files(directory) and (directory / "mnist").is_dir():
        directory = directory / "mnist"
    ds = load_idx_dir(directory, name="mnist", md5=MNIST_MD5 if verify_md5 else None)
    for split, n_expected in (("train", 60000), ("test", 10000)):
        x = getattr(ds, f"x_{split}")
        fname = MNIST_FILES[f"{split}_images"]
        if x.shape != (n_expected, 784):
            raise DataError(
                f"{directory / fname}[.gz] has {x.shape[0]} images of {x.shape[1]} pixels, "
                f"expected MNIST's {n_expected} of 28x28=784; point the loader at the real MNIST files"
            )
    return ds


# --------------------------------------------------------------------------- downloading


def _fetch(url: str, part: Path, *, timeout: float, progress: bool, desc: str) -> str:
    """Stream ``url`` into ``part``; return the hex MD5 of what was written."""
    from tqdm import tqdm

    digest = hashlib.md5()
    request = urllib.request.Request(url, headers={"User-Agent": "neuro-grlu"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as fh:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024,
            desc=desc, file=sys.stderr, disable=not progress, leave=False,
        ) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                fh.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"unreachable ({exc.reason})"
    return _one_line(exc)


def download(
    dataset: str = "mnist",
    dest: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
    md5: Mapping[str, str] | None = None,
) -> Path:
    """Download the four gzipped MNIST files, verifying each MD5.

    Parameters
    ----------
    dataset : str
        Data set name; only ``'mnist'`` is known.
    dest : str or PathLike, optional
        Target directory, created if needed. Default ``default_data_root() / 'mnist'``.
    mirrors : sequence of str, optional
        Base URLs tried in order (``base + file name``). Default :data:`DEFAULT_MIRRORS`.
    timeout : float
        Seconds to wait on each connection.
    progress : bool
        Show a tqdm progress bar on stderr.
    md5 : mapping of file name to hex MD5, optional
        Checksums to use instead of :data:`MNIST_MD5` (for tests and other mirrors' data).

    Returns
    -------
    Path
        The directory holding the files.

    Notes
    -----
    A file already present (gzipped or raw) with the right MD5 is skipped. Each
    download goes to ``name.part`` in ``dest``, is verified, then renamed into place
    with :func:`os.replace`, so an interrupted or bad download leaves no file behind.

    Raises
    ------
    DataError
        Unknown data set, ``dest`` not writable, or every mirror failed for some file.
    """
    key = dataset.strip().lower()
    if key not in DATASETS:
        raise DataError(f"unknown data set {dataset!r}; known data sets: {', '.join(DATASETS)}")
    checksums = dict(MNIST_MD5 if md5 is None else md5)
    bases = list(DEFAULT_MIRRORS if mirrors is None else mirrors)
    if not bases:
        raise DataError("no mirrors given; pass at least one base URL or leave mirrors unset")
    directory = default_data_root() / key if dest is None else Path(dest).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {directory}: {_one_line(exc)}; choose another destination") from exc

    for raw_name in MNIST_FILES.values():
        name = f"{raw_name}.gz"
        if any(
            (directory / n).is_file() and n in checksums and file_md5(directory / n) == checksums[n]
            for n in (name, raw_name)
        ):
            continue
        expected = checksums.get(name)
        target, part = directory / name, directory / f"{name}.part"
        failures = []
        for base in bases:
            url = base if base.endswith("/") else base + "/"
            url += name
            try:
                actual = _fetch(url, part, timeout=timeout, progress=progress, desc=name)
                if expected is not None and actual != expected:
                    raise ValueError(f"md5 {actual}, expected {expected}")
                os.replace(part, target)
                break
            except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, timeouts: OSError
                failures.append(f"{url} ({_describe(exc)})")
            finally:
                part.unlink(missing_ok=True)
        else:
            raise DataError(
                f"could not download {name}: {'; '.join(failures)}; check your internet connection, "
                f"or put the files in {directory} yourself"
            )
    return directory

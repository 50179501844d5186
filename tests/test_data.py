"""Tests for neuro_grlu.data: IDX reading, directory loading, MNIST checks and downloading."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from neuro_grlu import data
from neuro_grlu.data import (
    MNIST_FILES,
    default_data_root,
    download,
    load_idx_dir,
    load_mnist,
    read_idx,
)
from neuro_grlu.errors import DataError

REPO_MNIST = Path(__file__).resolve().parent.parent / "data" / "mnist"
_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray, *, gz: bool = False) -> bytes:
    """The IDX encoding of ``array`` (optionally gzipped)."""
    array = np.asarray(array)
    code = _CODES[array.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    return gzip.compress(payload, mtime=0) if gz else payload


def write_dataset(directory: Path, n_train: int = 20, n_test: int = 10, *, gz: bool = True, seed: int = 0) -> dict:
    """Write a tiny synthetic MNIST-layout data set; return {file name: md5}."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    md5 = {}
    for role, array in arrays.items():
        name = MNIST_FILES[role] + (".gz" if gz else "")
        blob = idx_bytes(array, gz=gz)
        (directory / name).write_bytes(blob)
        md5[name] = hashlib.md5(blob).hexdigest()
    return md5


# --------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, gz, dtype):
    array = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / "a.idx"  # no .gz suffix: gzip must be detected from the magic bytes
    path.write_bytes(idx_bytes(array, gz=gz))
    out = read_idx(path)
    assert out.shape == (2, 3, 4)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_bad_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 10)
    with pytest.raises(DataError, match=r"bad is not an IDX file"):
        read_idx(path)


def test_read_idx_truncated(tmp_path):
    path = tmp_path / "short.gz"
    path.write_bytes(idx_bytes(np.zeros((5, 4), np.uint8))[:-3])
    with pytest.raises(DataError, match=r"short\.gz is truncated.*20 data bytes, found 17"):
        read_idx(path)


def test_read_idx_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.zeros((5, 4), np.uint8)) + b"xy")
    with pytest.raises(DataError, match=r"long is followed by trailing bytes.*20 data bytes, found 22"):
        read_idx(path)


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "hdr"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataError, match="hdr is truncated"):
        read_idx(path)


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_read_idx_bad_gzip(tmp_path, how):
    blob = bytearray(idx_bytes(np.arange(1000, dtype=np.uint8) % 7, gz=True))
    if how == "truncated":
        blob = blob[: len(blob) // 2]
    else:
        blob[len(blob) // 2] ^= 0xFF
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"x\.gz is a corrupt or truncated gzip file") as info:
        read_idx(path)
    assert "\n" not in str(info.value)


def test_read_idx_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


# --------------------------------------------------------------------------- load_idx_dir


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_dir_synthetic(tmp_path, gz):
    write_dataset(tmp_path, 20, 10, gz=gz)
    ds = load_idx_dir(tmp_path, name="tiny", md5=None)
    assert ds.name == "tiny" and ds.path == tmp_path and ds.n_classes == 10
    assert ds.x_train.shape == (20, 784) and ds.x_train.dtype == np.uint8
    assert ds.y_train.shape == (20,) and ds.y_train.dtype == np.uint8
    assert ds.x_test.shape == (10, 784) and ds.y_test.shape == (10,)
    np.testing.assert_array_equal(ds.y_train, np.arange(20) % 10)
    expected = read_idx(tmp_path / (MNIST_FILES["train_images"] + (".gz" if gz else "")))
    np.testing.assert_array_equal(ds.x_train, expected.reshape(20, -1))
    assert not ds.x_train.flags.writeable
    assert "tiny" in repr(ds)


def test_load_idx_dir_md5_ok_and_mismatch(tmp_path):
    md5 = write_dataset(tmp_path)
    load_idx_dir(tmp_path, md5=md5)
    name = MNIST_FILES["test_labels"] + ".gz"
    wrong = dict(md5, **{name: "0" * 32})
    with pytest.raises(DataError, match=rf"{name} is corrupt or not the canonical file.*expected 0{{32}}") as info:
        load_idx_dir(tmp_path, md5=wrong)
    assert md5[name] in str(info.value)


def test_load_idx_dir_missing_file_names_it(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        load_idx_dir(tmp_path)
    msg = str(info.value)
    assert "missing in" in msg and "t10k-labels-idx1-ubyte[.gz]" in msg
    assert "neuro-grlu download mnist" in msg and "NEURO_GRLU_DATA" in msg and "\n" not in msg


def test_load_idx_dir_missing_directory(tmp_path):
    with pytest.raises(DataError, match=r"nope does not exist.*train-images-idx3-ubyte\[\.gz\].*download mnist"):
        load_idx_dir(tmp_path / "nope")


def test_load_idx_dir_count_mismatch(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(idx_bytes(np.zeros(19, np.uint8), gz=True))
    with pytest.raises(DataError, match="has 20 images but train-labels-idx1-ubyte.gz has 19 labels"):
        load_idx_dir(tmp_path)


def test_load_idx_dir_label_out_of_range(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(idx_bytes(np.full(10, 10, np.uint8), gz=True))
    with pytest.raises(DataError, match="contains label 10, expected labels below 10"):
        load_idx_dir(tmp_path)


def test_load_idx_dir_images_not_3d(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(idx_bytes(np.zeros((20, 784), np.uint8), gz=True))
    with pytest.raises(DataError, match=r"expected uint8 images \(n, rows, cols\)"):
        load_idx_dir(tmp_path)


# --------------------------------------------------------------------------- load_mnist / data root


def test_default_data_root_env_override(tmp_path, monkeypatch):
    monkeypatch.delenv("NEURO_GRLU_DATA", raising=False)
    assert default_data_root() == Path(data.__file__).resolve().parent.parent / "data"  # the checkout
    monkeypatch.setenv("NEURO_GRLU_DATA", str(tmp_path))
    assert default_data_root() == tmp_path
    with pytest.raises(DataError, match=str(tmp_path / "mnist") + " does not exist"):
        load_mnist()


def test_load_mnist_uses_mnist_subfolder_and_checks_size(tmp_path):
    write_dataset(tmp_path / "mnist")
    # The synthetic set is found in the subfolder, then rejected as not MNIST-sized.
    with pytest.raises(DataError, match=r"mnist/train-images-idx3-ubyte\[\.gz\] has 20 images.*60000"):
        load_mnist(tmp_path, verify_md5=False)
    # With verification on, the md5 check catches it first.
    with pytest.raises(DataError, match="corrupt or not the canonical file"):
        load_mnist(tmp_path)


def test_load_real_mnist(monkeypatch):
    monkeypatch.setenv("NEURO_GRLU_DATA", str(REPO_MNIST.parent))
    ds = load_mnist()  # -> $NEURO_GRLU_DATA/mnist, md5-verified
    assert ds.path == REPO_MNIST and ds.name == "mnist" and ds.n_classes == 10
    assert ds.x_train.shape == (60000, 784) and ds.x_train.dtype == np.uint8
    assert ds.y_train.shape == (60000,) and ds.y_train.dtype == np.uint8
    assert ds.x_test.shape == (10000, 784) and ds.x_test.dtype == np.uint8
    assert ds.y_test.shape == (10000,) and ds.y_test.dtype == np.uint8
    assert np.bincount(ds.y_train, minlength=10).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(ds.y_test, minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0


# --------------------------------------------------------------------------- download


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requested.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/'srv'; yields (base_url, root, requested paths)."""
    root = tmp_path / "srv"
    root.mkdir()
    requested: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requested": requested})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, requested
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def test_download_with_mirror_fallback(server, tmp_path):
    base, root, requested = server
    md5 = write_dataset(root / "good")
    dest = tmp_path / "dest"
    mirrors = [_closed_port_url(), base + "missing/", base + "good"]  # refused, 404, works (no trailing slash)
    out = download("mnist", dest, mirrors=mirrors, md5=md5, timeout=5, progress=False)
    assert out == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(md5)
    for name, digest in md5.items():
        assert hashlib.md5((dest / name).read_bytes()).hexdigest() == digest
    assert load_idx_dir(dest, md5=md5).x_train.shape == (20, 784)
    assert len([p for p in requested if p.startswith("/missing/")]) == 4


def test_download_all_mirrors_fail_lists_them(server, tmp_path):
    base, root, _ = server
    bad = _closed_port_url()
    with pytest.raises(DataError) as info:
        download(dest=tmp_path / "d", mirrors=[bad, base + "missing/"], md5={}, timeout=5, progress=False)
    msg = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in msg and "\n" not in msg
    assert bad + "train-images-idx3-ubyte.gz (unreachable" in msg
    assert base + "missing/train-images-idx3-ubyte.gz (HTTP 404" in msg


def test_download_md5_mismatch_leaves_nothing(server, tmp_path):
    base, root, _ = server
    md5 = write_dataset(root)
    name = "train-labels-idx1-ubyte.gz"
    wrong = dict(md5, **{name: "f" * 32})
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match=rf"could not download {name}:.*md5 {md5[name]}, expected f{{32}}"):
        download(dest=dest, mirrors=[base], md5=wrong, progress=False)
    left = sorted(p.name for p in dest.iterdir())
    assert left == ["train-images-idx3-ubyte.gz"]  # downloaded before the bad one; no .part, no bad file


def test_download_skips_present_files(server, tmp_path):
    base, root, requested = server
    md5 = write_dataset(root)
    dest = tmp_path / "dest"
    write_dataset(dest)  # same seed: identical bytes, so all md5s match
    (dest / "t10k-images-idx3-ubyte.gz").unlink()
    download(dest=dest, mirrors=[base], md5=md5, progress=False)
    assert requested == ["/t10k-images-idx3-ubyte.gz"]
    requested.clear()
    download(dest=dest, mirrors=[base], md5=md5, progress=False)
    assert requested == []


def test_download_replaces_corrupt_file(server, tmp_path):
    base, root, _ = server
    md5 = write_dataset(root)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    download(dest=dest, mirrors=[base], md5=md5, progress=False)
    assert hashlib.md5((dest / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest() == md5["train-labels-idx1-ubyte.gz"]


def test_download_progress_bar(server, tmp_path, capsys):
    base, root, _ = server
    md5 = write_dataset(root)
    download(dest=tmp_path / "dest", mirrors=[base], md5=md5, progress=True)
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_download_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match="unknown data set 'cifar'; known data sets: mnist"):
        download("cifar", tmp_path)


def test_download_default_dest_uses_data_root(server, tmp_path, monkeypatch):
    base, root, _ = server
    md5 = write_dataset(root)
    monkeypatch.setenv("NEURO_GRLU_DATA", str(tmp_path / "root"))
    assert download(mirrors=[base], md5=md5, progress=False) == tmp_path / "root" / "mnist"
    assert load_idx_dir(tmp_path / "root" / "mnist", md5=md5).x_test.shape == (10, 784)

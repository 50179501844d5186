"""Shared fixtures: a tiny, learnable MNIST-layout data set and a tiny model definition."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from neuro_grlu.data import MNIST_FILES

TINY_TRAIN, TINY_TEST, TINY_CLASSES = 600, 200, 10

TINY_MODEL_TOML = """\
description = "tiny GRLU for tests"

[network]
hidden = [32]
activation = "relu"

[rule]
name = "grlu"
pairs = 4
lr_max = 0.1
sigma_max = 0.1
schedule = "cosine"

[training]
epochs = 2
batch_size = 1
seed = 1
"""


def _blur(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Separable Gaussian blur of a 2-D array (NumPy only, 'same' size)."""
    radius = int(3 * sigma)
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    out = np.apply_along_axis(np.convolve, 0, image, kernel, mode="same")
    return np.apply_along_axis(np.convolve, 1, out, kernel, mode="same")


def _idx_gz(array: np.ndarray) -> bytes:
    """uint8 array -> gzipped IDX bytes (deterministic: mtime 0)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes(), mtime=0)


def make_tiny_mnist(directory: Path, n_train: int = TINY_TRAIN, n_test: int = TINY_TEST, seed: int = 0) -> Path:
    """Write a synthetic 10-class 28x28 data set in the MNIST IDX layout (four .gz files).

    Each class is a distinct blurred random prototype (a few bright blobs); an image is
    its class prototype, randomly scaled and shifted by up to one pixel, plus pixel noise.
    """
    rng = np.random.default_rng(seed)
    prototypes = []
    for _ in range(TINY_CLASSES):
        field = np.zeros((28, 28))
        field[4:24, 4:24] = rng.random((20, 20)) < 0.08  # sparse seeds inside the frame
        p = _blur(field, 1.5)
        prototypes.append(p / p.max())
    prototypes = np.stack(prototypes)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(n) % TINY_CLASSES
        rng.shuffle(labels)
        images = np.empty((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):
            p = np.roll(prototypes[c], tuple(rng.integers(-1, 2, size=2)), axis=(0, 1))
            img = 255 * (rng.uniform(0.6, 1.0) * p) + rng.normal(0, 40, (28, 28))
            images[i] = np.clip(img, 0, 255).astype(np.uint8)
        return images, labels.astype(np.uint8)

    x_train, y_train = sample(n_train)
    x_test, y_test = sample(n_test)
    directory.mkdir(parents=True, exist_ok=True)
    for role, array in (("train_images", x_train), ("train_labels", y_train),
                        ("test_images", x_test), ("test_labels", y_test)):
        (directory / f"{MNIST_FILES[role]}.gz").write_bytes(_idx_gz(array))
    return directory


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    """Directory holding a 600/200-image synthetic MNIST-layout data set (gzipped IDX)."""
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny_mnist"))


@pytest.fixture
def tiny_model_toml(tmp_path) -> Path:
    """Path of a small GRLU model definition (784-32-10, 4 pairs, 2 epochs, seed 1)."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_MODEL_TOML)
    return path

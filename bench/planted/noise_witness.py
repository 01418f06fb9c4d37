#!/usr/bin/env python3
"""Can a neighbour witness tell the flipped evaluation labels of flags_eval.py part 2 at all?

For every noisy-evaluation table that flags_eval.py wrote (`data_eval_noise.parquet` in each rare
and correlation setting), this measures, outside slicescope, what any neighbour-vote label-noise
test could see there, whatever slice it is asked about:

* per view (`act`: the model's hidden layer; `fm`: the foundation model), the misclassified rows
  whose 10 nearest rows (Euclidean; `fm` rows L2-normalised) mostly carry the prediction
  (*suspects*), with and without the confidence gate of confident learning (the predicted class's
  probability at least the mean over rows predicted as that class); for each, the share of
  flipped errors that are suspects (recall) and the share of suspects that are flipped
  (precision);
* a region search told only the noisy subgroup's size (flipped rows / `--eval-noise`): among the
  rows carrying the label the flipped rows were given, the neighbourhood of that many of them
  (cosine, `fm`) richest in gated `act` suspects, and how many flipped rows it holds. A slicer
  aimed at suspects could hardly do better.

    bench/.cache/planted/venvs/bench/bin/python bench/planted/noise_witness.py

Writes results/noise-witness.json; needs numpy, pyarrow, and flags_eval.py run first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from evaluate import HERE, SETTINGS, write_json

K = 10


def neighbour_votes(x: np.ndarray, of: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Per row, the share of its K nearest other rows whose label equals `of[row]`."""
    sq = (x * x).sum(1)
    out = np.empty(len(x))
    for s in range(0, len(x), 2048):
        d = sq[s:s + 2048, None] - 2 * x[s:s + 2048] @ x.T + sq[None]
        d[np.arange(len(d)), np.arange(s, s + len(d))] = np.inf
        nb = np.argpartition(d, K, axis=1)[:, :K]
        out[s:s + 2048] = (label[nb] == of[s:s + 2048, None]).mean(1)
    return out


def one(d: Path, eval_noise: float) -> dict:
    clean = pq.read_table(d / "data.parquet")
    noisy = pq.read_table(d / "data_eval_noise.parquet")
    label0 = np.asarray(clean.column("label").to_pylist(), dtype=object)
    label = np.asarray(noisy.column("label").to_pylist(), dtype=object)
    pred = np.asarray(noisy.column("pred").to_pylist(), dtype=object)
    pred_id = np.asarray(noisy.column("pred_id").to_pylist())
    conf = np.load(d / "probs.npy")[np.arange(len(pred)), pred_id]
    thr = {c: conf[pred == c].mean() for c in set(pred.tolist())}
    confident = conf >= np.array([thr[p] for p in pred])
    flip, err = label0 != label, label != pred
    out = {"rows": int(len(label)), "errors": int(err.sum()),
           "flipped_errors": int((flip & err).sum()), "views": {}}
    gated = {}
    for v in ("act", "fm"):
        x = np.load(d / f"{v}.npy").astype(np.float32)
        if v == "fm":
            x /= np.linalg.norm(x, axis=1, keepdims=True)
        sus = err & (neighbour_votes(x, pred, label) > 0.5)
        gated[v] = sus & confident
        out["views"][v] = {
            name: {"suspects": int(s.sum()),
                   "recall": float(s[flip & err].mean()) if (flip & err).any() else None,
                   "precision": float(flip[s].mean()) if s.any() else None}
            for name, s in (("votes", sus), ("votes_and_confidence", gated[v]))}
    to = label[flip][0]
    cls = np.flatnonzero(label == to)
    f = np.load(d / "fm.npy").astype(np.float32)[cls]
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    m = min(len(cls), max(K, round(flip.sum() / eval_noise)))
    near = np.argsort(-(f @ f.T), axis=1)[:, :m]
    rate = gated["act"][cls][near].mean(1)
    best = cls[near[int(np.argmax(rate))]]
    out["region"] = {"rows": int(m), "suspect_rate": float(rate.max()),
                     "suspect_rate_in_label": float(gated["act"][cls].mean()),
                     "flipped_in_region": int(flip[best].sum()), "flipped": int(flip.sum())}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "results/noise-witness.json")
    ap.add_argument("--eval-noise", type=float, default=0.3,
                    help="the share flags_eval.py flipped (sizes the region search)")
    args = ap.parse_args()
    runs = {}
    for d in sorted(SETTINGS.iterdir()):
        if (d / "data_eval_noise.parquet").exists():
            r = runs[d.name] = one(d, args.eval_noise)
            a, fm = r["views"]["act"]["votes_and_confidence"], r["views"]["fm"]["votes_and_confidence"]
            print(f"{d.name:24s} errors {r['errors']:5d} flipped {r['flipped_errors']:4d} | gated "
                  f"suspects act {a['suspects']:4d} (precision {a['precision'] or 0:.2f}) fm "
                  f"{fm['suspects']:4d} ({fm['precision'] or 0:.2f}) | best region holds "
                  f"{r['region']['flipped_in_region']}/{r['region']['flipped']} flipped", flush=True)
    if not runs:
        print("no data_eval_noise.parquet: run flags_eval.py first", file=sys.stderr)
        return 2
    summary = {}
    for ds in ("fashion", "rt"):
        rs = [r for k, r in runs.items() if k.startswith(ds)]
        summary[ds] = {
            "runs": len(rs),
            "median_precision": {
                f"{v}/{g}": float(np.median([r["views"][v][g]["precision"] or 0 for r in rs]))
                for v in ("act", "fm") for g in ("votes", "votes_and_confidence")},
            "region_holds_half_the_flipped": sum(
                2 * r["region"]["flipped_in_region"] >= r["region"]["flipped"] for r in rs)}
    write_json(args.out, {"k": K, "eval_noise": args.eval_noise, "summary": summary, "runs": runs})
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run Domino 0.1.5 (`domino.DominoSlicer`) on a batch of (embedding, labels, probabilities) jobs.

Runs in the Python 3.9 venv of bench/planted/README.md (domino 0.1.5, meerkat-ml 0.2.4,
scikit-learn 0.24.2); started by run_benchmark.py as a child process:

    VENV39/bin/python bench/planted/run_domino.py JOBS.json

JOBS.json is a list of {"emb": .npy (n x d), "y": .npy (n ints 0..C-1), "probs": .npy (n x C),
"out": .npy, "seed": int, "init": "confusion" | "kmeans"}.  For each job it writes `out`: float32 n x n_slices, the per-row slice
probabilities `predict_proba` (columns = Domino's selected slices), and `out` + ".json" with the
configuration and fit time.  Jobs whose output exists are skipped.

Configuration (documented in README.md): DominoSlicer(n_slices=5, n_mixture_components=25,
y_log_likelihood_weight=10, y_hat_log_likelihood_weight=10, n_pca_components=min(128, d, n),
covariance_type="diag", init_params=job["init"] ("confusion", the 0.1.5 default, or "kmeans",
the default at Domino's HEAD; 0.1.5 has no dcbench "error" init), max_iter=100, random_state=seed), then slicer.mm.reg_covar = 1e-3 before fit (PEERS.md).  Fit and predict on the
same rows (the evaluated rows), as slicescope sees them.
"""

import json
import sys
import time
import warnings

import numpy as np

N_SLICES = 5
N_COMPONENTS = 25
WEIGHT = 10.0
PCA_MAX = 128
REG_COVAR = 1e-3


def run_job(job):
    from domino import DominoSlicer

    emb = np.load(job["emb"]).astype(np.float64)
    y = np.load(job["y"]).astype(int)
    probs = np.load(job["probs"]).astype(np.float64)
    n, d = emb.shape
    n_pca = int(min(PCA_MAX, d, n))
    cfg = dict(n_slices=N_SLICES, n_mixture_components=N_COMPONENTS,
               y_log_likelihood_weight=WEIGHT, y_hat_log_likelihood_weight=WEIGHT,
               n_pca_components=n_pca, covariance_type="diag", init_params=job.get("init", "confusion"),
               max_iter=100, random_state=int(job["seed"]) % (2**31))
    t = time.time()
    attempts = []
    for attempt in range(3):
        slicer = DominoSlicer(**{**cfg, "random_state": cfg["random_state"] + attempt})
        slicer.mm.reg_covar = REG_COVAR
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                slicer.fit(embeddings=emb, targets=y, pred_probs=probs)
                p = slicer.predict_proba(embeddings=emb, targets=y, pred_probs=probs)
            break
        except Exception as e:  # ill-defined covariance etc.: retry with the next seed
            attempts.append(repr(e))
    else:
        raise RuntimeError(f"Domino failed 3 times on {job['emb']}: {attempts}")
    secs = time.time() - t
    np.save(job["out"], np.asarray(p, dtype=np.float32))
    with open(job["out"] + ".json", "w") as f:
        json.dump({"config": {**cfg, "reg_covar": REG_COVAR}, "fit_predict_seconds": secs,
                   "failed_attempts": attempts, "shape": list(np.shape(p))}, f)
    return secs


def main():
    import os

    jobs = json.load(open(sys.argv[1]))
    for i, job in enumerate(jobs):
        if os.path.exists(job["out"]) and os.path.exists(job["out"] + ".json"):
            continue
        secs = run_job(job)
        print(f"[domino {i + 1}/{len(jobs)}] {job['out']} {secs:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

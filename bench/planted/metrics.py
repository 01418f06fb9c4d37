"""The slice-discovery metrics of Domino's evaluation (dcbench; ALGORITHMS.md C1).

For one planted (ground-truth) slice, every discovered slice *and its complement* is scored:
average precision (sklearn `average_precision_score` of the membership scores against the mask),
precision-at-10 and precision-at-25 (fraction of the 10 / 25 highest-scored rows that lie in the
planted slice; ties broken by row order, i.e. a stable sort). The discovered slice (or complement)
with the highest AP is kept; its P@10, P@25 and AP are reported; the planted slice is "recovered"
when that best match has P@10 >= 0.6.
"""

from __future__ import annotations

import numpy as np

RECOVERED_P10 = 0.6


def precision_at_k(scores: np.ndarray, mask: np.ndarray, k: int) -> float:
    order = np.argsort(-scores, kind="stable")  # highest first, ties in row order
    return float(mask[order[:k]].mean())


def average_precision(scores: np.ndarray, mask: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    if not mask.any():
        return float("nan")
    return float(average_precision_score(mask.astype(int), scores))


def best_match(membership: np.ndarray, mask: np.ndarray) -> dict:
    """membership: n x m (column j = scores of discovered slice j, higher = more member).

    Returns {ap, p10, p25, slice (column index or None), complement (bool), recovered}.
    With no discovered slice (m == 0) every metric is 0."""
    membership = np.asarray(membership, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if membership.ndim != 2 or membership.shape[0] != mask.shape[0]:
        raise ValueError(f"membership {membership.shape} does not match mask {mask.shape}")
    best = {"ap": 0.0, "p10": 0.0, "p25": 0.0, "slice": None, "complement": False}
    best_ap = -1.0
    for j in range(membership.shape[1]):
        col = membership[:, j]
        col = np.where(np.isfinite(col), col, np.nanmin(col[np.isfinite(col)]) if np.isfinite(col).any() else 0.0)
        for comp, s in ((False, col), (True, -col)):
            ap = average_precision(s, mask)
            if ap > best_ap:
                best_ap = ap
                best = {"ap": ap, "p10": precision_at_k(s, mask, 10), "p25": precision_at_k(s, mask, 25),
                        "slice": j, "complement": comp}
    best["recovered"] = bool(best["p10"] >= RECOVERED_P10)
    return best

#!/usr/bin/env python3
"""What does the reference tool, cleanlab, see in flags_eval.py's noisy evaluation labels?

flags_eval.py part 2 flips 30% of the evaluated labels of one subgroup per rare and correlation
setting (27 tables). This runs confident learning as published, cleanlab's
`filter.find_label_issues(labels, pred_probs)` with its defaults, on each noisy table, with the
model's held-out probabilities (`probs.npy`; the model never saw the evaluated rows), and reports:

* per row: how many label issues cleanlab finds, the share of them that are flipped rows
  (precision) and the share of flipped rows found (recall);
* per slice, told the true noisy subgroup (an oracle slice, which no slicer is given): the share
  of the subgroup's errors that cleanlab calls issues, against the share among the errors outside
  it, and whether that passes slicescope's slice-level rule with its default thresholds (at least
  10 issues, at least half of the subgroup's errors, at least twice the share outside) with most
  of the subgroup's issues flipped rows ("on the noise").

No neighbour vote is involved: this is what the model's probabilities alone can tell. It needs
the bench venv with cleanlab (requirements-bench.txt), and the settings of results/planted.json:

    bench/.cache/planted/venvs/bench/bin/python bench/planted/cleanlab_noise.py

Writes results/cleanlab-noise.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

import common
from evaluate import HERE, SETTINGS, write_json
from flags_eval import noisy_subgroup
from make_data import SENTIMENT

MIN_ISSUES, MIN_SHARE, MIN_RATIO = 10, 0.5, 2.0  # slicescope's [label_noise] defaults


def one(sid: str, meta: dict, eval_noise: float) -> dict:
    from cleanlab.filter import find_label_issues

    spec = meta["spec"]
    d = SETTINGS / sid
    table = pq.read_table(d / "data.parquet")
    planted = np.load(d / "truth.npz")["s0"]
    what, rows, flip, label = noisy_subgroup(spec, table, planted, eval_noise)
    names = common.SUPER_NAMES if spec["dataset"] == "fashion" else SENTIMENT
    ids = np.array([names.index(x) for x in label])
    probs = np.load(d / "probs.npy").astype(np.float64)
    probs /= probs.sum(1, keepdims=True)
    issues = find_label_issues(labels=ids, pred_probs=probs)
    flipped = np.zeros(len(ids), bool)
    flipped[flip] = True
    group = np.zeros(len(ids), bool)
    group[rows] = True
    errors = probs.argmax(1) != ids
    in_err, out_err = errors & group, errors & ~group
    n_in = int((issues & in_err).sum())
    share_in = n_in / max(1, int(in_err.sum()))
    share_out = float((issues & out_err).sum() / max(1, int(out_err.sum())))
    passes = n_in >= MIN_ISSUES and share_in >= MIN_SHARE and share_in >= MIN_RATIO * share_out
    on_noise = 2 * int((issues & group & flipped).sum()) > int((issues & group).sum())
    return {"setting": sid, "dataset": spec["dataset"], "subgroup": what,
            "subgroup_rows": int(group.sum()), "flipped": int(flipped.sum()),
            "errors": int(errors.sum()), "issues": int(issues.sum()),
            "issues_flipped": int((issues & flipped).sum()),
            "precision": float((issues & flipped).sum() / max(1, int(issues.sum()))),
            "recall": float((issues & flipped).sum() / flipped.sum()),
            "subgroup_errors": int(in_err.sum()), "subgroup_issue_share": share_in,
            "outside_issue_share": share_out, "oracle_flagged": bool(passes),
            "oracle_on_noise": bool(passes and on_noise)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--planted", type=Path, default=HERE / "results/planted.json")
    ap.add_argument("--out", type=Path, default=HERE / "results/cleanlab-noise.json")
    ap.add_argument("--eval-noise", type=float, default=0.3,
                    help="share of the subgroup's evaluated labels flipped (as flags_eval.py)")
    args = ap.parse_args()
    try:
        import cleanlab
    except ImportError:
        print("error: cleanlab is not installed in this venv: pip install -r "
              "bench/planted/requirements-bench.txt", file=sys.stderr)
        return 2
    settings = json.loads(args.planted.read_text())["settings"]
    out = []
    for sid, meta in settings.items():
        if meta["spec"]["type"] not in ("rare", "correlation"):
            continue
        r = one(sid, meta, args.eval_noise)
        out.append(r)
        print(f"{sid:26s} {r['subgroup']:34s} issues {r['issues']:5d} precision "
              f"{r['precision']:.2f} recall {r['recall']:.2f}; subgroup {r['subgroup_issue_share']:.2f}"
              f" vs outside {r['outside_issue_share']:.2f}: "
              f"{'FLAGGED on the noise' if r['oracle_on_noise'] else 'flagged' if r['oracle_flagged'] else '-'}",
              flush=True)
    summary = {}
    for ds in ("fashion", "rt"):
        rs = [r for r in out if r["dataset"] == ds]
        summary[ds] = {
            "runs": len(rs),
            "median_precision": float(np.median([r["precision"] for r in rs])),
            "median_recall": float(np.median([r["recall"] for r in rs])),
            "oracle_flagged_on_noise": sum(r["oracle_on_noise"] for r in rs)}
        s = summary[ds]
        print(f"{ds}: {s['runs']} runs, cleanlab's label issues median precision "
              f"{s['median_precision']:.2f}, recall {s['median_recall']:.2f}; the true noisy "
              f"subgroup passes the slice rule on the noise in {s['oracle_flagged_on_noise']}")
    write_json(args.out, {"cleanlab": cleanlab.__version__, "flip_share": args.eval_noise,
                          "rule": {"min_issues": MIN_ISSUES, "min_share": MIN_SHARE,
                                   "min_ratio": MIN_RATIO},
                          "summary": summary, "runs": out})
    return 0


if __name__ == "__main__":
    sys.exit(main())

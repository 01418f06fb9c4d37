#!/usr/bin/env python3
"""False discoveries on data with no planted failure: errors at random.

For every setting of the planted benchmark (the cached tables and views that run_benchmark.py
built), replace the model's predictions by ones whose errors are independent of everything: each
row keeps its true label and is predicted wrongly with the setting's own overall error rate, as a
uniformly chosen other class. The views and labels are unchanged, so the class structure of the
views is intact but no region, class or attribute errs more than another. slicescope then runs
with its defaults (held-out testing of embedding slices, slices with q >= 0.05 hidden) on both
views, and the script counts the runs that list any slice. Target (issue 4): no slice in >= 95% of
runs. With --repeats R each setting gets R independent draws of random errors (R x 52 runs), which
narrows the estimate: 52 runs cannot tell a true rate of 95% from 90% (binomial standard error 3
points), 156 runs halve that.

    bench/.cache/planted/venvs/bench/bin/python bench/planted/null_runs.py

Writes results/null.json; needs numpy and pyarrow, and the settings cached by run_benchmark.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from evaluate import DEFAULT_BIN, HERE, SETTINGS, SLICERS, check_binary, scan, write_json


def null_table(src: Path, dst: Path, seed: int) -> float:
    """Write `dst`: `src` with predictions whose errors are random; return the error rate."""
    t = pq.read_table(src, columns=["label_id", "pred_id"])
    y = t.column("label_id").to_numpy()
    p = t.column("pred_id").to_numpy()
    rate = float(np.mean(y != p))
    classes = np.unique(np.concatenate([y, p]))
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(y)) < rate
    shift = rng.integers(1, len(classes), size=len(y))
    idx = np.searchsorted(classes, y)
    pred = np.where(wrong, classes[(idx + shift) % len(classes)], y)
    pq.write_table(pa.table({"label": y, "pred": pred}), dst)
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slicescope-bin", type=Path, default=DEFAULT_BIN)
    ap.add_argument("--planted", type=Path, default=HERE / "results/planted.json",
                    help="results of run_benchmark.py (the kept settings and their seeds)")
    ap.add_argument("--out", type=Path, default=HERE / "results/null.json")
    ap.add_argument("--config", type=Path, help="a slicescope TOML configuration (default: none)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="independent draws of random errors per setting (default 3)")
    args = ap.parse_args()
    if args.repeats < 1:
        print("error: --repeats must be at least 1", file=sys.stderr)
        return 2
    if not check_binary(args.slicescope_bin):
        return 2
    settings = json.loads(args.planted.read_text())["settings"]
    runs = []
    for sid, meta in settings.items():
        d = SETTINGS / sid
        if not (d / "data.parquet").exists():
            print(f"error: {d} is missing; run run_benchmark.py first", file=sys.stderr)
            return 2
        work = d / "null"
        work.mkdir(exist_ok=True)
        for rep in range(args.repeats):
            # Repeat 0 keeps the seed of the single-draw runs before --repeats.
            seed = (int(meta["spec"]["seed"]) + 7919 * rep) % (2**31)
            rate = null_table(d / "data.parquet", work / "data.parquet", seed)
            out = work / "ss.json"
            t = time.time()
            res = scan(args.slicescope_bin, work / "data.parquet", d, seed, out, ["--no-members"]
                       + (["--config", str(args.config)] if args.config else []))
            if res is None:
                return 3
            listed = len(res["slices"])
            runs.append({"setting": sid, "repeat": rep, "error_rate": rate, "listed": listed,
                         "hypotheses": res["search"]["hypotheses"],
                         "min_q": min((s["stats"]["q_value"] for s in res["slices"]),
                                      default=None),
                         "slicers": sorted({s["slicer"] for s in res["slices"]}),
                         "seconds": round(time.time() - t, 2)})
            print(f"{sid:28s} #{rep} error rate {rate:.3f}  slices listed {listed}", flush=True)
    clean = sum(r["listed"] == 0 for r in runs)
    share = clean / len(runs)
    # Normal-approximation 95% interval of the share (Wilson).
    z, m = 1.96, len(runs)
    centre = (share + z * z / (2 * m)) / (1 + z * z / m)
    half = z * ((share * (1 - share) / m + z * z / (4 * m * m)) ** 0.5) / (1 + z * z / m)
    summary = {"runs": len(runs), "repeats": args.repeats, "runs_without_slices": clean,
               "share_without_slices": share,
               "share_interval": [round(centre - half, 4), round(centre + half, 4)],
               "target": 0.95, "met": share >= 0.95,
               "command": "slicescope scan null.parquet --label label --pred pred --view act=... "
                          f"--view fm=... --slicers {SLICERS} (defaults otherwise)",
               "config": args.config.read_text() if args.config else None}
    write_json(args.out, {"summary": summary, "runs": runs})
    lo, hi = summary["share_interval"]
    print(f"no slice listed in {clean} of {len(runs)} runs ({100 * share:.1f}%, 95% interval "
          f"{100 * lo:.1f}-{100 * hi:.1f}%; target >= 95%): {'met' if summary['met'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

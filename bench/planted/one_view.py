#!/usr/bin/env python3
"""Recall on one dataset's settings and one view alone, under a slicescope configuration.

The planted benchmark's weakest view is all-MiniLM-L6-v2 on the Rotten Tomatoes settings (10% of
their planted slices recovered, Domino with k-means 39%). This script isolates one view, to try
slicer settings quickly: for every cached setting of `--dataset`, slicescope runs on `--view` only,
with the given `--config` (a slicescope TOML, e.g. `[mixture]` or `[views]` sections) and slicers,
and each planted slice is scored against the first `--budget` slices as in run_benchmark.py (best
AP of a slice or its complement; its P@10; recovered when P@10 >= 0.6).

    bench/.cache/planted/venvs/bench/bin/python bench/planted/one_view.py \\
        [--dataset rt] [--view fm] [--config my.toml] [--slicers mixture] [--budget 5]

Needs the settings cached by run_benchmark.py; prints one line per planted slice and the means.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import metrics
from evaluate import DEFAULT_BIN, SETTINGS, check_binary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slicescope-bin", type=Path, default=DEFAULT_BIN)
    ap.add_argument("--config", type=Path, help="a slicescope TOML configuration (default: none)")
    ap.add_argument("--dataset", choices=("rt", "fashion"), default="rt")
    ap.add_argument("--view", choices=("act", "fm"), default="fm")
    ap.add_argument("--slicers", default="mixture,spotlight,direction")
    ap.add_argument("--budget", type=int, default=5, help="slices scored, best first (default 5)")
    args = ap.parse_args()
    if not check_binary(args.slicescope_bin):
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for d in sorted(SETTINGS.glob(f"{args.dataset}-*")):
            meta = json.loads((d / "meta.json").read_text())
            if not (d / "truth.npz").exists() or not (d / "ss_combined.json").exists():
                continue  # a rejected candidate
            out_json, out_m = Path(tmp) / "out.json", Path(tmp) / "membership.npy"
            cmd = [str(args.slicescope_bin), "scan", str(d / "data.parquet"), "--label", "label",
                   "--pred", "pred", "--view", f"{args.view}={d / (args.view + '.npy')}", "--slicers", args.slicers,
                   "--json", str(out_json), "--membership", str(out_m),
                   "--seed", str(int(meta["spec"]["seed"]) % (2**31)), "--quiet", "--force"]
            if args.config:
                cmd += ["--config", str(args.config)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                print(f"{d.name}: slicescope failed: {p.stderr[-1000:]}", file=sys.stderr)
                return 3
            memb = np.load(out_m)[:, : args.budget]
            truth = np.load(d / "truth.npz")
            for key in sorted(truth.files):
                mask = truth[key].astype(bool)
                best = metrics.best_match(memb, mask)
                rows.append((best["p10"], best["ap"]))
                print(f"{d.name:22s} {key}  {int(mask.sum()):4d} rows  P@10 {best['p10']:.1f}  "
                      f"AP {best['ap']:.2f}", flush=True)
    if not rows:
        print(f"no cached {args.dataset} settings; run run_benchmark.py first", file=sys.stderr)
        return 2
    p10 = float(np.mean([r[0] for r in rows]))
    ap_ = float(np.mean([r[1] for r in rows]))
    rec = float(np.mean([r[0] >= metrics.RECOVERED_P10 for r in rows]))
    print(f"{len(rows)} planted slices, {args.dataset} {args.view} view, first {args.budget} slices: mean P@10 {p10:.2f}, "
          f"AP {ap_:.2f}, recovered {100 * rec:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

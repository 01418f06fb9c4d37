#!/usr/bin/env python3
"""Do the phrases name the planted concept? (text settings, all-MiniLM-L6-v2 vocabulary)

For every Rotten Tomatoes setting whose planted slices are topic subgroups (rare and noisy-label
slices: snippets about a topic, defined in make_data.TOPICS by a regular expression), slicescope
runs with its defaults on both views and a phrase vocabulary for the sentence-embedding view `fm`.
The vocabulary is generic, not made for the benchmark: the 2,000 most frequent words and word
pairs of the whole corpus, embedded with the same all-MiniLM-L6-v2 model by scripts/make_vocab.py:

    python scripts/make_vocab.py --from-corpus <rotten_tomatoes_corpus_full.csv.bz2> \\
        --column text --top 2000 -o bench/.cache/planted/rt_vocab.parquet

For each planted slice, the listed slice that overlaps it most (Jaccard) is taken; the planted
concept counts as named when one of that slice's top 3 phrases matches the topic's own regular
expression (e.g. "funny" or "romantic comedy" for comedy). Target (issue 4): >= 60%.

    bench/.cache/planted/venvs/bench/bin/python bench/planted/phrases_eval.py

Writes results/phrases.json; needs numpy and the settings cached by run_benchmark.py.

`--master-seed N` (N > 0) runs on held-out settings instead: the Rotten Tomatoes rare, noisy-label
and multi settings drawn and selected by make_data.py from master seed N, with the same rules, and
built here (a few seconds each). Their ids start with `mN-`; results/phrases-m<N>.json by default.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from evaluate import DEFAULT_BIN, HERE, ROOT, SETTINGS, best_match, check_binary, scan, write_json
from make_data import TOPICS, select_settings

# the Rotten Tomatoes groups whose settings plant topic subgroups
TOPIC_GROUPS = [("rt", "rare"), ("rt", "noisy_label"), ("rt", "multi")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slicescope-bin", type=Path, default=DEFAULT_BIN)
    ap.add_argument("--planted", type=Path, default=HERE / "results/planted.json")
    ap.add_argument("--vocab", type=Path, default=ROOT / "bench/.cache/planted/rt_vocab.parquet")
    ap.add_argument("--out", type=Path,
                    help="default results/phrases.json (results/phrases-m<N>.json with --master-seed N)")
    ap.add_argument("--config", type=Path, help="a slicescope TOML configuration (default: none)")
    ap.add_argument("--master-seed", type=int, default=0,
                    help="0: the benchmark's settings (from --planted); N > 0: held-out settings "
                    "drawn from master seed N and built here")
    args = ap.parse_args()
    if args.out is None:
        args.out = HERE / ("results/phrases.json" if args.master_seed == 0
                           else f"results/phrases-m{args.master_seed}.json")
    if args.config is not None and not args.config.is_file():
        ap.error(f"--config {args.config}: no such file")
    if not check_binary(args.slicescope_bin):
        return 2
    if not args.vocab.exists():
        print(f"error: {args.vocab} not found; build it with scripts/make_vocab.py (see this "
              "script's doc)", file=sys.stderr)
        return 2
    if args.master_seed:
        built, _ = select_settings(master_seed=args.master_seed, groups=TOPIC_GROUPS,
                                   log=lambda m: print(m, flush=True))
        settings = {spec["id"]: meta for spec, _, meta in built}
    else:
        settings = json.loads(args.planted.read_text())["settings"]
    rows = []
    for sid, meta in settings.items():
        if meta["spec"]["dataset"] != "rt":
            continue
        topical = [(i, s) for i, s in enumerate(meta["slices"])
                   if s["kind"] in ("rare", "noisy_label") and "topic" in s]
        if not topical:
            continue
        d = SETTINGS / sid
        truth = np.load(d / "truth.npz")
        out = d / "phrases.json"
        seed = int(meta["spec"]["seed"]) % (2**31)
        res = scan(args.slicescope_bin, d / "data.parquet", d, seed, out,
                   ["--vocab", f"fm={args.vocab}"]
                   + (["--config", str(args.config)] if args.config else []))
        if res is None:
            return 3
        for i, s in topical:
            mask = set(np.flatnonzero(truth[f"s{i}"]).tolist())
            best, best_j = best_match(mask, res["slices"])
            top = [t["phrase"] for t in (best["phrases"]["top"] if best and best["phrases"] else [])][:3]
            pattern = re.compile(TOPICS[s["topic"]])
            named = any(pattern.search(ph.lower()) for ph in top)
            rows.append({"setting": sid, "slice": i, "kind": s["kind"], "topic": s["topic"],
                         "best_jaccard": round(best_j, 3), "top3": top, "named": named})
            print(f"{sid:22s} s{i} {s['kind']:12s} {s['topic']:16s} best J {best_j:.2f}  "
                  f"top 3: {top}  {'NAMED' if named else ''}", flush=True)
    named = sum(r["named"] for r in rows)
    share = named / len(rows) if rows else 0.0
    summary = {"planted_slices": len(rows), "named": named, "share_named": share, "target": 0.6,
               "met": share >= 0.6, "vocabulary": "2,000 most frequent words and word pairs of the "
               "corpus (scripts/make_vocab.py --from-corpus ... --top 2000), all-MiniLM-L6-v2",
               "config": args.config.read_text() if args.config else None,
               "master_seed": args.master_seed}
    write_json(args.out, {"summary": summary, "slices": rows})
    print(f"the planted topic is among the top 3 phrases for {named} of {len(rows)} planted "
          f"slices ({100 * share:.0f}%; target >= 60%): {'met' if summary['met'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The five measured targets of issue 4 (descriptions and diagnosis), in one table.

Reads the results that the benchmark's scripts wrote (it runs nothing) and prints each rate next
to its target:

- the attribute rule names the planted slice exactly, >= 70% (`naming.py`);
- the planted topic is among the top 3 phrases, >= 60% (`phrases_eval.py`, and on the held-out
  settings `phrases_eval.py --master-seed 1` and `2`);
- noisy evaluation labels are flagged as label noise, >= 80% (`flags_eval.py`, part 2);
- clean rare and correlation slices are flagged as label noise, <= 10% (`flags_eval.py`);
- no slice is listed on errors at random, >= 95% of runs (`null_runs.py`).

    python3 bench/planted/targets.py                      # schema 2.5's defaults
    python3 bench/planted/targets.py --flags results/flags-probs-2.5.json   # with --probs

Needs only the Python standard library. Exit code 0 when every target is met, 1 otherwise,
2 when a results file is missing or not what its script writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


class Unreadable(Exception):
    pass


def load(path: Path) -> dict:
    try:
        with path.open() as f:
            return json.load(f)
    except FileNotFoundError:
        raise Unreadable(f"{path}: not found; run the script that writes it (see --help)")
    except json.JSONDecodeError as e:
        raise Unreadable(f"{path}: not JSON ({e})")


def field(d: dict, path: Path, *keys: str):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            raise Unreadable(f"{path}: no '{'.'.join(keys)}'; is it the output of the right script?")
        d = d[k]
    return d


def rows(args: argparse.Namespace) -> list[tuple[str, int, int, str, bool | None, str]]:
    """(target, count, of, target text, met or None for a line shown only, source) per line;
    shares are compared in integers, so that a rate exactly at its target meets it."""
    out = []
    naming = load(args.naming)
    s = field(naming, args.naming, "summary")
    n, k = field(s, args.naming, "planted_slices"), field(s, args.naming, "exact")
    out.append(("attribute rule names the planted slice exactly", k, n, ">= 70%", 100 * k >= 70 * n,
                args.naming.name))

    def phrases(label: str, path: Path) -> tuple[str, int, int, str, bool | None, str]:
        s = field(load(path), path, "summary")
        n, k = field(s, path, "planted_slices"), field(s, path, "named")
        return (label, k, n, ">= 60%", 100 * k >= 60 * n, path.name)

    out.append(phrases("planted topic among the top 3 phrases", args.phrases))
    # Each held-out file is shown; the target applies to them together.
    held = [phrases(f"  held-out settings, file {i + 1}", p) for i, p in enumerate(args.held_out)]
    out += [(name, k, n, asked, None, src) for name, k, n, asked, _, src in held]
    if held:
        named, tot = sum(r[1] for r in held), sum(r[2] for r in held)
        out.append(("  held-out settings, together", named, tot, ">= 60%", 100 * named >= 60 * tot, ""))

    flags = load(args.flags)
    s = field(flags, args.flags, "summary")
    noisy = field(s, args.flags, "noisy_eval_labels_flagged")
    n, k = field(noisy, args.flags, "runs"), field(noisy, args.flags, "flagged")
    by = noisy.get("by_dataset", {})
    note = ", ".join(f"{ds} {v}" for ds, v in sorted(by.items()))
    out.append((f"noisy labels flagged as label noise ({note})", k, n, ">= 80%", 100 * k >= 80 * n,
                args.flags.name))
    clean = [field(s, args.flags, kind) for kind in ("rare", "correlation")]
    n = sum(c["planted_slices"] for c in clean)
    k = sum(c["label_noise_flagged"] for c in clean)
    out.append(("clean rare/correlation slices flagged", k, n, "<= 10%", 100 * k <= 10 * n,
                args.flags.name))

    null = load(args.null)
    s = field(null, args.null, "summary")
    n, k = field(s, args.null, "runs"), field(s, args.null, "runs_without_slices")
    out.append(("no slice listed on errors at random", k, n, ">= 95%", 100 * k >= 95 * n,
                args.null.name))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--naming", type=Path, default=RESULTS / "naming-2.5.json")
    ap.add_argument("--phrases", type=Path, default=RESULTS / "phrases-per-class.json",
                    help="phrases_eval.py's results (per-class spotlights, as schema 2.5's "
                         "defaults on the two-class text tables)")
    ap.add_argument("--held-out", type=Path, nargs="*",
                    default=[RESULTS / "phrases-m1-per-class.json",
                             RESULTS / "phrases-m2-per-class.json"])
    ap.add_argument("--flags", type=Path, default=RESULTS / "flags-2.5.json")
    ap.add_argument("--null", type=Path, default=RESULTS / "null-2.5.json")
    args = ap.parse_args()
    try:
        table = rows(args)
    except Unreadable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    width = max(len(r[0]) for r in table)
    print(f"{'target (issue 4)':{width}}  {'measured':>12}  {'share':>5}  {'asked':>6}  met   from")
    for name, k, n, asked, met, src in table:
        share = f"{100 * k / n:.0f}%" if n else "n/a"
        print(f"{name:{width}}  {f'{k} of {n}':>12}  {share:>5}  {asked:>6}  "
              f"{'-' if met is None else 'yes' if met else 'NO':3}   {src}")
    return 0 if all(r[4] is not False for r in table) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark: the PyPI ``sliceline`` package (DataDome's port of SliceLine)
against slicescope's exact lattice search, on the same data, in one run.

How to run (from the repository root; see bench/README.md for details)::

    python3.11 -m venv /path/to/venv
    /path/to/venv/bin/pip install -r bench/requirements.txt
    cargo build --release -p slicescope-cli
    /path/to/venv/bin/python bench/sliceline_vs_slicescope.py
    # options:
    #   --only sliceline|slicescope   run one tool only (no comparison)
    #   --settings small,medium       run a subset of the settings
    #   --uscensus                    add the 2.5M x 68 setting (slicescope only)
    #   --slicescope-bin PATH         default: target/release/slicescope
    #   --out PATH                    default: bench/results/sliceline_vs_slicescope.json

Settings (the port's own benchmark sizes; every feature categorical, integer
codes 1..cardinality drawn uniformly from numpy's default_rng(seed)):

    small    1_000 x 10, cardinality 10, k=10, max_l=2, min_sup=max(10, n//100), alpha=0.95
    medium  10_000 x 20, same parameters
    large   50_000 x 30, same parameters
    uscensus 2_500_000 x 68, cardinality per feature drawn in [2, 10],
             k=10, max_l=3, min_sup=int(0.01*n), alpha=0.95 (slicescope only,
             the port would take too long; only with --uscensus)

Errors are binary (0.0/1.0, float64 column ``err``), drawn independently per
row as Bernoulli(p) with p defined by planted slices (see ``make_errors``):

    small/medium/large: p = 0.1 everywhere, except
        p = 0.3 where f2 == 1                 (one-feature slice, ~10% of rows)
        p = 0.9 where f0 == a and f1 == b     (two-feature slice, ~1% of rows)
      where (a, b) is the most frequent (f0, f1) value pair in the generated
      data (smallest codes on ties): every two-feature slice has expected
      support n/100 == min_sup, and the most frequent pair is safely above it.
      The larger p wins where the two overlap.
    uscensus: p = 0.1 everywhere, except (max of the applicable p's)
        p = 0.8 where the 3 lowest-index features of cardinality 3-4 are all 1
              (three-feature slice, support 1/27..1/64 of the rows)
        p = 0.9 where the next 2 features of cardinality 6-8 are both 1
              (two-feature slice, support 1/36..1/64)
        p = 0.3 where the first feature of cardinality 10 is 1 (~10% of rows).

Each tool runs in its own child process, started one at a time; the parent
collects that child's own rusage with os.wait4, so "peak MB" is the child's
peak resident set size (ru_maxrss: interpreter/binary, data loading and the
search together).  The parent imports only the standard library and the data
are generated in a separate child too: on Linux a child's ru_maxrss includes
its parent's peak RSS at fork/exec time, so the parent must stay small.  Times: the sliceline child prints the time of
``Slicefinder.fit`` alone; slicescope's JSON gives ``timing.search_seconds``;
the parent also measures each child's total process wall time.

Both tools' top-k slices are compared as sets of {(column, value)} predicates
with their scores (tolerance 1e-9).  The port keeps every slice tied with the
k-th score, slicescope returns exactly k (ties broken by size then
predicates), so slices whose score equals the k-th (boundary) score are
reported as ties and do not count as a difference.  The script exits 1 if the
slices differ otherwise, 2 on usage errors (e.g. missing binary), 3 if a tool
failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIN = REPO_ROOT / "target" / "release" / "slicescope"
DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "sliceline_vs_slicescope.json"
DEFAULT_WORKDIR = REPO_ROOT / "bench" / ".cache"

SCORE_TOL = 1e-9
K = 10
ALPHA = 0.95
SEED = 42
DATA_VERSION = 3  # bump when the data generation changes


# --------------------------------------------------------------------------
# settings and data
# --------------------------------------------------------------------------


def standard_setting(name: str, n: int, m: int) -> dict:
    return {
        "name": name,
        "rows": n,
        "cols": m,
        "cardinality": "10 for every feature",
        "k": K,
        "alpha": ALPHA,
        "max_l": 2,
        "min_sup": max(10, n // 100),
        "seed": SEED,
        "tools": ["sliceline", "slicescope"],
    }


SETTINGS = {
    "small": standard_setting("small", 1_000, 10),
    "medium": standard_setting("medium", 10_000, 20),
    "large": standard_setting("large", 50_000, 30),
}
USCENSUS = {
    "name": "uscensus",
    "rows": 2_500_000,
    "cols": 68,
    "cardinality": "drawn uniformly in [2, 10] per feature",
    "k": K,
    "alpha": ALPHA,
    "max_l": 3,
    "min_sup": int(0.01 * 2_500_000),
    "seed": SEED,
    "tools": ["slicescope"],
}


def cardinalities(setting: dict, rng) -> list[int]:
    if setting["name"] == "uscensus":
        return [int(c) for c in rng.integers(2, 11, size=setting["cols"])]
    return [10] * setting["cols"]


def planted_slices(setting: dict, cards: list[int], columns: list) -> list[dict]:
    """Planted slices: list of {predicates: {column_index: value}, p: float}."""
    import numpy as np

    if setting["name"] == "uscensus":
        # Planted on features whose cardinalities give supports of a few
        # percent (above min_sup = 1%): three features of cardinality 3-4
        # (support 1/27..1/64), two of cardinality 6-8 (1/36..1/64), one of
        # cardinality 10 (1/10); the lowest-index such features, value 1.
        used: set[int] = set()

        def pick(count: int, lo: int, hi: int) -> list[int]:
            found = [j for j in range(len(cards)) if lo <= cards[j] <= hi and j not in used]
            if len(found) < count:
                raise RuntimeError(f"not enough features of cardinality {lo}..{hi}")
            used.update(found[:count])
            return found[:count]

        three, two, one = pick(3, 3, 4), pick(2, 6, 8), pick(1, 10, 10)
        return [
            {"predicates": {j: 1 for j in three}, "p": 0.8},
            {"predicates": {j: 1 for j in two}, "p": 0.9},
            {"predicates": {j: 1 for j in one}, "p": 0.3},
        ]
    # Any two-feature slice has expected support n/100 == min_sup, so plant
    # the two-feature signal on the most frequent (f0, f1) value pair (ties:
    # smallest codes): its support is then above min_sup.
    c0, c1 = cards[0], cards[1]
    counts = np.bincount((columns[0] - 1) * c1 + (columns[1] - 1), minlength=c0 * c1)
    best = int(np.argmax(counts))
    a, b = best // c1 + 1, best % c1 + 1
    return [
        {"predicates": {2: 1}, "p": 0.3},
        {"predicates": {0: a, 1: b}, "p": 0.9},
    ]


BASE_ERROR = 0.1


def make_errors(columns: list, planted: list[dict], rng):
    import numpy as np

    n = len(columns[0])
    p = np.full(n, BASE_ERROR)
    for sl in planted:
        mask = np.ones(n, dtype=bool)
        for j, v in sl["predicates"].items():
            mask &= columns[j] == v
        sl["support"] = int(mask.sum())
        np.maximum(p, np.where(mask, sl["p"], 0.0), out=p)
    return (rng.random(n) < p).astype(np.float64)


def write_data(setting: dict, path: Path) -> dict:
    """Generate the setting's data, write it as parquet, return a description."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(setting["seed"])
    n, m = setting["rows"], setting["cols"]
    cards = cardinalities(setting, rng)
    columns = [rng.integers(1, c + 1, size=n, dtype=np.int64) for c in cards]
    planted = planted_slices(setting, cards, columns)
    err = make_errors(columns, planted, rng)

    names = [f"f{j}" for j in range(m)]
    table = pa.table(
        {**{nm: col for nm, col in zip(names, columns)}, "err": err}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="snappy")
    tmp.replace(path)
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "cardinalities": cards,
        "mean_error": float(err.mean()),
        "base_error": BASE_ERROR,
        "planted": [
            {
                "predicates": {f"f{j}": v for j, v in sl["predicates"].items()},
                "p": sl["p"],
                "support": sl["support"],
            }
            for sl in planted
        ],
    }


# --------------------------------------------------------------------------
# child processes
# --------------------------------------------------------------------------


def run_child(cmd: list[str], log_prefix: Path, timeout: float | None) -> dict:
    """Run one child; return exit status, wall time and its own peak RSS."""
    stdout_path = log_prefix.with_suffix(".stdout")
    stderr_path = log_prefix.with_suffix(".stderr")
    # a child's ru_maxrss can't be below its parent's peak RSS at spawn time
    # (Linux keeps the maximum across fork/vfork and exec): record that floor
    import resource

    floor_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
    return {
        "cmd": cmd,
        "returncode": proc.returncode,
        "timed_out": timed_out.is_set(),
        "wall_seconds": wall,
        # Linux reports ru_maxrss in KiB
        "peak_mb": rusage.ru_maxrss / 1024.0,
        "peak_mb_floor": floor_mb,
        "user_seconds": rusage.ru_utime,
        "sys_seconds": rusage.ru_stime,
        "stdout": stdout_path.read_text(errors="replace"),
        "stderr": stderr_path.read_text(errors="replace"),
    }


def sliceline_child(args: argparse.Namespace) -> int:
    """Inside the child: load the parquet file, fit the port, write JSON."""
    import resource

    import numpy as np
    import pandas as pd
    import sliceline
    from sliceline import Slicefinder
    from sliceline import slicefinder as sf_mod

    params = json.loads(args.params)
    df = pd.read_parquet(args.data)
    feature_names = [c for c in df.columns if c != "err"]
    X = df[feature_names].to_numpy()
    errors = df["err"].to_numpy(dtype=np.float64)
    del df

    if params.get("warmup"):
        # fit once on a tiny sample so that one-off costs (e.g. numba JIT
        # compilation, when numba is installed) are not timed
        Slicefinder(alpha=params["alpha"], k=params["k"], max_l=2,
                    min_sup=10, verbose=False).fit(X[:500], errors[:500])

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    model = Slicefinder(
        alpha=params["alpha"],
        k=params["k"],
        max_l=params["max_l"],
        min_sup=params["min_sup"],
        verbose=False,
    )
    t0 = time.perf_counter()
    model.fit(X, errors)
    fit_seconds = time.perf_counter() - t0

    slices = []
    for row, stats in zip(model.top_slices_, model.top_slices_statistics_):
        preds = []
        for j, v in enumerate(row):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            preds.append({"column": feature_names[j], "value": normalize_value(v)})
        slices.append(
            {
                "score": float(stats["slice_score"]),
                "size": int(stats["slice_size"]),
                "sum_error": float(stats["sum_slice_error"]),
                "predicates": preds,
            }
        )
    result = {
        "fit_seconds": fit_seconds,
        "vmhwm_mb": vmhwm_mb(),
        "peak_mb_before_fit": rss_before,
        "sliceline_version": sliceline_version(sliceline),
        "numba_available": bool(getattr(sf_mod, "NUMBA_AVAILABLE", False)),
        "average_error": float(model.average_error_),
        "slices": slices,
    }
    Path(args.out).write_text(json.dumps(result))
    print(f"fit_seconds={fit_seconds:.6f}")
    return 0


def make_data(setting: dict, path: Path, work: Path, opts) -> dict | None:
    """Generate the data in a child process: the parent stays small, because a
    child's ru_maxrss starts from its parent's peak RSS at fork/exec time."""
    info_path = work / f"{setting['name']}.data.json"
    info_path.unlink(missing_ok=True)
    cmd = [
        opts.python, str(Path(__file__).resolve()), "_make-data",
        "--setting", setting["name"], "--path", str(path),
        "--info-out", str(info_path),
    ]
    res = run_child(cmd, work / f"{setting['name']}.data", None)
    if res["returncode"] != 0 or not info_path.exists():
        print(f"error: data generation failed: {failure_text(res)}", file=sys.stderr)
        return None
    info = json.loads(info_path.read_text())
    info["seconds"] = res["wall_seconds"]
    return info


def sliceline_version(module) -> str | None:
    try:
        from importlib.metadata import version

        return version("sliceline")
    except Exception:  # noqa: BLE001 - informational only
        return getattr(module, "__version__", None)


def vmhwm_mb() -> float | None:
    """This process's own peak RSS since exec (Linux /proc), for cross-checks."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def run_sliceline(setting: dict, data: Path, work: Path, opts) -> dict:
    out = work / f"{setting['name']}.sliceline.json"
    out.unlink(missing_ok=True)
    params = {
        "alpha": setting["alpha"],
        "k": setting["k"],
        "max_l": setting["max_l"],
        "min_sup": setting["min_sup"],
        "warmup": opts.sliceline_warmup,
    }
    cmd = [
        opts.python,
        str(Path(__file__).resolve()),
        "_sliceline-child",
        "--data", str(data),
        "--out", str(out),
        "--params", json.dumps(params),
    ]
    res = run_child(cmd, work / f"{setting['name']}.sliceline", opts.timeout)
    res["tool"] = "sliceline"
    if res["returncode"] != 0 or not out.exists():
        res["ok"] = False
        res["error"] = failure_text(res)
        return res
    payload = json.loads(out.read_text())
    res.update(ok=True, **payload)
    return res


def run_slicescope(setting: dict, data: Path, work: Path, opts) -> dict:
    out = work / f"{setting['name']}.slicescope.json"
    out.unlink(missing_ok=True)
    attrs = ",".join(f"f{j}" for j in range(setting["cols"]))
    cmd = [
        str(opts.slicescope_bin),
        "scan", str(data),
        "--loss", "err",
        "--attributes", attrs,
        "--slicers", "lattice",
        "--lattice-k", str(setting["k"]),
        "--lattice-alpha", str(setting["alpha"]),
        "--lattice-max-level", str(setting["max_l"]),
        "--lattice-min-support", str(setting["min_sup"]),
        "--categorical", attrs,
        "--json", str(out),
        "--quiet",
    ]
    res = run_child(cmd, work / f"{setting['name']}.slicescope", opts.timeout)
    res["tool"] = "slicescope"
    if res["returncode"] != 0 or not out.exists():
        res["ok"] = False
        res["error"] = failure_text(res)
        return res
    try:
        payload = json.loads(out.read_text())
        slices = []
        for s in payload["slices"]:
            slices.append(
                {
                    "score": float(s["score"]),
                    "size": s.get("size"),
                    "predicates": [
                        {"column": str(p["column"]), "value": normalize_value(p["value"])}
                        for p in s["rule"]["predicates"]
                    ],
                }
            )
        timing = payload.get("timing") or {}
        search = timing.get("search_seconds")
        res.update(
            ok=True,
            search_seconds=float(search) if search is not None else None,
            slices=slices,
        )
    except (KeyError, TypeError, ValueError) as e:
        res["ok"] = False
        res["error"] = f"cannot read slicescope JSON {out}: {e!r}"
    return res


def failure_text(res: dict) -> str:
    if res["timed_out"]:
        return "timed out"
    tail = "\n".join(res["stderr"].strip().splitlines()[-15:])
    return f"exit code {res['returncode']}: {tail}"


def normalize_value(v):
    """Predicate values as ints where they are integral (levels are int codes)."""
    if hasattr(v, "item"):  # numpy scalar
        v = v.item()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            f = float(v)
            return int(f) if f.is_integer() else f
        except ValueError:
            return v
    return v


# --------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------


def slice_key(s: dict) -> frozenset:
    return frozenset((p["column"], p["value"]) for p in s["predicates"])


def fmt_slice(key: frozenset) -> str:
    return " & ".join(f"{c}=={v}" for c, v in sorted(key, key=str)) or "(all)"


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0.0, abs_tol=SCORE_TOL)


def compare(sl: list[dict], ss: list[dict], k: int) -> dict:
    """Compare the port's slices (sl) with slicescope's (ss).

    Fails on: different number of slices (beyond ties), different top-k
    scores, or different slices/scores strictly above the k-th score.
    Slices tied with the k-th score are reported, not failed on."""
    sl = sorted(sl, key=lambda s: -s["score"])
    ss = sorted(ss, key=lambda s: -s["score"])
    problems: list[str] = []
    notes: list[str] = []

    dup = len(ss) - len({slice_key(s) for s in ss})
    if dup:
        problems.append(f"slicescope returned {dup} duplicate slice(s)")

    expected_len = min(k, len(sl))
    if len(ss) != expected_len:
        problems.append(
            f"slicescope returned {len(ss)} slices, expected {expected_len} "
            f"(sliceline returned {len(sl)})"
        )

    # top-k scores, position by position
    for i, (a, b) in enumerate(zip(sl[: len(ss)], ss)):
        if not close(a["score"], b["score"]):
            problems.append(
                f"rank {i + 1}: score {a['score']:.12g} (sliceline) vs "
                f"{b['score']:.12g} (slicescope)"
            )
            break

    boundary = ss[-1]["score"] if ss else None
    if boundary is None and sl:
        boundary = sl[min(k, len(sl)) - 1]["score"]

    def above(s):
        return boundary is None or s["score"] > boundary + SCORE_TOL

    sl_above = {slice_key(s): s["score"] for s in sl if above(s)}
    ss_above = {slice_key(s): s["score"] for s in ss if above(s)}
    for key in sorted(set(sl_above) - set(ss_above), key=fmt_slice):
        problems.append(f"only in sliceline: {fmt_slice(key)} score {sl_above[key]:.9f}")
    for key in sorted(set(ss_above) - set(sl_above), key=fmt_slice):
        problems.append(f"only in slicescope: {fmt_slice(key)} score {ss_above[key]:.9f}")
    for key in set(sl_above) & set(ss_above):
        if not close(sl_above[key], ss_above[key]):
            problems.append(
                f"{fmt_slice(key)}: score {sl_above[key]:.12g} (sliceline) vs "
                f"{ss_above[key]:.12g} (slicescope)"
            )

    # slices tied with the boundary (k-th) score
    ties = {"boundary_score": boundary}
    if boundary is not None:
        sl_tied = {slice_key(s) for s in sl if close(s["score"], boundary)}
        ss_tied = {slice_key(s) for s in ss if close(s["score"], boundary)}
        ties.update(
            sliceline_tied=len(sl_tied),
            slicescope_tied=len(ss_tied),
            slicescope_tied_not_in_sliceline=[fmt_slice(x) for x in ss_tied - sl_tied],
        )
        if len(sl_tied) > 1 or len(sl) > k:
            notes.append(
                f"{len(sl_tied)} slice(s) tied at the k-th score {boundary:.9f} in "
                f"sliceline (returned {len(sl)}), slicescope kept {len(ss_tied)}"
            )
        if ss_tied - sl_tied:
            notes.append(
                f"{len(ss_tied - sl_tied)} slicescope slice(s) tied at the k-th score "
                "are not among sliceline's (tie, not counted as a difference)"
            )
    same = not problems
    details = "; ".join(problems + notes) or "identical"
    return {"same": same, "problems": problems, "notes": notes, "ties": ties,
            "details": details}


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def fnum(x, fmt="{:.3f}"):
    return "-" if x is None else fmt.format(x)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def print_table(rows: list[dict]) -> None:
    header = [
        "setting", "rows", "cols",
        "sl fit s", "sl total s", "sl peak MB",
        "ss total s", "ss search s", "ss peak MB",
        "speed x", "search x", "mem x", "same slices",
    ]
    table = []
    for r in rows:
        sl, ss = r.get("sliceline") or {}, r.get("slicescope") or {}
        same = r.get("same_slices")
        table.append([
            r["setting"], f"{r['rows']:,}", str(r["cols"]),
            fnum(sl.get("fit_seconds")), fnum(sl.get("wall_seconds")),
            fnum(sl.get("peak_mb"), "{:.1f}"),
            fnum(ss.get("wall_seconds")), fnum(ss.get("search_seconds")),
            fnum(ss.get("peak_mb"), "{:.1f}"),
            fnum(r.get("speed_ratio"), "{:.1f}"),
            fnum(r.get("search_speed_ratio"), "{:.1f}"),
            fnum(r.get("memory_ratio"), "{:.1f}"),
            "-" if same is None else ("yes" if same else "NO"),
        ])
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for t in table:
        print("  ".join(c.rjust(w) for c, w in zip(t, widths)))
    print()
    print("sl = sliceline (fit = Slicefinder.fit only; total = child process wall time)")
    print("ss = slicescope (total = process wall time; search = timing.search_seconds)")
    print("peak MB = child's ru_maxrss; speed x = sl fit / ss total; "
          "search x = sl fit / ss search; mem x = sl peak / ss peak")
    for r in rows:
        if r.get("comparison"):
            print(f"{r['setting']}: same slices: "
                  f"{'yes' if r['same_slices'] else 'no'} ({r['comparison']['details']})")
        for tool in ("sliceline", "slicescope"):
            res = r.get(tool)
            if res and not res.get("ok"):
                print(f"{r['setting']}: {tool} FAILED: {res.get('error')}")


def strip_for_json(res: dict | None) -> dict | None:
    if res is None:
        return None
    out = dict(res)
    for key in ("stdout", "stderr"):
        text = out.pop(key, "")
        if text and not out.get("ok", True):
            out[key + "_tail"] = text[-4000:]
    return out


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    if argv and argv[0] == "_sliceline-child":
        ap = argparse.ArgumentParser(prog="sliceline child")
        ap.add_argument("_cmd")
        ap.add_argument("--data", required=True)
        ap.add_argument("--out", required=True)
        ap.add_argument("--params", required=True)
        return ap.parse_args(argv)
    if argv and argv[0] == "_make-data":
        ap = argparse.ArgumentParser(prog="data child")
        ap.add_argument("_cmd")
        ap.add_argument("--setting", required=True)
        ap.add_argument("--path", required=True)
        ap.add_argument("--info-out", required=True)
        return ap.parse_args(argv)

    ap = argparse.ArgumentParser(
        description="Compare PyPI sliceline with slicescope's lattice search "
        "(time, peak memory, slices).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--slicescope-bin", type=Path, default=DEFAULT_BIN,
                    help="slicescope binary (a relative path is taken from the current "
                    "directory, else from the repository root)")
    ap.add_argument("--only", choices=["both", "sliceline", "slicescope"],
                    default="both", help="run only one tool (no comparison)")
    ap.add_argument("--settings", default="small,medium,large",
                    help="comma-separated subset of: small,medium,large")
    ap.add_argument("--uscensus", action="store_true",
                    help="also run the 2.5M x 68 setting (slicescope only)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help="results JSON path")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                    help="where data files, child outputs and logs go")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter for the sliceline child (needs sliceline installed)")
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="seconds before a child is killed (0: no limit)")
    ap.add_argument("--sliceline-warmup", action="store_true",
                    help="fit the port once on 500 rows before the timed fit "
                    "(excludes one-off costs such as numba JIT compilation)")
    args = ap.parse_args(argv)
    args._cmd = None
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args._cmd == "_sliceline-child":
        return sliceline_child(args)
    if args._cmd == "_make-data":
        setting = USCENSUS if args.setting == "uscensus" else SETTINGS[args.setting]
        info = write_data(setting, Path(args.path))
        Path(args.info_out).write_text(json.dumps(info))
        return 0

    names = [s.strip() for s in args.settings.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETTINGS]
    if unknown:
        print(f"error: unknown setting(s) {unknown}; choose from {list(SETTINGS)}",
              file=sys.stderr)
        return 2
    settings = [SETTINGS[s] for s in names]
    if args.uscensus:
        settings.append(USCENSUS)
    if not settings:
        print("error: no settings selected", file=sys.stderr)
        return 2

    tools = ["sliceline", "slicescope"] if args.only == "both" else [args.only]
    if not args.slicescope_bin.is_absolute():
        # relative to the current directory, else to the repository root
        cwd_rel = Path.cwd() / args.slicescope_bin
        args.slicescope_bin = cwd_rel if cwd_rel.exists() else REPO_ROOT / args.slicescope_bin
    if "slicescope" in tools and not (
        args.slicescope_bin.is_file() and os.access(args.slicescope_bin, os.X_OK)
    ):
        print(
            f"error: slicescope binary not found (or not executable) at "
            f"{args.slicescope_bin}\n"
            f"build it from the repository root with:\n"
            f"    cargo build --release -p slicescope-cli\n"
            f"or pass --slicescope-bin PATH "
            f"(or run the port alone with --only sliceline)",
            file=sys.stderr,
        )
        return 2
    if "sliceline" in tools:
        check = subprocess.run(
            [args.python, "-c", "import sliceline, pandas, pyarrow"],
            capture_output=True, text=True,
        )
        if check.returncode != 0:
            print(
                f"error: {args.python} cannot import sliceline/pandas/pyarrow:\n"
                f"{check.stderr.strip()}\n"
                f"install them with: pip install -r bench/requirements.txt",
                file=sys.stderr,
            )
            return 2
    if args.timeout == 0:
        args.timeout = None

    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)

    rows = []
    for setting in settings:
        run_tools = [t for t in tools if t in setting["tools"]]
        print(f"== {setting['name']}: {setting['rows']:,} x {setting['cols']}, "
              f"k={setting['k']}, max_l={setting['max_l']}, "
              f"min_sup={setting['min_sup']}, alpha={setting['alpha']}; "
              f"tools: {', '.join(run_tools) or 'none'}", flush=True)
        if not run_tools:
            print("   (skipped: this setting runs slicescope only)")
            continue
        data_path = work / f"{setting['name']}-v{DATA_VERSION}-seed{setting['seed']}.parquet"
        data_info = make_data(setting, data_path, work, args)
        if data_info is None:
            return 3
        print(f"   data: {data_path.name} ({data_info['bytes'] / 1e6:.1f} MB, "
              f"mean error {data_info['mean_error']:.4f}, "
              f"written in {data_info['seconds']:.1f}s)", flush=True)

        row = {"setting": setting["name"], "rows": setting["rows"],
               "cols": setting["cols"], "params": setting, "data": data_info}
        for tool in run_tools:
            runner = run_sliceline if tool == "sliceline" else run_slicescope
            print(f"   running {tool} ...", end=" ", flush=True)
            res = runner(setting, data_path, work, args)
            row[tool] = res
            if res["ok"]:
                t = res.get("fit_seconds", res.get("search_seconds"))
                print(f"done: {res['wall_seconds']:.2f}s total"
                      + (f", {t:.2f}s {'fit' if tool == 'sliceline' else 'search'}"
                         if t is not None else "")
                      + f", peak {res['peak_mb']:.1f} MB, "
                      f"{len(res['slices'])} slices", flush=True)
            else:
                print(f"FAILED ({res['error'].splitlines()[0] if res['error'] else ''})",
                      flush=True)
                print(f"   command: {shlex.join(res['cmd'])}", flush=True)

        sl, ss = row.get("sliceline"), row.get("slicescope")
        if sl and ss and sl["ok"] and ss["ok"]:
            row["speed_ratio"] = ratio(sl["fit_seconds"], ss["wall_seconds"])
            row["search_speed_ratio"] = ratio(sl["fit_seconds"], ss.get("search_seconds"))
            row["memory_ratio"] = ratio(sl["peak_mb"], ss["peak_mb"])
            row["comparison"] = compare(sl["slices"], ss["slices"], setting["k"])
            row["same_slices"] = row["comparison"]["same"]
        rows.append(row)

    print()
    print_table(rows)

    sl_meta = next((r["sliceline"] for r in rows
                    if r.get("sliceline") and r["sliceline"].get("ok")), None)
    result = {
        "benchmark": "sliceline_vs_slicescope",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
        },
        "sliceline_version": sl_meta.get("sliceline_version") if sl_meta else None,
        "sliceline_numba": sl_meta.get("numba_available") if sl_meta else None,
        "slicescope_bin": str(args.slicescope_bin) if "slicescope" in tools else None,
        "only": args.only,
        "sliceline_warmup": args.sliceline_warmup,
        "error_model": {
            "base_error": BASE_ERROR,
            "description": "binary errors, Bernoulli(p) per row; p = base_error, "
            "raised on planted slices (see data.planted per setting)",
        },
        "results": [
            {**r, "sliceline": strip_for_json(r.get("sliceline")),
             "slicescope": strip_for_json(r.get("slicescope"))}
            for r in rows
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults written to {args.out}")

    failed = [(r["setting"], t) for r in rows for t in ("sliceline", "slicescope")
              if r.get(t) and not r[t]["ok"]]
    if failed:
        print(f"error: tool run(s) failed: {failed}", file=sys.stderr)
        return 3
    differ = [r["setting"] for r in rows if r.get("same_slices") is False]
    if differ:
        print(f"error: slices differ in: {', '.join(differ)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

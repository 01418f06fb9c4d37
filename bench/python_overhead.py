#!/usr/bin/env python3
"""Overhead of the Python package against the CLI on a 1M-row table with a 512-dim view.

Three runs of the same scan (lattice on four attributes, mixture, spotlight and direction on one
512-dim float32 view `a`, seed 1), each in its own process so that each peak RSS is its own:

* ``cli``: ``slicescope scan table.parquet --view a=a.npy ... --json OUT``;
* ``py-path``: ``slicescope.scan("table.parquet", views={"a": "a.npy"}, ...)`` then ``to_json``:
  the same reads as the CLI, through the Python package;
* ``py-memory``: the notebook case: the table read with pyarrow and the view with ``np.load``
  first, then ``slicescope.scan(table, views={"a": array})`` and ``to_json``.  The Arrow columns
  cross by the C stream interface; the float32 C-ordered array is borrowed by the scan's view
  (the core's ``View`` holds a ``Cow``), so the RSS above the loaded inputs is the scan's working
  memory without a second copy of the view (before that change, the array was copied once).

Reports wall time of each process, the time of the ``scan`` call (Python) against the CLI's own
``timing.total_seconds``, the stages of ``timing``, peak RSS, and (py-memory) RSS before and after
the call.  Checks that the three results have the same slices.

The data are bench/embedding_speed.py's (generated and cached by it: table.parquet, a.npy).

    target/python/venv/bin/python bench/python_overhead.py

Needs the `slicescope` package (tests/python/run.sh, or `maturin build --release` and pip
install the wheel), numpy and pyarrow in the running interpreter, and a release build of the
CLI (`cargo build --release -p slicescope-cli`).  Build both with the same profile (the wheel of
tests/python/run.sh and `--slicescope-bin target/ci/slicescope` are both the `ci` profile).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTRIBUTES = ["site", "age", "brightness", "batch"]

CHILD = r"""
import json, sys, time
t_start = time.perf_counter()

def status():
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            k, v = line.split(":")
            out[k] = round(int(v.split()[0]) / 1024.0, 1)
    return out

mode, table_path, view_path, out_path = sys.argv[1:5]
import numpy as np
import pyarrow.parquet as pq
import slicescope

info = {"mode": mode}
if mode == "py-memory":
    t = time.perf_counter()
    data = pq.read_table(table_path)
    view = np.load(view_path)
    info["python_load_seconds"] = round(time.perf_counter() - t, 3)
else:
    data, view = table_path, view_path
info["before_scan"] = status()
t = time.perf_counter()
result = slicescope.scan(
    data, label="y", pred="yhat", attributes=ATTRIBUTES, views={"a": view},
    slicers=["lattice", "mixture", "spotlight", "direction"], seed=1,
)
info["scan_call_seconds"] = round(time.perf_counter() - t, 3)
info["after_scan"] = status()
t = time.perf_counter()
result.to_json(out_path)
info["to_json_seconds"] = round(time.perf_counter() - t, 3)
info["timing"] = result.info["timing"]
info["in_process_seconds"] = round(time.perf_counter() - t_start, 3)
print(json.dumps(info))
""".replace("ATTRIBUTES", repr(ATTRIBUTES))


def run_child(cmd: list[str], log_prefix: Path) -> dict:
    """Run one child process; return exit status, wall time, CPU time and its own peak RSS."""
    out_path = log_prefix.with_suffix(".stdout")
    err_path = log_prefix.with_suffix(".stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    res = {
        "returncode": os.waitstatus_to_exitcode(status),
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 3),
        "peak_mb": round(ru.ru_maxrss / 1024.0, 1),
        "stdout": out_path.read_text(errors="replace"),
        "stderr_tail": err_path.read_text(errors="replace")[-2000:],
    }
    if res["returncode"] != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res['stderr_tail']}")
    return res


def data_dir(rows: int, workdir: Path) -> Path:
    """table.parquet and a.npy of bench/embedding_speed.py (generated when missing)."""
    for base in (ROOT / "bench/.cache/embedding_speed", workdir):
        d = base / f"n{rows}_s7"
        if (d / "table.parquet").exists() and (d / "a.npy").exists():
            return d
    print(f"generating {rows:,} rows in {workdir} (bench/embedding_speed.py)...", file=sys.stderr)
    subprocess.run([sys.executable, str(ROOT / "bench/embedding_speed.py"), "--generate-only",
                    "--rows", str(rows), "--seed", "7", "--workdir", str(workdir)], check=True)
    return workdir / f"n{rows}_s7"


def slices_of(path: Path) -> list:
    doc = json.loads(path.read_text())
    return [(s["id"], s["slicer"], s["view"], s["stats"], s["members"]) for s in doc["slices"]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=ROOT / "bench/.cache/python_overhead")
    ap.add_argument("--slicescope-bin", type=Path, default=ROOT / "target/release/slicescope")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each mode (medians reported)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/python_overhead.json")
    args = ap.parse_args()
    if not args.slicescope_bin.exists():
        print(f"error: {args.slicescope_bin} not found; build it with "
              "`cargo build --release -p slicescope-cli`", file=sys.stderr)
        return 2
    import slicescope  # noqa: F401  (fail early when the package is missing)

    d = data_dir(args.rows, args.workdir)
    args.workdir.mkdir(parents=True, exist_ok=True)
    table, view = d / "table.parquet", d / "a.npy"
    w = args.workdir
    cli_json = w / "cli.json"

    def cli() -> dict:
        r = run_child(
            [str(args.slicescope_bin), "scan", str(table), "--label", "y", "--pred", "yhat",
             "--attributes", ",".join(ATTRIBUTES), "--view", f"a={view}",
             "--slicers", "lattice,mixture,spotlight,direction", "--seed", "1",
             "--json", str(cli_json), "--force", "--quiet"],
            w / "cli",
        )
        r["timing"] = json.loads(cli_json.read_text())["timing"]
        r["scan_seconds"] = r["timing"]["total_seconds"]
        return r

    def python(mode: str) -> dict:
        out = w / f"{mode}.json"
        r = run_child([sys.executable, "-c", CHILD, mode, str(table), str(view), str(out)], w / mode)
        r.update(json.loads(r["stdout"].strip().splitlines()[-1]))
        r["scan_seconds"] = r["scan_call_seconds"]
        return r

    modes = {"cli": cli, "py-path": lambda: python("py-path"), "py-memory": lambda: python("py-memory")}
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    order = list(modes)
    for i in range(args.repeat):
        # Rotate the order so that no mode always runs first (warm page cache).
        for m in order[i % 3:] + order[: i % 3]:
            r = modes[m]()
            r.pop("stdout", None)
            runs[m].append(r)
            print(f"{m}: scan {r['scan_seconds']:.2f} s, wall {r['wall_seconds']:.2f} s, "
                  f"peak {r['peak_mb']:.0f} MB", file=sys.stderr)
    reference = slices_of(cli_json)
    same = {mode: slices_of(w / f"{mode}.json") == reference for mode in ("py-path", "py-memory")}

    def med(m: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[m]), 3)

    cli_scan = med("cli", "scan_seconds")
    embedding_mb = round(args.rows * 512 * 4 / 2**20, 1)
    last_mem = runs["py-memory"][-1]
    summary = {
        "rows": args.rows,
        "dim": 512,
        "embedding_mb": embedding_mb,
        "slices": len(reference),
        "repeats": args.repeat,
        "same_slices_as_cli": same,
        "median_scan_seconds": {m: med(m, "scan_seconds") for m in modes},
        "min_scan_seconds": {m: min(r["scan_seconds"] for r in runs[m]) for m in modes},
        "median_wall_seconds": {m: med(m, "wall_seconds") for m in modes},
        # CPU time of the whole process: less sensitive than wall time to
        # other work on a shared machine.
        "median_cpu_seconds": {m: med(m, "cpu_seconds") for m in modes},
        "overhead_vs_cli": {m: round(med(m, "scan_seconds") / cli_scan - 1, 4)
                            for m in ("py-path", "py-memory")},
        "median_peak_mb": {m: med(m, "peak_mb") for m in modes},
        "py_memory_rss_mb": {
            "inputs_loaded_before_scan": last_mem["before_scan"]["VmRSS"],
            "peak_during_scan": last_mem["after_scan"]["VmHWM"],
            "peak_above_loaded_inputs": round(
                last_mem["after_scan"]["VmHWM"] - last_mem["before_scan"]["VmRSS"], 1
            ),
        },
    }
    doc = {
        "summary": summary,
        "runs": runs,
        "machine": {"cpus": os.cpu_count(),
                    "loadavg_at_end": os.getloadavg(),
                    "python": sys.version.split()[0],
                    "max_rss_self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
        "data": str(d),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

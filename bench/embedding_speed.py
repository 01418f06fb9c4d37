#!/usr/bin/env python3
"""Speed and memory of the multi-view scan, and the mixture slicer side by side with Domino.

Two measurements, one run (see bench/README.md):

1. **Full scan**: 1M rows (by default), two 512-dim float32 views given as `.npy` files, a
   Parquet table with label, prediction and four attribute columns, every slicer (lattice,
   mixture, spotlight, direction on both views).  Reports wall time, CPU time and the peak
   resident set size of the `slicescope scan` process, and that peak as a multiple of the
   embedding data (n x 512 x 4 bytes x 2 views).
2. **Mixture vs Domino**: the first 100k rows of view `a` with the label and the predicted
   probabilities; `slicescope scan --slicers mixture` against PyPI `domino` 0.1.5
   (`DominoSlicer.fit` + `predict_proba`, configured as in bench/planted/run_domino.py, with
   the k-means initialisation: 0.1.5's "confusion" one needs 100 components for 10 classes) in
   its Python 3.9 venv.  Both are timed as whole processes (load, PCA, fit, output) with their own
   peak RSS, plus Domino's own fit+predict time as reported from inside the process.

The data are synthetic but shaped like real embeddings: a 32-dim latent (class structure plus a
planted subgroup where the model errs 60% of the time against 8% elsewhere) mapped into 512
dims by a random linear map (view `a`) and a non-linear one (view `b`), plus noise.  Generated
from a seed, in chunks, straight into `.npy` memmaps; cached under --workdir.

    /path/to/venv/bin/python bench/embedding_speed.py \
        --domino-python bench/.cache/planted/venvs/domino39/bin/python

`--two-class` instead times the full scan on a two-class version of the same table (label and
prediction mapped to class >= 5, the same views), with the defaults, which search spotlights per
label class on two-class tasks, and with `[spotlight] per_class = false` (all rows); results go to
bench/results/embedding_speed_two_class.json by default.

Needs numpy and pyarrow in the running interpreter (bench/requirements.txt) and a release
build of the CLI (`cargo build --release -p slicescope-cli`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = 10
LATENT = 32
DIM = 512
CHUNK = 100_000


def two_class_table(d: Path) -> Path:
    """table.parquet with label and prediction mapped to class >= 5 (two classes); cached."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = d / "table_two_class.parquet"
    if not out.exists():
        t = pq.read_table(d / "table.parquet")
        for col in ("y", "yhat"):
            t = t.set_column(t.schema.get_field_index(col), col,
                             pc.greater_equal(t[col], CLASSES // 2).cast(pa.int64()))
        tmp = out.with_suffix(".tmp")
        pq.write_table(t, tmp)
        tmp.replace(out)
    return out


def run_child(cmd: list[str], log_prefix: Path, timeout: float | None = None) -> dict:
    """Run one child process; return exit status, wall time, CPU time and its own peak RSS."""
    floor_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out_path = log_prefix.with_suffix(".stdout")
    err_path = log_prefix.with_suffix(".stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
    return {
        "cmd": [str(c) for c in cmd],
        "returncode": os.waitstatus_to_exitcode(status),
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 3),
        "peak_mb": round(ru.ru_maxrss / 1024.0, 1),
        # a child's ru_maxrss is never below the parent's peak at fork time
        "peak_mb_floor": round(floor_mb, 1),
        "stdout_tail": out_path.read_text(errors="replace")[-2000:],
        "stderr_tail": err_path.read_text(errors="replace")[-2000:],
    }


def generate(workdir: Path, n: int, seed: int) -> dict:
    """Write table.parquet, a.npy, b.npy (n rows) and the 100k Domino subset; cached by (n, seed)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    tag = f"n{n}_s{seed}"
    d = workdir / tag
    done = d / "done.json"
    if done.exists():
        return json.loads(done.read_text())
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.0, size=(CLASSES, LATENT))
    planted_dir = rng.normal(0.0, 1.0, size=LATENT)
    planted_dir *= 4.0 / np.linalg.norm(planted_dir)
    w_a = rng.normal(0.0, 1.0 / np.sqrt(LATENT), size=(LATENT, DIM))
    w_b = rng.normal(0.0, 1.0 / np.sqrt(LATENT), size=(LATENT, DIM))
    a = np.lib.format.open_memmap(d / "a.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    b = np.lib.format.open_memmap(d / "b.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    y = np.empty(n, dtype=np.int64)
    yhat = np.empty(n, dtype=np.int64)
    probs = np.empty((n, CLASSES), dtype=np.float32)
    site = np.empty(n, dtype=object)
    age = np.empty(n, dtype=np.float64)
    bright = np.empty(n, dtype=np.float64)
    batch = np.empty(n, dtype=np.int64)
    planted = np.empty(n, dtype=bool)
    sites = np.array([f"site-{i}" for i in range(8)], dtype=object)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        m = hi - lo
        yc = rng.integers(0, CLASSES, size=m)
        z = centres[yc] + rng.normal(0.0, 1.0, size=(m, LATENT))
        pl = rng.random(m) < 0.05
        z[pl] += planted_dir
        err = rng.random(m) < np.where(pl, 0.60, 0.08)
        wrong = (yc + rng.integers(1, CLASSES, size=m)) % CLASSES
        yh = np.where(err, wrong, yc)
        logits = rng.normal(0.0, 1.0, size=(m, CLASSES))
        logits[np.arange(m), yh] += 3.0
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        a[lo:hi] = (z @ w_a + rng.normal(0.0, 0.3, size=(m, DIM))).astype(np.float32)
        b[lo:hi] = (np.tanh(z @ w_b) + rng.normal(0.0, 0.1, size=(m, DIM))).astype(np.float32)
        y[lo:hi], yhat[lo:hi], probs[lo:hi], planted[lo:hi] = yc, yh, p, pl
        site[lo:hi] = sites[rng.integers(0, 8, size=m)]
        age[lo:hi] = rng.normal(40.0, 12.0, size=m)
        bright[lo:hi] = rng.random(m)
        batch[lo:hi] = rng.integers(0, 20, size=m)
    a.flush()
    b.flush()
    del a, b
    table = pa.table({
        "y": y, "yhat": yhat, "site": site.astype(str), "age": age,
        "brightness": bright, "batch": batch, "planted": planted,
    })
    pq.write_table(table, d / "table.parquet")
    # the Domino-sized subset: first SUB rows of view a, labels and probabilities
    sub = min(n, 100_000)
    a_full = np.load(d / "a.npy", mmap_mode="r")
    np.save(d / "a_sub.npy", np.ascontiguousarray(a_full[:sub]))
    np.save(d / "y_sub.npy", y[:sub])
    np.save(d / "probs_sub.npy", probs[:sub])
    pq.write_table(pa.table({
        "y": y[:sub],
        "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs[:sub].reshape(-1)), CLASSES),
    }), d / "sub.parquet")
    info = {"dir": str(d), "n": n, "dim": DIM, "seed": seed, "sub": sub,
            "planted_rows": int(planted.sum()), "errors": int((y != yhat).sum())}
    done.write_text(json.dumps(info))
    return info


DOMINO_CHILD = r"""
import json, sys, time, warnings
import numpy as np
from domino import DominoSlicer
emb = np.load(sys.argv[1]).astype(np.float64)
y = np.load(sys.argv[2]).astype(int)
probs = np.load(sys.argv[3]).astype(np.float64)
t = time.time()
s = DominoSlicer(n_slices=5, n_mixture_components=25, y_log_likelihood_weight=10,
                 y_hat_log_likelihood_weight=10, n_pca_components=128, covariance_type="diag",
                 init_params="kmeans", max_iter=100, random_state=0)
s.mm.reg_covar = 1e-3
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    s.fit(embeddings=emb, targets=y, pred_probs=probs)
    p = s.predict_proba(embeddings=emb, targets=y, pred_probs=probs)
print(json.dumps({"fit_predict_seconds": time.time() - t, "shape": list(p.shape)}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=ROOT / "bench/.cache/embedding_speed")
    ap.add_argument("--slicescope-bin", type=Path, default=ROOT / "target/release/slicescope")
    ap.add_argument("--domino-python", type=Path, default=None,
                    help="Python of the Domino 0.1.5 venv (bench/planted/README.md); without it "
                         "the side-by-side part is skipped")
    ap.add_argument("--skip-full", action="store_true", help="only the mixture-vs-Domino part")
    ap.add_argument("--two-class", action="store_true",
                    help="only the full scan, on a two-class version of the table, with the "
                         "defaults and with spotlights on all rows")
    ap.add_argument("--out", type=Path, help="default bench/results/embedding_speed.json "
                    "(embedding_speed_two_class.json with --two-class)")
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.out is None:
        args.out = ROOT / "bench/results" / ("embedding_speed_two_class.json" if args.two_class
                                             else "embedding_speed.json")
    if args.generate_only:
        info = generate(args.workdir, args.rows, args.seed)
        if args.two_class:
            two_class_table(Path(info["dir"]))
        print(json.dumps(info))
        return 0

    if not args.slicescope_bin.exists():
        print(f"error: {args.slicescope_bin} not found; build it with "
              "`cargo build --release -p slicescope-cli`", file=sys.stderr)
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    # in a child, so that this process stays small: a child's peak RSS is
    # never reported below its parent's
    gen = subprocess.run([sys.executable, __file__, "--generate-only", "--rows", str(args.rows),
                          "--seed", str(args.seed), "--workdir", str(args.workdir)]
                         + (["--two-class"] if args.two_class else []),
                         capture_output=True, text=True)
    if gen.returncode != 0:
        print(gen.stderr, file=sys.stderr)
        return 3
    info = json.loads(gen.stdout.strip().splitlines()[-1])
    print(f"data: {info['n']:,} rows x 2 views x {DIM} (generated/cached in "
          f"{time.perf_counter() - t:.1f} s) in {info['dir']}", flush=True)
    d = Path(info["dir"])
    emb_mb = info["n"] * DIM * 4 * 2 / 2**20
    results: dict = {"data": info, "embedding_mb": round(emb_mb, 1)}
    bin_ = str(args.slicescope_bin)

    if args.two_class:
        all_rows = d / "spotlight_all_rows.toml"
        all_rows.write_text("[spotlight]\nper_class = false\n")
        for name, extra in (("defaults", []), ("spotlights_on_all_rows", ["--config", str(all_rows)])):
            r = full_scan(bin_, d, "table_two_class.parquet", f"two_class_{name}", extra, emb_mb)
            if r is None:
                return 3
            results[f"two_class_{name}"] = r
            print(f"two classes, {name}: {r['wall_seconds']:.1f} s wall (search "
                  f"{r['timings']['search_seconds']:.1f} s), {r['cpu_seconds']:.1f} s CPU, peak "
                  f"{r['peak_mb']:,.0f} MB, {r['slices']} slices ({r['spotlight_slices']} "
                  "spotlight)", flush=True)
        write_results(args.out, results)
        return 0

    if not args.skip_full:
        r = full_scan(bin_, d, "table.parquet", "full", [], emb_mb)
        if r is None:
            return 3
        results["full_scan"] = r
        print(f"full scan: {r['wall_seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU, "
              f"peak {r['peak_mb']:,.0f} MB = {r['peak_over_embedding']:.2f}x the embedding "
              f"data ({emb_mb:,.0f} MB); targets < 60 s, < 3x", flush=True)

    # Like for like with Domino (one fit on all rows, posteriors of all rows):
    # --embedding-testing same-rows. The default (held-out: a fit on each half,
    # each candidate tested on the other half) is timed too.
    runs = {}
    for mode in ("same-rows", "held-out"):
        cmd = [bin_, "scan", str(d / "sub.parquet"), "--label", "y", "--probs", "probs",
               "--view", f"a={d / 'a_sub.npy'}", "--slicers", "mixture", "--seed", "1",
               "--embedding-testing", mode,
               "--json", str(d / f"sub_mixture_{mode}.json"), "--force", "--quiet"]
        r = run_child(cmd, d / f"sub_mixture_{mode}")
        if r["returncode"] != 0:
            print(r["stderr_tail"], file=sys.stderr)
            return 3
        runs[mode] = r
        print(f"slicescope mixture ({mode}), {info['sub']:,} x {DIM}: {r['wall_seconds']:.1f} s wall "
              f"(whole process), peak {r['peak_mb']:,.0f} MB", flush=True)
    results["mixture_100k"] = runs["same-rows"]
    results["mixture_100k_held_out"] = runs["held-out"]
    r = runs["same-rows"]
    if args.domino_python:
        r2 = run_child([str(args.domino_python), "-c", DOMINO_CHILD, str(d / "a_sub.npy"),
                        str(d / "y_sub.npy"), str(d / "probs_sub.npy")], d / "sub_domino")
        if r2["returncode"] != 0:
            print(r2["stderr_tail"], file=sys.stderr)
            return 3
        inner = json.loads(r2["stdout_tail"].strip().splitlines()[-1])
        r2["fit_predict_seconds"] = round(inner["fit_predict_seconds"], 3)
        results["domino_100k"] = r2
        speedup = r2["wall_seconds"] / r["wall_seconds"]
        results["mixture_speedup"] = round(speedup, 1)
        print(f"domino 0.1.5,        {info['sub']:,} x {DIM}: {r2['wall_seconds']:.1f} s wall "
              f"({r2['fit_predict_seconds']:.1f} s fit+predict), peak {r2['peak_mb']:,.0f} MB", flush=True)
        results["mixture_speedup_held_out"] = round(r2["wall_seconds"] / runs["held-out"]["wall_seconds"], 1)
        print(f"mixture speed-up over Domino (whole process, same rows): {speedup:.1f}x (target >= 10x); "
              f"with held-out testing: {results['mixture_speedup_held_out']:.1f}x")
    write_results(args.out, results)
    return 0


def full_scan(bin_: str, d: Path, table: str, name: str, extra: list[str],
              emb_mb: float) -> dict | None:
    """`slicescope scan` of `table` with every slicer on both views (plus `extra` flags), timed as
    a child process; its record with the peak over the embedding data, the slices listed (and how
    many are spotlights) and the scan's own timings, or None (stderr printed)."""
    cmd = [bin_, "scan", str(d / table), "--label", "y", "--pred", "yhat",
           "--attributes", "site,age,brightness,batch",
           "--view", f"a={d / 'a.npy'}", "--view", f"b={d / 'b.npy'}",
           "--slicers", "lattice,mixture,spotlight,direction",
           "--seed", "1", "--json", str(d / f"{name}.json"), "--force", "--quiet", *extra]
    r = run_child(cmd, d / name)
    if r["returncode"] != 0:
        print(r["stderr_tail"], file=sys.stderr)
        return None
    r["peak_over_embedding"] = round(r["peak_mb"] / emb_mb, 2)
    slices = json.loads((d / f"{name}.json").read_text())
    r["slices"] = len(slices.get("slices", []))
    r["spotlight_slices"] = sum(s.get("slicer") == "spotlight" for s in slices.get("slices", []))
    r["timings"] = slices.get("timing")
    return r


def write_results(out: Path, results: dict) -> None:
    """Write `results` to `out` through a temporary file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(out)
    print(f"results: {out}")


if __name__ == "__main__":
    sys.exit(main())

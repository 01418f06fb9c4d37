"""What the follow-up evaluations of the planted benchmark share (null_runs.py, naming.py,
phrases_eval.py, flags_eval.py): the cached settings, one default slicescope run on a setting's
table and both views, and the listed slice that best overlaps a planted one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SETTINGS = ROOT / "bench/.cache/planted/settings/v3"
VIEWS = ("act", "fm")
SLICERS = "mixture,spotlight,direction"
DEFAULT_BIN = ROOT / "target/release/slicescope"


def check_binary(binary: Path) -> bool:
    """False (and a message) when the release binary is missing."""
    if binary.exists():
        return True
    print(f"error: {binary} not found; cargo build --release -p slicescope-cli", file=sys.stderr)
    return False


def scan(binary: Path, table: Path, d: Path, seed: int, out: Path, extra: list[str],
         outcome: list[str] | None = None) -> dict | None:
    """slicescope with its defaults on `table` and the setting's two views (directory `d`), the
    embedding slicers only, plus `extra` flags; the parsed JSON, or None (stderr printed).
    `outcome` replaces `--pred pred` (e.g. `--probs probs --classes ...`)."""
    cmd = [str(binary), "scan", str(table), "--label", "label",
           *(outcome or ["--pred", "pred"]), *extra]
    for v in VIEWS:
        cmd += ["--view", f"{v}={d / (v + '.npy')}"]
    cmd += ["--slicers", SLICERS, "--json", str(out), "--seed", str(seed), "--quiet", "--force"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.read_text())


def with_probs(table: pa.Table, d: Path, path: Path) -> list[str]:
    """Write `table` with the model's predicted probabilities (the setting's `probs.npy`) as a
    list column `probs` to `path`; the slicescope flags that read it (`--probs`, `--classes` in
    the order of the vector, recovered from the id / name pairs of the setting's own table,
    whose labels are the unflipped ones)."""
    probs = np.load(d / "probs.npy")
    clean = pq.read_table(d / "data.parquet", columns=["label", "pred", "label_id", "pred_id"])
    names: dict[int, str] = {}
    for col_id, col in (("pred_id", "pred"), ("label_id", "label")):
        for i, name in zip(clean.column(col_id).to_pylist(), clean.column(col).to_pylist()):
            names.setdefault(int(i), name)
    if sorted(names) != list(range(probs.shape[1])):
        raise SystemExit(f"{d}: class ids {sorted(names)} do not index the {probs.shape[1]} "
                         "columns of probs.npy")
    cols = {n: table.column(n) for n in table.column_names}
    cols["probs"] = pa.array(probs.tolist(), pa.list_(pa.float64()))
    pq.write_table(pa.table(cols), path)
    return ["--probs", "probs", "--classes", ",".join(names[i] for i in range(len(names)))]


def best_match(mask: set, slices: list[dict]) -> tuple[dict | None, float]:
    """The listed slice whose members overlap `mask` most (Jaccard), and that overlap."""
    best, best_j = None, 0.0
    for sl in slices:
        m = set(sl["members"])
        j = len(mask & m) / len(mask | m)
        if j > best_j:
            best, best_j = sl, j
    return best, best_j


def write_json(path: Path, doc: dict) -> None:
    """Write `doc` to `path` through a temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)

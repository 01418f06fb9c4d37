"""Shared fixtures: the repository's paths, the CLI, small synthetic tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADULT = ROOT / "examples" / "adult"
FASHION = ROOT / "examples" / "fashion"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run every test from the repository root, where the example configs'
    relative paths resolve (as for the CLI)."""
    monkeypatch.chdir(ROOT)
    yield


def cli_binary() -> Path:
    """The `slicescope` binary: $SLICESCOPE_BIN, or the newest build in target/."""
    env = os.environ.get("SLICESCOPE_BIN")
    if env:
        return Path(env)
    found = [
        ROOT / "target" / profile / "slicescope"
        for profile in ("ci", "release", "debug")
        if (ROOT / "target" / profile / "slicescope").exists()
    ]
    if not found:
        pytest.skip("no slicescope binary: build it with cargo build --profile ci -p slicescope-cli")
    return max(found, key=lambda p: p.stat().st_mtime)


def run_cli(tmp_path: Path, *args: str) -> dict[str, Any]:
    """Run `slicescope scan ARGS --json OUT --quiet` and return the JSON."""
    out = tmp_path / "cli.json"
    cmd = [str(cli_binary()), "scan", *args, "--json", str(out), "--quiet", "--force"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def synthetic(n: int = 3000, dim: int = 16, seed: int = 0) -> dict[str, Any]:
    """A classification table with a planted slice, visible both in the
    attributes (device = phone ∧ region = north) and in an embedding
    direction. Columns: label, pred, device, region, age, score, emb (list)."""
    rng = np.random.default_rng(seed)
    device = rng.choice(["phone", "desktop", "tablet"], size=n, p=[0.3, 0.5, 0.2])
    region = rng.choice(["north", "south"], size=n)
    age = rng.normal(40, 12, size=n).round(1)
    label = rng.integers(0, 3, size=n)
    planted = (device == "phone") & (region == "north")
    wrong = rng.random(n) < np.where(planted, 0.6, 0.05)
    pred = np.where(wrong, (label + 1) % 3, label)
    emb = rng.normal(0, 1, size=(n, dim)).astype(np.float32)
    emb[planted, 0] += 3.0
    return {
        "label": label,
        "pred": pred,
        "device": device,
        "region": region,
        "age": age,
        "emb": emb,
    }


@pytest.fixture(scope="session")
def table() -> dict[str, Any]:
    return synthetic()


def to_arrow(t: dict[str, Any]) -> Any:
    import pyarrow as pa

    cols = {k: v for k, v in t.items() if k != "emb"}
    emb = t["emb"]
    cols["emb"] = pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), emb.shape[1])
    return pa.table(cols)


def comparable(doc: dict[str, Any], drop_view_sources: bool = False) -> dict[str, Any]:
    """A result document without what legitimately differs between two runs
    on the same data: timing, the input's path, and (optionally) the views'
    sources."""
    d = json.loads(json.dumps(doc))
    d.pop("timing", None)
    d["input"].pop("path", None)
    if drop_view_sources:
        for v in d["views"]:
            v.pop("source", None)
    return d


def have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def which(name: str) -> str | None:
    return shutil.which(name)

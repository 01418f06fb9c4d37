#!/usr/bin/env python3
"""The report's budget: a 10k-sample report with thumbnails under 8 MB that opens in under 2 s.

Builds a 10,000-row table from the bundled Fashion-MNIST example (its 5,000 rows twice, the
second copy with its images mirrored left-right so that every thumbnail is a distinct image;
views and outcomes copied), scans it with every slicer and `--report`, and opens the report in
headless Chromium (Playwright, the system /usr/bin/chromium) `--runs` times, reading the page's own
time-to-ready (`window.slicescopeReport.readyMs`, from navigation start). Prints and writes
bench/results/report_budget.json.

    .venv/bin/python bench/report_budget.py [--slicescope-bin target/release/slicescope]

Needs numpy, pyarrow and playwright (scripts/requirements-test.txt) and a built slicescope.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zlib
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples/fashion"


def png_gray(img: np.ndarray) -> bytes:
    """A grayscale 8-bit PNG of `img` (h x w uint8)."""
    h, w = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def mirrored(png: bytes) -> bytes:
    """The image of a PNG written by make_example.py, mirrored left-right."""
    # Decode the simple 8-bit gray PNGs of the example: filter bytes per row.
    data = png[8:]
    idat = b""
    w = h = 0
    while data:
        n = struct.unpack(">I", data[:4])[0]
        kind, body = data[4:8], data[8:8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        data = data[12 + n:]
    raw = zlib.decompress(idat)
    stride = w + 1
    img = np.zeros((h, w), np.uint8)
    prev = np.zeros(w, np.int32)
    for y in range(h):
        f, line = raw[y * stride], np.frombuffer(raw[y * stride + 1:(y + 1) * stride], np.uint8).astype(np.int32)
        out = np.zeros(w, np.int32)
        for x in range(w):
            a = out[x - 1] if x else 0
            b = prev[x]
            c = prev[x - 1] if x else 0
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa_, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa_ <= pb and pa_ <= pc else (b if pb <= pc else c)
            out[x] = (line[x] + pred) & 0xFF
        img[y] = out
        prev = out
    return png_gray(img[:, ::-1].copy())


def build(work: Path) -> Path:
    t = pq.read_table(EX / "fashion_eval.parquet")
    imgs = t.column("image").to_pylist()
    second = t.set_column(t.schema.get_field_index("image"), "image",
                          pa.array([mirrored(b) for b in imgs], pa.binary()))
    second = second.set_column(0, "id", pa.array(np.asarray(t.column("id")) + 100_000))
    table = pa.concat_tables([t, second.cast(t.schema)])
    work.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, work / "fashion10k.parquet")
    for v in ("act", "effnet"):
        a = np.load(EX / f"{v}.npy")
        np.save(work / f"{v}.npy", np.concatenate([a, a]))
    return work / "fashion10k.parquet"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slicescope-bin", type=Path, default=ROOT / "target/release/slicescope")
    ap.add_argument("--work", type=Path, default=ROOT / "bench/.cache/report_budget")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/report_budget.json")
    args = ap.parse_args()
    if not args.slicescope_bin.exists():
        print(f"error: {args.slicescope_bin} not found; cargo build --release -p slicescope-cli",
              file=sys.stderr)
        return 2
    table = build(args.work)
    report = args.work / "fashion10k.html"
    cfg = (EX / "slicescope.toml").read_text().replace("examples/fashion/", f"{args.work}/")
    (args.work / "slicescope.toml").write_text(cfg)
    t0 = time.time()
    p = subprocess.run([str(args.slicescope_bin), "scan", str(table), "--config",
                        str(args.work / "slicescope.toml"), "--report", str(report),
                        "--force", "--quiet", "--json", str(args.work / "fashion10k.json")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        return 3
    scan_s = time.time() - t0
    size = report.stat().st_size
    res = json.loads((args.work / "fashion10k.json").read_text())
    from playwright.sync_api import sync_playwright
    ready = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        for _ in range(args.runs):
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(report.as_uri())
            for _ in range(200):
                r = page.evaluate("window.slicescopeReport && window.slicescopeReport.ready"
                                  " ? window.slicescopeReport.readyMs : null")
                if r is not None:
                    ready.append(r / 1000)
                    break
                time.sleep(0.05)
            page.close()
        browser.close()
    out = {"rows": table_rows(table), "slices": len(res["slices"]), "scan_seconds": round(scan_s, 2),
           "report_bytes": size, "report_mb": round(size / 1e6, 2),
           "ready_seconds": [round(x, 3) for x in ready],
           "ready_median_seconds": round(float(np.median(ready)), 3) if ready else None,
           "budget": {"max_mb": 8, "max_ready_seconds": 2.0}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


def table_rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The whole test suite: formatting, lints, every Rust test (unit,
# property, golden, end-to-end CLI), the Python scripts' tests and the HTML
# report's end-to-end tests in headless Chromium. Installs what it needs: a
# .venv with scripts/requirements-test.txt, and (as root, with apt-get) the
# Debian package chromium when it is missing. The Python package's suite
# (tests/python/run.sh) builds the wheel with maturin into its own venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install Rust from https://rustup.rs first" >&2
    exit 2
fi
# rustfmt and clippy ship with rustup's default profile; add them if absent.
if command -v rustup >/dev/null 2>&1; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== cargo test (profile ci: optimised, debug assertions and overflow checks on)"
cargo test --locked --workspace --profile ci

echo "== python tests"
PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found; install Python 3.10+ (Debian: apt-get install python3 python3-venv)" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
.venv/bin/python -m pytest -q scripts/test_make_vocab.py bench/planted/test_metrics.py bench/planted/test_targets.py

echo "== browser tests: the HTML reports of both examples in headless Chromium"
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
    else
        echo "error: chromium not found; install it (Debian: sudo apt-get install chromium)" >&2
        exit 2
    fi
fi
# `cargo test --profile ci` built the binary already.
BIN="${CARGO_TARGET_DIR:-target}/ci/slicescope"
REPORTS=target/browser
mkdir -p "$REPORTS"
"$BIN" scan examples/adult/adult_test.parquet --config examples/adult/slicescope.toml \
    --report "$REPORTS/adult.html" --force --quiet
"$BIN" scan examples/fashion/fashion_eval.parquet --config examples/fashion/slicescope.toml \
    --report "$REPORTS/fashion.html" --force --quiet
# The comparison report: v1 (pred) against v2, which regresses on v1's slices,
# so the regression gate fails (exit 1) and the report shows its reasons.
rc=0
"$BIN" compare examples/adult/adult_versions.parquet --config examples/adult/slicescope.toml \
    --pred-b pred_v2 --name-a v1 --name-b v2 --fail-on regression --fail-on 'new-slices>5' \
    --report "$REPORTS/adult-compare.html" --force --quiet --no-history || rc=$?
if [ "$rc" -ne 1 ]; then
    echo "error: compare of the adult versions should fail its regression gate (exit 1), got exit $rc" >&2
    exit 1
fi
# And of two saved runs (scan results of v1 and v2): the unpaired comparison.
for v in pred pred_v2; do
    "$BIN" scan examples/adult/adult_versions.parquet --config examples/adult/slicescope.toml \
        --pred "$v" --json "$REPORTS/adult-$v.json" --force --quiet --no-history >/dev/null
done
"$BIN" compare "$REPORTS/adult-pred.json" "$REPORTS/adult-pred_v2.json" --name-a v1 --name-b v2 \
    --report "$REPORTS/adult-compare-saved.html" --force --quiet
SLICESCOPE_REPORTS="$REPORTS/adult.html:$REPORTS/fashion.html" \
SLICESCOPE_COMPARE_REPORTS="$REPORTS/adult-compare.html:$REPORTS/adult-compare-saved.html" \
    .venv/bin/python -m pytest -q tests/browser

echo "== python package: build the wheel, pytest tests/python"
tests/python/run.sh -q

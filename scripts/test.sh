#!/usr/bin/env bash
# The whole test suite: formatting, lints, every Rust test (unit,
# property, golden, end-to-end CLI) and the Python scripts' tests. Installs what
# it needs (a .venv with scripts/requirements-test.txt).
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
echo "== cargo test"
cargo test --locked --workspace

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
.venv/bin/python -m pytest -q scripts/test_make_vocab.py bench/planted/test_metrics.py

#!/usr/bin/env bash
# The main job on the bundled real example: build slicescope (release) and
# scan the UCI Adult evaluation table (examples/adult/) for error slices.
# The JSON result goes to target/examples/adult-slices.json.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install Rust from https://rustup.rs first" >&2
    exit 2
fi
cargo build --release --locked -p slicescope-cli
mkdir -p target/examples
./target/release/slicescope scan examples/adult/adult_test.parquet \
    --config examples/adult/slicescope.toml \
    --json target/examples/adult-slices.json --force "$@"

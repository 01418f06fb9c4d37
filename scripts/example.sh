#!/usr/bin/env bash
# The main job on the bundled real examples: build slicescope (release) and
# scan
#   - the UCI Adult evaluation table (examples/adult/): a gradient-boosting
#     model's income predictions, 13 metadata attributes;
#   - the Fashion-MNIST evaluation table (examples/fashion/): a small neural
#     network's class probabilities, image attributes, two embedding views
#     (the network's activations and pretrained EfficientNet-Lite0 features)
#     and the images themselves for the report.
# Each writes its JSON result, a self-contained HTML report and a Markdown
# summary to target/examples/. Extra arguments go to both `slicescope scan`s.
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
    --title "UCI Adult: income above 50K" --run-name "gradient boosting (examples/adult)" \
    --json target/examples/adult-slices.json \
    --report target/examples/adult-report.html \
    --markdown target/examples/adult-summary.md --force "$@"
echo
./target/release/slicescope scan examples/fashion/fashion_eval.parquet \
    --config examples/fashion/slicescope.toml \
    --title "Fashion-MNIST: 10 clothing classes" --run-name "MLP 64 (examples/fashion)" \
    --json target/examples/fashion-slices.json \
    --report target/examples/fashion-report.html \
    --markdown target/examples/fashion-summary.md --force "$@"
echo
echo "Open target/examples/adult-report.html and target/examples/fashion-report.html in a browser."

#!/usr/bin/env bash
# The Python package's test suite: builds the `slicescope` wheel (maturin,
# abi3) and the CLI with the same Cargo profile, installs the wheel into a
# virtual environment (target/python/venv, made on first use with the pins
# of tests/python/requirements.txt) and runs pytest on tests/python.
#
#   tests/python/run.sh                 # everything
#   tests/python/run.sh -m "not slow"   # extra arguments go to pytest
#
# Environment: PYTHON (the interpreter that makes the venv, default
# python3), SLICESCOPE_PY_PROFILE (Cargo profile, default `ci`: optimised
# with debug assertions, no LTO), SLICESCOPE_PY_VENV (the venv's folder),
# SLICESCOPE_PY_FRESH=1 (make the venv anew).
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
PROFILE="${SLICESCOPE_PY_PROFILE:-ci}"
VENV="${SLICESCOPE_PY_VENV:-target/python/venv}"
WHEELS=target/python/wheels

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found; install Python 3.10+ (Debian: apt-get install python3 python3-venv)" >&2
    exit 2
fi
if [ "${SLICESCOPE_PY_FRESH:-0}" = 1 ]; then
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "== python venv ($VENV)"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

echo "== cargo build --profile $PROFILE -p slicescope-cli (for the parity tests)"
cargo build --locked --profile "$PROFILE" -p slicescope-cli

echo "== maturin build --profile $PROFILE"
rm -rf "$WHEELS"
"$VENV/bin/maturin" build --locked --profile "$PROFILE" --out "$WHEELS" --quiet
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/slicescope-*.whl

echo "== pytest tests/python"
SLICESCOPE_BIN="${CARGO_TARGET_DIR:-target}/$PROFILE/slicescope" \
    "$VENV/bin/python" -m pytest -c tests/python/pytest.ini tests/python "$@"

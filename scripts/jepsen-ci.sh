#!/usr/bin/env bash
# The Jepsen CI profile (jepsen/ci.sh: a fixed seed and a random one, three members, proxy mode)
# and the negative controls (each unsafe switch must be caught), against freshly built binaries.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/env.sh
cargo build --bin ferric -p ferric -p ferric-jepsen
cargo build -p ferric --features unsafe-test-switches --bin ferric-unsafe
export JEPSEN_RUNS="${JEPSEN_RUNS:-$CARGO_TARGET_DIR/jepsen-runs}"
bash jepsen/ci.sh
FERRIC_UNSAFE_BIN="$CARGO_TARGET_DIR/debug/ferric-unsafe" cargo test -p ferric-jepsen --test negative_controls -- --ignored --test-threads=1

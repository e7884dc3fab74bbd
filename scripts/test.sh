#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing (apt packages, a Python venv with
# the real Ironic clients and the Redfish emulator), builds once (one cargo profile), runs the
# Rust tests (real RocksDB, real gRPC between real member processes, ipmi_sim, sushy-tools), the
# conformance run of the real `baremetal` CLI and openstacksdk against a started `ferric serve`,
# and the Jepsen CI profile.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/testbed-setup.sh
. scripts/env.sh
export FERRIC_VENV="${FERRIC_VENV:-$HOME/.cache/ferric/venv}"

step() { printf '\n==== %s\n' "$*"; }

step "build (tests and binaries, dev profile)"
cargo build --workspace --tests --bins --examples
ferric_cache_rocksdb

step "cargo test --workspace"
cargo test --workspace -- --test-threads="${FERRIC_TEST_THREADS:-2}"

step "conformance: real baremetal CLI and openstacksdk against ferric serve"
bash scripts/conformance-ferric.sh

if [ -x "$CARGO_TARGET_DIR/debug/ferric-jepsen" ] && [ -f scripts/jepsen-ci.sh ]; then
  step "jepsen CI profile"
  bash scripts/jepsen-ci.sh
fi
step "all tests passed"

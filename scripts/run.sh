#!/usr/bin/env bash
# Runs Ferric on its embedded default: a one-member cluster, fake hardware enabled, the API on
# 127.0.0.1:6385, data in ./ferric-data. Installs what the build needs first (apt, as root or
# with sudo). Extra arguments go to `ferric serve` (e.g. --name, --data-dir, --config).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FERRIC_SKIP_VENV=1 bash scripts/testbed-setup.sh
. scripts/env.sh
cargo build --bin ferric
ferric_cache_rocksdb
exec "$CARGO_TARGET_DIR/debug/ferric" serve --name "${FERRIC_NAME:-ferric-1}" --data-dir "${FERRIC_DATA_DIR:-./ferric-data}" "$@"

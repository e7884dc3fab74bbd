#!/usr/bin/env bash
# Starts a one-member `ferric serve` on free loopback ports in a temporary data dir, runs
# scripts/conformance.sh (real baremetal CLI + openstacksdk) against it, and stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/env.sh"
BIN="$CARGO_TARGET_DIR/debug/ferric"
[ -x "$BIN" ] || cargo build --bin ferric
DIR=$(mktemp -d /tmp/ferric-conformance.XXXXXX)
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"' EXIT
"$BIN" serve --name conformance --data-dir "$DIR/data" --api 127.0.0.1:0 --peer 127.0.0.1:0 >"$DIR/out" 2>"$DIR/log" &
PID=$!
for _ in $(seq 1 600); do
  grep -q '^ferric: ready' "$DIR/out" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$DIR/log"; exit 1; }
  sleep 0.1
done
API=$(sed -n 's/^ferric: ready .*api=\([^ ]*\).*/\1/p' "$DIR/out")
[ -n "$API" ] || { echo "ferric did not start"; tail -50 "$DIR/log"; exit 1; }
bash "$ROOT/scripts/conformance.sh" --url "http://$API" || { echo "--- ferric log"; tail -80 "$DIR/log"; exit 1; }

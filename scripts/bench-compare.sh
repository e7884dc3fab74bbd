#!/usr/bin/env bash
# Side-by-side figures in one sitting: the shared Ironic-v1 harness (../shared/bench) against
# real Ironic 39 (../shared/bench/peer-ironic, if installed), Ferric with one member, and Ferric
# with three members (fsync on, separate processes on loopback); wrk for GET of one node; and the
# provisioning of 1,000 nodes on three members. Results (JSON and a markdown table) go to
# $OUT (default ./bench-results/<timestamp>).
#
# Then a create sweep: the harness's create test alone at higher client concurrency (CREATE_SWEEP,
# default "16 32 64"; N = 4,000 for Ferric, 1,000 for Ironic at the highest one only), a fresh
# three-member cluster (or Ironic database) per run: the harness's default of 4 clients measures
# latency under a shared CPU as much as throughput. `--quick` skips the sweep and the
# provisioning of 1,000 nodes.
#
#   scripts/bench-compare.sh [--quick] [--no-ironic]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/env.sh"
BENCH="$ROOT/../shared/bench"
PEER="$BENCH/peer-ironic"
QUICK=""; IRONIC=1
for a in "$@"; do
  case "$a" in --quick) QUICK="--quick" ;; --no-ironic) IRONIC=0 ;; *) echo "unknown $a" >&2; exit 2 ;; esac
done
OUT="${OUT:-$ROOT/bench-results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
cargo build --bin ferric >/dev/null
BIN="$CARGO_TARGET_DIR/debug/ferric"
DATA=$(mktemp -d /work/ferric-bench.XXXXXX 2>/dev/null || mktemp -d)
MEMBERS_DIR="$DATA"
. "$ROOT/scripts/members.sh"
cleanup() { members_stop_all; rm -rf "$DATA"; }
trap cleanup EXIT
stop_all() { members_stop_all; rm -rf "${DATA:?}"/*; }

wrk_get() { # url label
  local url=$1 label=$2 uuid
  uuid=$(curl -s -X POST -H 'Content-Type: application/json' -H 'X-OpenStack-Ironic-API-Version: latest' \
    "$url/v1/nodes" -d "{\"driver\":\"fake-hardware\",\"name\":\"wrk-probe-$label\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["uuid"])')
  wrk -t2 -c16 -d10s -H 'X-OpenStack-Ironic-API-Version: latest' "$url/v1/nodes/$uuid" >"$OUT/wrk-$label.txt" 2>&1 || true
  echo "$label GET /v1/nodes/{uuid} (wrk, c=16): $(grep Requests/sec "$OUT/wrk-$label.txt")" | tee -a "$OUT/wrk.txt"
}

CREATE_SWEEP="${CREATE_SWEEP-16 32 64}"
sweep_create() { # url label pid concurrency n
  python3 "$BENCH/ironic_bench.py" --url "$1" --label "$2" --server-pid "$3" --tests create \
    --create-concurrency "$4" -n "$5" --json "$OUT/$2.json" | tee "$OUT/$2.txt"
}

run_harness() { # url label pid
  python3 "$BENCH/ironic_bench.py" --url "$1" --label "$2" --server-pid "$3" $QUICK --json "$OUT/$2.json" | tee "$OUT/$2.txt"
}

if [ "$IRONIC" = 1 ] && [ -x "$PEER/start.sh" ] && [ -d "${HOME}/.cache/ferric-peers/ironic-venv" ]; then
  echo "=== Ironic 39 (sqlite, one process)"
  IRONIC_FRESH_DB=1 bash "$PEER/start.sh" >"$OUT/ironic-start.log" 2>&1
  IPID=$(cat "${HOME}/.cache/ferric-peers/ironic-data/ironic.pid")
  run_harness http://127.0.0.1:6385 ironic39 "$IPID" || true
  wrk_get http://127.0.0.1:6385 ironic39 || true
  bash "$PEER/stop.sh" >/dev/null 2>&1 || true
  c=$(printf '%s\n' $CREATE_SWEEP | sort -n | tail -n 1)
  if [ -z "$QUICK" ] && [ -n "$c" ]; then
    # A fresh database, as each Ferric run of the sweep gets a fresh cluster.
    IRONIC_FRESH_DB=1 bash "$PEER/start.sh" >>"$OUT/ironic-start.log" 2>&1
    IPID=$(cat "${HOME}/.cache/ferric-peers/ironic-data/ironic.pid")
    sweep_create http://127.0.0.1:6385 "ironic39-create-c$c" "$IPID" "$c" 1000 || true
    bash "$PEER/stop.sh" >/dev/null 2>&1 || true
  fi
fi

echo "=== Ferric, one member"
member_start "$BIN" f1 127.0.0.1:16385 127.0.0.1:16386
run_harness http://127.0.0.1:16385 ferric-1 "$(member_pid f1)"
wrk_get http://127.0.0.1:16385 ferric-1
stop_all

echo "=== Ferric, three members (harness on a follower-independent member: the first)"
members_start_three "$BIN" 16385
run_harness http://127.0.0.1:16385 ferric-3 "$(member_pid m1)"
wrk_get http://127.0.0.1:16385 ferric-3-leader
wrk_get http://127.0.0.1:16395 ferric-3-follower
if [ -z "$QUICK" ]; then
  echo "=== Ferric, three members: provisioning 1,000 nodes"
  python3 "$BENCH/ironic_bench.py" --url http://127.0.0.1:16385 --label ferric-3-prov1000 -n 1000 -m 1000 \
    --tests create,provision,delete --json "$OUT/ferric-3-prov1000.json" | tee "$OUT/ferric-3-prov1000.txt"
fi
stop_all

if [ -z "$QUICK" ]; then
  for c in $CREATE_SWEEP; do
    echo "=== Ferric, three members: create alone, $c clients (fresh cluster)"
    members_start_three "$BIN" 16385
    sweep_create http://127.0.0.1:16385 "ferric-3-create-c$c" "$(member_pid m1)" "$c" 4000
    stop_all
  done
fi

# One summary per server: summarize.py takes medians over its inputs, which only means something
# for runs of the same server.
for j in "$OUT"/*.json; do
  python3 "$BENCH/summarize.py" "$j" --md >"${j%.json}.summary.md" 2>/dev/null || true
done
echo "results in $OUT"

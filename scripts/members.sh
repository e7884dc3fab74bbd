# Sourced by the benchmark and upgrade scripts: start and stop real `ferric serve` members on
# loopback. Set MEMBERS_DIR (data directories, logs, pid files) and optionally MEMBERS_CONFIG (a
# config file for every member) and FERRIC_LOG (default warn) before calling.

# member_start BINARY NAME API PEER [JOIN]: starts NAME (on its existing data directory, if any)
# and waits, bounded, for its "ferric: ready" line.
member_start() {
  local bin=$1 name=$2 api=$3 peer=$4 join=${5:-}
  FERRIC_LOG="${FERRIC_LOG:-warn}" "$bin" serve --name "$name" --data-dir "$MEMBERS_DIR/$name" --api "$api" \
    --peer "$peer" ${MEMBERS_CONFIG:+--config "$MEMBERS_CONFIG"} ${join:+--join "$join"} \
    >"$MEMBERS_DIR/$name.out" 2>>"$MEMBERS_DIR/$name.log" &
  echo $! >"$MEMBERS_DIR/$name.pid"
  for _ in $(seq 1 600); do grep -q '^ferric: ready' "$MEMBERS_DIR/$name.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "member $name did not start; the end of its log:" >&2
  tail -20 "$MEMBERS_DIR/$name.log" >&2
  return 1
}

member_pid() { cat "$MEMBERS_DIR/$1.pid"; }

# member_stop NAME: SIGTERM, then waits (bounded, 60 s) for its graceful stop; SIGKILL after.
member_stop() {
  local pid
  pid=$(cat "$MEMBERS_DIR/$1.pid" 2>/dev/null) || return 0
  rm -f "$MEMBERS_DIR/$1.pid"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# members_stop_all: every member started from MEMBERS_DIR that is still running.
members_stop_all() {
  local f
  for f in "$MEMBERS_DIR"/*.pid; do
    [ -e "$f" ] && member_stop "$(basename "$f" .pid)"
  done
  return 0
}

# member_start_nth BINARY N BASE [JOIN]: member mN of the three-member layout the scripts use on
# loopback: API port BASE + 10 (N - 1), peer port one above.
member_start_nth() {
  local api=$(( $3 + 10 * ($2 - 1) ))
  member_start "$1" "m$2" "127.0.0.1:$api" "127.0.0.1:$(( api + 1 ))" ${4:-}
}

# members_start_three BINARY BASE: a fresh cluster of m1, m2 and m3, the last two joining m1.
members_start_three() {
  member_start_nth "$1" 1 "$2"
  member_start_nth "$1" 2 "$2" "127.0.0.1:$(( $2 + 1 ))"
  member_start_nth "$1" 3 "$2" "127.0.0.1:$(( $2 + 1 ))"
}

# members_settle API_URL: waits (bounded, 60 s) until the member at API_URL knows a leader and
# sees three voters that the leader reaches.
members_settle() {
  for _ in $(seq 1 300); do
    curl -s --max-time 2 "$1/cluster/status" 2>/dev/null | python3 -c '
import sys, json
d = json.load(sys.stdin)
ok = d.get("leader") and len(d["members"]) == 3 and all(m.get("role") == "voter" and m.get("reachable", True) for m in d["members"])
sys.exit(0 if ok else 1)' 2>/dev/null && return 0
    sleep 0.2
  done
  echo "the cluster at $1 did not settle" >&2; return 1
}

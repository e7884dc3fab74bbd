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

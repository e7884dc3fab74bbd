#!/usr/bin/env bash
# A rolling upgrade rehearsed on real binaries: three members of OLD form a cluster, then each is
# stopped (SIGTERM) and started again from NEW on its data directory, followers first, the leader
# last. Before, between and after the steps, the same work runs through an upgraded member and
# an old one: create nodes, manage, provide, power on, deploy with a config drive. Exits non-zero
# if any of it fails.
#
#   scripts/rolling-upgrade-check.sh OLD_BINARY NEW_BINARY
#
# Uses ports 6385/6386, 6395/6396, 6405/6406 on loopback and /var/tmp/ferric-upgrade (removed
# first). Build OLD from an earlier commit, e.g. `git worktree add /tmp/old <commit>` and
# `cargo build --bin ferric` there.
set -euo pipefail
OLD="${1:?old binary}"; NEW="${2:?new binary}"
R=/var/tmp/ferric-upgrade
rm -rf "$R"; mkdir -p "$R"
# A long heartbeat timeout: a member being swapped is not taken over meanwhile.
printf '[conductor]\nsync_power_state_interval = 0.0\nheartbeat_timeout = 60.0\n' > "$R/cfg.toml"
MEMBERS_DIR="$R" MEMBERS_CONFIG="$R/cfg.toml"
. "$(dirname "${BASH_SOURCE[0]}")/members.sh"
trap members_stop_all EXIT
start() { # binary name [join]
  case $2 in
    m1) member_start "$1" m1 127.0.0.1:6385 127.0.0.1:6386 ${3:-} ;;
    m2) member_start "$1" m2 127.0.0.1:6395 127.0.0.1:6396 ${3:-} ;;
    m3) member_start "$1" m3 127.0.0.1:6405 127.0.0.1:6406 ${3:-} ;;
  esac
}
stop() { member_stop "$1"; }
settle() { # until a leader is known and every member is a voter the leader reaches
  for _ in $(seq 1 300); do
    curl -s http://127.0.0.1:6395/cluster/status 2>/dev/null | python3 -c '
import sys, json
d = json.load(sys.stdin)
ok = d.get("leader") and len(d["members"]) == 3 and all(m.get("role") == "voter" and m.get("reachable", True) for m in d["members"])
sys.exit(0 if ok else 1)' 2>/dev/null && return 0
    sleep 0.2
  done
  echo "the cluster did not settle" >&2; return 1
}
work() { # api-port tag
  python3 - "$1" "$2" <<'PY'
import http.client, json, time, sys
port, tag = int(sys.argv[1]), sys.argv[2]
H = {"Content-Type": "application/json", "X-OpenStack-Ironic-API-Version": "latest"}
def req(m, p, b=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(m, p, body=None if b is None else json.dumps(b), headers=H)
    r = c.getresponse(); d = r.read(); c.close()
    return r.status, (json.loads(d) if d else None)
def wait(u, want):
    deadline, n = time.time() + 60, None
    while time.time() < deadline:
        s, n = req("GET", "/v1/nodes/" + u)
        if s == 200 and n["provision_state"] == want and n["target_provision_state"] is None and n["reservation"] is None:
            return n
        time.sleep(0.05)
    raise SystemExit(f"{tag}: {u} did not reach {want}: {n}")
bad = []
for i in range(6):
    s, n = req("POST", "/v1/nodes", {"driver": "fake-hardware", "name": f"{tag}-{i}"})
    if s != 201:
        bad.append(("create", s, n)); continue
    u = n["uuid"]
    steps = [("provision", {"target": "manage"}, "manageable"), ("provision", {"target": "provide"}, "available"),
             ("power", {"target": "power on"}, None),
             ("provision", {"target": "active", "configdrive": "H4sI" * 1000}, "active")]
    for kind, body, want in steps:
        s, v = req("PUT", f"/v1/nodes/{u}/states/{kind}", body)
        if s != 202:
            bad.append((body["target"], s, v)); break
        if want:
            n = wait(u, want)
    else:
        if n["instance_info"].get("configdrive") != "******":
            bad.append(("configdrive not masked", n["instance_info"]))
print(f"{tag}: {'ok' if not bad else bad[:2]}")
sys.exit(1 if bad else 0)
PY
}
start "$OLD" m1; start "$OLD" m2 127.0.0.1:6386; start "$OLD" m3 127.0.0.1:6386; settle
work 6385 old-cluster
stop m2; start "$NEW" m2; settle
work 6395 via-upgraded-m2; work 6405 via-old-m3
stop m3; start "$NEW" m3; settle
work 6405 via-upgraded-m3; work 6385 via-old-leader-m1
stop m1; start "$NEW" m1; settle
work 6385 all-upgraded
echo "rolling upgrade: every step served"

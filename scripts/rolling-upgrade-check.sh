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
settle() { members_settle http://127.0.0.1:6395; }
members_start_three "$OLD" 6385; settle
work 6385 old-cluster
member_stop m2; member_start_nth "$NEW" 2 6385; settle
work 6395 via-upgraded-m2; work 6405 via-old-m3
member_stop m3; member_start_nth "$NEW" 3 6385; settle
work 6405 via-upgraded-m3; work 6385 via-old-leader-m1
member_stop m1; member_start_nth "$NEW" 1 6385; settle
work 6385 all-upgraded
echo "rolling upgrade: every step served"

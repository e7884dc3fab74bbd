#!/usr/bin/env bash
# Deploys with a large config drive on three members, one client creating nodes one at a time
# beside them. Prints, per run: each deploy request's time to 202 and to `active`, the creates'
# p50 and longest wait, the members' resident memory and data directory sizes.
#
#   scripts/bench-configdrive.sh [BINARY] [DEPLOYS] [MB]    (defaults: the dev build, 5, 40)
#
# Uses ports 6385/6386, 6395/6396, 6405/6406 on loopback and /var/tmp/ferric-cd (removed first).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/env.sh"
F="${1:-$CARGO_TARGET_DIR/debug/ferric}"
K="${2:-5}"
MB="${3:-40}"
R=/var/tmp/ferric-cd
rm -rf "$R"; mkdir -p "$R"
printf '[conductor]\nsync_power_state_interval = 0.0\n' > "$R/cfg.toml"
MEMBERS_DIR="$R" MEMBERS_CONFIG="$R/cfg.toml"
. "$ROOT/scripts/members.sh"
trap members_stop_all EXIT
if curl -s -o /dev/null --max-time 2 http://127.0.0.1:6385/; then
  echo "bench-configdrive: something already answers on 127.0.0.1:6385; stop it first" >&2; exit 1
fi
members_start_three "$F" 6385
members_settle http://127.0.0.1:6385
python3 - "$K" "$MB" "$R" <<'PY'
import http.client, json, time, threading, sys, subprocess
K, MB, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
H = {"Content-Type": "application/json", "X-OpenStack-Ironic-API-Version": "latest"}
def req(m, p, b=None):
    c = http.client.HTTPConnection("127.0.0.1", 6385, timeout=120)
    c.request(m, p, body=None if b is None else (b if isinstance(b, bytes) else json.dumps(b)), headers=H)
    r = c.getresponse(); d = r.read(); c.close()
    return r.status, (json.loads(d) if d else None)
def wait(u, want, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline:
        _, n = req("GET", "/v1/nodes/" + u)
        if n["provision_state"] == want and n["target_provision_state"] is None and n["reservation"] is None:
            return
        time.sleep(0.05)
    raise SystemExit(f"{u} did not reach {want}")
nodes = []
for i in range(K):
    _, n = req("POST", "/v1/nodes", {"driver": "fake-hardware", "name": f"big{i}"}); u = n["uuid"]; nodes.append(u)
    req("PUT", f"/v1/nodes/{u}/states/provision", {"target": "manage"}); wait(u, "manageable")
    req("PUT", f"/v1/nodes/{u}/states/provision", {"target": "provide"}); wait(u, "available")
body = json.dumps({"target": "active", "configdrive": "H4sI" * (MB * 1024 * 1024 // 4)}).encode()
stop, lat = False, []
def creator():
    while not stop:
        t = time.perf_counter(); req("POST", "/v1/nodes", {"driver": "fake-hardware"}); lat.append(time.perf_counter() - t)
th = threading.Thread(target=creator); th.start()
puts, actives = [], []
for u in nodes:
    t = time.perf_counter(); s, v = req("PUT", f"/v1/nodes/{u}/states/provision", body); puts.append(time.perf_counter() - t)
    assert s == 202, (s, v)
    wait(u, "active"); actives.append(time.perf_counter() - t)
stop = True; th.join()
lat.sort()
rss = []
for m in ("m1", "m2", "m3"):
    pid = open(f"{root}/{m}.pid").read().strip()
    rss += [int(l.split()[1]) // 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")]
du = [int(subprocess.check_output(["du", "-sm", f"{root}/{m}"]).split()[0]) for m in ("m1", "m2", "m3")]
print(json.dumps({"deploy_202_s": [round(x, 2) for x in puts], "deploy_active_s": [round(x, 2) for x in actives],
                  "creates": len(lat), "create_p50_ms": round(lat[len(lat) // 2] * 1000, 1),
                  "create_max_s": round(lat[-1], 2), "rss_mb": rss, "data_dir_mb": du}))
PY

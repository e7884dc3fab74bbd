#!/usr/bin/env python3
"""Differential check: the same requests against real Ironic (shared/bench/peer-ironic) and a
Ferric API, comparing status codes and normalised bodies (UUIDs, timestamps, hosts and request
ids blanked). Prints every difference; exit status 1 when there is one.

    python3 scripts/conformance_diff.py --ironic http://127.0.0.1:16399 --ferric http://127.0.0.1:6385

Both servers should be fresh (no nodes); the script creates and deletes its own records.
Standard library only.
"""
import argparse
import json
import re
import sys
import urllib.error
import urllib.request

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?$")


def call(base, method, path, ver="latest", body=None, ctype="application/json"):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Host", "127.0.0.1:6385")
    if ver:
        req.add_header("X-OpenStack-Ironic-API-Version", ver)
    if data is not None and ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = raw.decode(errors="replace")
    return status, doc


def norm(v, hosts):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k == "error_message" and isinstance(x, str):
                try:
                    x = json.loads(x)
                    if isinstance(x.get("faultstring"), str):
                        x["faultstring"] = x["faultstring"].split("\n")[0]
                except ValueError:
                    pass
            if k.startswith("enabled_") and isinstance(x, list):
                x = sorted(x)
            out[k] = norm(x, hosts)
        return out
    if isinstance(v, list):
        return [norm(x, hosts) for x in v]
    if isinstance(v, str):
        if TS.match(v):
            return "<ts>"
        v = UUID.sub("<uuid>", v)
        for h in hosts:
            v = v.replace(h, "<host>")
        return v
    return v


def setup(base):
    """One node, chassis, portgroup and port; returns their ids."""
    _, c = call(base, "POST", "/v1/chassis", body={"description": "diff"})
    _, n = call(base, "POST", "/v1/nodes", body={"driver": "fake-hardware", "name": "diff-node", "chassis_uuid": c["uuid"],
                                                 "driver_info": {"ipmi_password": "x"}, "resource_class": "diff"})
    _, g = call(base, "POST", "/v1/portgroups", body={"node_uuid": n["uuid"], "name": "diff-pg"})
    _, p = call(base, "POST", "/v1/ports", body={"node_uuid": n["uuid"], "address": "52:54:00:de:ff:01", "portgroup_uuid": g["uuid"]})
    return {"n": n["uuid"], "c": c["uuid"], "g": g["uuid"], "p": p["uuid"]}


def teardown(base, ids):
    call(base, "DELETE", f"/v1/ports/{ids['p']}")
    call(base, "DELETE", f"/v1/portgroups/{ids['g']}")
    call(base, "PATCH", "/v1/nodes/diff-node", body=[{"op": "remove", "path": "/chassis_uuid"}])
    call(base, "DELETE", "/v1/nodes/diff-node")
    call(base, "DELETE", f"/v1/chassis/{ids['c']}")


VERSIONS = ["", "1.1", "1.4", "1.5", "1.9", "1.10", "1.11", "1.20", "1.23", "1.24", "1.31", "1.37", "1.43", "1.49",
            "1.50", "1.65", "1.82", "1.98", "latest"]

GETS = ["/", "/v1", "/v1/nodes", "/v1/nodes/detail", "/v1/nodes/diff-node", "/v1/nodes/{n}", "/v1/nodes/{n}/states",
        "/v1/nodes/{n}/ports", "/v1/nodes/{n}/portgroups", "/v1/nodes/{n}/traits", "/v1/nodes/{n}/vifs",
        "/v1/ports", "/v1/ports/detail", "/v1/ports/{p}", "/v1/portgroups", "/v1/portgroups/{g}",
        "/v1/portgroups/{g}/ports", "/v1/chassis", "/v1/chassis/{c}", "/v1/chassis/{c}/nodes", "/v1/drivers",
        "/v1/drivers/fake-hardware", "/v1/conductors", "/v1/shards", "/v1/nodes?fields=uuid,name",
        "/v1/nodes?provision_state=enroll", "/v1/nodes?driver=fake-hardware", "/v1/nodes?resource_class=diff",
        "/v1/nodes?detail=True", "/v1/ports?fields=uuid,address,pxe_enabled", "/v1/nodes/{n}?fields=uuid,owner",
        "/v1/nodes/validate?node={n}", "/v1/nodes/{n}/validate", "/v1/nodes/{n}/management/boot_device",
        "/v1/nodes/{n}/states/console", "/v1/drivers?detail=True", "/v1/drivers/fake-hardware/properties",
        "/v1/drivers/fake-hardware/raid/logical_disk_properties", "/v1/nodes?limit=1", "/v1/ports?limit=1&sort_key=address",
        "/v1/nodes?sort_key=name&sort_dir=desc", "/v1/nodes?marker={n}", "/v1/nodes?associated=false&maintenance=false",
        "/v1/nodes?fields=bogus", "/v1/nodes?limit=-1", "/v1/nodes?sort_key=traits", "/v1/ports?node=diff-node",
        "/v1/ports?address=52:54:00:de:ff:01", "/v1/ports?address=bogus", "/v1/portgroups?node=diff-node",
        "/v1/conductors?detail=True", "/v1/nodes?instance_uuid=nope", "/v1/nodes?chassis_uuid={c}",
        "/v1/lookup", "/v1/lookup?addresses=52:54:00:de:ff:01"]

ERRORS = [
    ("POST", "/v1/nodes", {"driver": "fake-hardware", "name": "a b"}),
    ("POST", "/v1/nodes", {"driver": "fake-hardware", "name": "vendor_passthru"}),
    ("POST", "/v1/nodes", {"driver": "fake-hardware", "automated_clean": "x"}),
    ("POST", "/v1/nodes", {"driver": "fake-hardware", "resource_class": "x" * 81}),
    ("POST", "/v1/nodes", {"driver": "fake-hardware", "chassis_uuid": "00000000-0000-0000-0000-000000000000"}),
    ("POST", "/v1/nodes", {"driver": "fake-hardware", "instance_name": ""}),
    ("POST", "/v1/nodes", []),
    ("POST", "/v1/ports", {"address": "52:54:00:de:ff:01", "node_uuid": "{n}"}),
    ("POST", "/v1/ports", {"address": "52:54:00:de:ff:02", "node_uuid": "{n}", "bogus": 1}),
    ("POST", "/v1/ports", {"address": "52:54:00:de:ff:02", "node_uuid": "{n}", "local_link_connection": {"x": 1}}),
    ("POST", "/v1/ports", {"address": "52:54:00:de:ff:02", "node_uuid": "{n}", "physical_network": ""}),
    ("POST", "/v1/ports", {"address": "52:54:00:de:ff:02", "node_uuid": "{n}", "is_smartnic": True}),
    ("POST", "/v1/portgroups", {"node_uuid": "{n}", "name": "diff-pg"}),
    ("POST", "/v1/portgroups", {"node_uuid": "{n}", "address": "bogus"}),
    ("POST", "/v1/chassis", {"description": 5}),
    ("PATCH", "/v1/nodes/diff-node", [{"op": "replace", "path": "/provision_state", "value": "x"}]),
    ("PATCH", "/v1/nodes/diff-node", [{"op": "replace", "path": "/extra", "value": []}]),
    ("PATCH", "/v1/nodes/diff-node", [{"op": "remove", "path": "/driver"}]),
    ("PATCH", "/v1/nodes/diff-node", [{"op": "add", "path": "/retired_reason", "value": "x"}]),
    ("PATCH", "/v1/nodes/diff-node", [{"op": "replace", "path": "/chassis_uuid", "value": "00000000-0000-0000-0000-000000000000"}]),
    ("PATCH", "/v1/ports/{p}", [{"op": "replace", "path": "/address", "value": "bogus"}]),
    ("PATCH", "/v1/ports/{p}", [{"op": "replace", "path": "/node_uuid", "value": "00000000-0000-0000-0000-000000000000"}]),
    ("PATCH", "/v1/portgroups/{g}", [{"op": "replace", "path": "/name", "value": "a b"}]),
    ("PATCH", "/v1/chassis/{c}", [{"op": "replace", "path": "/uuid", "value": "x"}]),
    ("PUT", "/v1/nodes/diff-node/states/power", {"target": "rebooting", "timeout": -1}),
    ("PUT", "/v1/nodes/diff-node/states/power", "power on"),
    ("PUT", "/v1/nodes/diff-node/states/provision", {"target": "manage", "configdrive": 5}),
    ("PUT", "/v1/nodes/diff-node/states/provision", {"target": "deploy"}),
    ("PUT", "/v1/nodes/diff-node/states/provision", {"target": "unhold"}),
    ("PUT", "/v1/nodes/diff-node/states/raid", {"logical_disks": "x"}),
    ("PUT", "/v1/nodes/diff-node/states/raid", []),
    ("PUT", "/v1/nodes/diff-node/states/console", {"enabled": "x"}),
    ("PUT", "/v1/nodes/diff-node/states/boot_mode", {"target": "x"}),
    ("PUT", "/v1/nodes/diff-node/states/secure_boot", {"target": "x"}),
    ("PUT", "/v1/nodes/diff-node/management/boot_device", {"boot_device": 5}),
    ("PUT", "/v1/nodes/diff-node/maintenance", {"reason": 5}),
    ("PUT", "/v1/nodes/diff-node/maintenance", {"bogus": 1}),
    ("POST", "/v1/nodes/diff-node/vifs", {"foo": 1}),
    ("POST", "/v1/nodes/diff-node/vifs", {"id": "a b"}),
    ("DELETE", "/v1/nodes/diff-node/vifs/a%20b", None),
    ("GET", "/v1/nodes/diff-node/vendor_passthru", None),
    ("POST", "/v1/nodes/diff-node/vendor_passthru?method=nope", {}),
    ("GET", "/v1/drivers/fake-hardware/vendor_passthru/methods", None),
    ("DELETE", "/v1/chassis/not-a-uuid", None),
    ("DELETE", "/v1/ports/not-a-uuid", None),
    ("GET", "/v1/nodes/diff-node/traits/CUSTOM_X", None),
    ("POST", "/v1/heartbeat/diff-node", {"callback_url": "http://x"}),
    ("POST", "/v1/heartbeat/diff-node", {}),
    ("PUT", "/v1/nodes/diff-node", {}),
    ("POST", "/v1/nodes/diff-node", {}),
    ("GET", "/v1/nodes/diff-node/bogus", None),
]


# Deliberate differences (method, path template): Ferric does not copy these Ironic 39 quirks.
KNOWN = {
    ("GET", "/v1/nodes?fields=bogus"): "Ironic answers 500 (AttributeError); Ferric 400 as for a single node",
    ("POST", "/v1/nodes/diff-node"): "Ironic validates the name as a node body (400); Ferric answers 405",
    ("GET", "/v1/nodes/diff-node/bogus"): "Ironic reads the path tail as fields (400); Ferric answers 404",
    ("PATCH", "/v1/chassis/{c}"): "Ironic lets a PATCH rewrite a chassis UUID; Ferric refuses /uuid like other read-only fields",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ironic", required=True)
    ap.add_argument("--ferric", required=True)
    args = ap.parse_args()
    hosts = []
    ids = {}
    for side, base in (("ironic", args.ironic), ("ferric", args.ferric)):
        _, c = call(base, "GET", "/v1/conductors")
        hosts += [x["hostname"] for x in c.get("conductors", [])]
        ids[side] = setup(base)
    cases = [("GET", p, v, None) for p in GETS for v in VERSIONS]
    cases += [(m, p, "latest", b) for (m, p, b) in ERRORS]
    cases += [(m, p, "1.1", b) for (m, p, b) in ERRORS if m != "GET"]
    diffs = 0
    known = 0
    for method, path, ver, body in cases:
        res = {}
        for side, base in (("ironic", args.ironic), ("ferric", args.ferric)):
            def sub(x, i=ids[side]):
                if not isinstance(x, str):
                    return x
                for k, v in i.items():
                    x = x.replace("{" + k + "}", v)
                return x
            b = json.loads(sub(json.dumps(body))) if body is not None and not isinstance(body, str) else body
            p = sub(path)
            status, doc = call(base, method, p, ver, b)
            res[side] = (status, norm(doc, hosts))
        if res["ironic"] != res["ferric"]:
            if (method, path) in KNOWN:
                known += 1
                continue
            diffs += 1
            print(f"--- {method} {path} @{ver or '-'} body={json.dumps(body)[:120]}")
            print(f"  ironic {res['ironic'][0]}: {json.dumps(res['ironic'][1])[:600]}")
            print(f"  ferric {res['ferric'][0]}: {json.dumps(res['ferric'][1])[:600]}")
    for side, base in (("ironic", args.ironic), ("ferric", args.ferric)):
        teardown(base, ids[side])
    print(f"{len(cases)} requests, {diffs} differences ({known} more are known, deliberate ones)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())

"""openstacksdk against a running Ferric API; every step checks what it got back.

Reads OS_ENDPOINT and OS_AUTH_TYPE (none | http_basic; then OS_USERNAME, OS_PASSWORD).
Run by scripts/conformance.sh. Exit status 0 when every check passed.
"""
import os
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import openstack  # noqa: E402
from openstack import exceptions  # noqa: E402

endpoint = os.environ.get("OS_ENDPOINT", "http://127.0.0.1:6385")
kw = {"baremetal_endpoint_override": endpoint, "baremetal_api_version": "1"}
if os.environ.get("OS_AUTH_TYPE", "none") == "http_basic":
    conn = openstack.connect(auth_type="http_basic",
                             auth={"username": os.environ["OS_USERNAME"],
                                   "password": os.environ["OS_PASSWORD"]}, **kw)
else:
    conn = openstack.connect(auth_type="none", **kw)
bm = conn.baremetal
failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")
        print(f"  FAIL {what}: got {got!r}, want {want!r}")


drivers = [d.name for d in bm.drivers()]
check("drivers include fake-hardware", "fake-hardware" in drivers, True)
name = f"sdk-{os.getpid()}-{int(time.time())}"
n = bm.create_node(driver="fake-hardware", name=name, properties={"cpus": 4})
check("created state", n.provision_state, "enroll")
check("created name", n.name, name)
check("get by name", bm.get_node(name).id, n.id)
for target, want in (("manage", "manageable"), ("provide", "available"), ("active", "active")):
    n = bm.set_node_provision_state(n, target, wait=True, timeout=60)
    check(f"{target} ->", n.provision_state, want)
for p, want in (("power off", "power off"), ("power on", "power on")):
    bm.set_node_power_state(n, p, wait=True, timeout=60)
    check(p, bm.get_node(n.id).power_state, want)
n = bm.set_node_provision_state(n, "deleted", wait=True, timeout=60)
check("undeploy ->", n.provision_state, "available")
n = bm.update_node(n, extra={"foo": "bar"})
check("update extra", bm.get_node(n.id).extra.get("foo"), "bar")
n = bm.patch_node(n, [{"op": "add", "path": "/properties/memory_mb", "value": 2048}])
check("patch property", bm.get_node(n.id).properties.get("memory_mb"), 2048)
bm.set_node_maintenance(n, reason="sdk")
check("maintenance", bm.get_node(n.id).is_maintenance, True)
bm.unset_node_maintenance(n)
check("maintenance off", bm.get_node(n.id).is_maintenance, False)
bm.add_node_trait(n, "CUSTOM_SDK")
check("trait", "CUSTOM_SDK" in bm.get_node(n.id).traits, True)
bm.remove_node_trait(n, "CUSTOM_SDK")
check("trait removed", "CUSTOM_SDK" in bm.get_node(n.id).traits, False)
v = bm.validate_node(n, required=("power",))
check("validate power", v["power"].result, True)
port = bm.create_port(node_id=n.id, address="52:54:00:aa:bb:cc")
check("port address", port.address, "52:54:00:aa:bb:cc")
check("port in list", port.id in [p.id for p in bm.ports(node_id=n.id)], True)
bm.delete_port(port)
try:
    bm.get_node("no-such-node-sdk")
    failures.append("missing node found")
except exceptions.NotFoundException:
    pass
nodes = [(x.name, x.provision_state) for x in bm.nodes()]
check("node listed", (name, "available") in nodes, True)
bm.delete_node(n)
try:
    bm.get_node(n.id)
    failures.append("deleted node still found")
except exceptions.NotFoundException:
    pass
if failures:
    print("SDK FAILED:", *failures, sep="\n  ")
    sys.exit(1)
print("SDK OK")

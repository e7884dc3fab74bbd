#!/usr/bin/env bash
# Conformance of a running Ferric API with the real OpenStack clients: python-ironicclient's
# `baremetal` CLI and openstacksdk (scripts/conformance_sdk.py), both from PyPI in a venv.
# Every command's output is checked, not only its exit status.
#
#   scripts/conformance.sh --url http://127.0.0.1:6385     # a running server (ferric serve, ...)
#   scripts/conformance.sh --mem                           # build + start api/examples/mem_server
#   OS_AUTH_TYPE=http_basic OS_USERNAME=admin OS_PASSWORD=secret scripts/conformance.sh --url ...
#
# Env: FERRIC_VENV (default ~/.cache/ferric/venv; created and filled from PyPI when missing),
#      CARGO_TARGET_DIR (for --mem), CONFORMANCE_KEEP_GOING=1 (report all failures, default on).
# Exit status: 0 when every check passed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
FERRIC_VENV="${FERRIC_VENV:-$HOME/.cache/ferric/venv}"
URL=""
MEM=0
while [ $# -gt 0 ]; do
  case "$1" in
    --url) URL="$2"; shift 2 ;;
    --mem) MEM=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$URL" ] && [ "$MEM" = 0 ]; then
  echo "need --url URL or --mem" >&2; exit 2
fi

# --- the clients, from PyPI ---------------------------------------------------------------
if [ ! -x "$FERRIC_VENV/bin/baremetal" ] || ! "$FERRIC_VENV/bin/python" -c 'import openstack' 2>/dev/null; then
  echo "installing python-ironicclient and openstacksdk into $FERRIC_VENV"
  [ -x "$FERRIC_VENV/bin/python" ] || python3 -m venv "$FERRIC_VENV"
  "$FERRIC_VENV/bin/pip" install -q --disable-pip-version-check python-ironicclient openstacksdk || exit 1
fi
BM="$FERRIC_VENV/bin/baremetal"
PY="$FERRIC_VENV/bin/python"
export PYTHONWARNINGS="ignore::DeprecationWarning"

# --- the server -----------------------------------------------------------------------------
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
WORK="$(mktemp -d)"
if [ "$MEM" = 1 ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
  (cd "$ROOT" && cargo build -q -p ferric-api --example mem_server) || exit 1
  "$CARGO_TARGET_DIR/debug/examples/mem_server" --listen 127.0.0.1:0 --port-file "$WORK/port" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  [ -s "$WORK/port" ] || { echo "mem_server did not start"; cat "$WORK/server.log"; exit 1; }
  URL="http://127.0.0.1:$(cat "$WORK/port")"
fi
for _ in $(seq 1 100); do curl -fsS "$URL/" >/dev/null 2>&1 && break; sleep 0.1; done
export OS_ENDPOINT="$URL"
export OS_AUTH_TYPE="${OS_AUTH_TYPE:-none}"
echo "conformance against $URL (auth: $OS_AUTH_TYPE)"

# --- checking helpers -----------------------------------------------------------------------
PASS=0
FAIL=0
OUT=""
fail() { FAIL=$((FAIL + 1)); echo "  FAIL: $*"; }
ok() { PASS=$((PASS + 1)); }
# run CMD...: runs `baremetal CMD...`, keeps stdout in $OUT, fails the check on a non-zero exit.
run() {
  echo "+ baremetal $*"
  if ! OUT="$("$BM" "$@" 2>"$WORK/err")"; then
    fail "exit status of: baremetal $* :: $(tail -3 "$WORK/err")"
    return 1
  fi
  ok
}
# expect_eq WHAT ACTUAL EXPECTED
expect_eq() { if [ "$2" = "$3" ]; then ok; else fail "$1: got '$2', want '$3'"; fi; }
# expect_has WHAT HAYSTACK NEEDLE
expect_has() { case "$2" in *"$3"*) ok ;; *) fail "$1: '$3' not in output: $(echo "$2" | head -5)" ;; esac; }
expect_not() { case "$2" in *"$3"*) fail "$1: '$3' unexpectedly in output" ;; *) ok ;; esac; }
# jq over $OUT
j() { echo "$OUT" | jq -r "$1"; }
# expect_fail WHAT CMD...: the command must fail (non-zero) and print MESSAGE on stderr
expect_fail() {
  local what="$1" msg="$2"; shift 2
  echo "+ baremetal $* (must fail)"
  if "$BM" "$@" >/dev/null 2>"$WORK/err"; then fail "$what: succeeded"; return; fi
  expect_has "$what" "$(cat "$WORK/err")" "$msg"
}
field() { "$BM" node show "$1" -f value -c "$2" 2>/dev/null; }

N="conf-$$"
N2="conf2-$$"

# --- discovery, drivers, conductors ---------------------------------------------------------
run driver list -f json && {
  expect_has "driver list" "$(j '.[].Supported driver(s)' 2>/dev/null || j '.[].name')" "fake-hardware"
}
run driver show fake-hardware -f json && {
  expect_eq "driver show name" "$(j .name)" "fake-hardware"
  expect_eq "driver show default power" "$(j .default_power_interface)" "fake"
  expect_has "driver show enabled deploy" "$(j '.enabled_deploy_interfaces | tostring')" "fake"
}
run driver property list fake-hardware -f json && expect_eq "driver property list is a non-empty list" "$(j 'length > 0')" "true"
run driver raid property list fake-hardware -f json && expect_has "driver raid property list" "$OUT" "raid_level"
run conductor list -f json && {
  HOST="$(j '.[0].hostname')"
  expect_eq "conductor alive" "$(j '.[0].alive')" "true"
  run conductor show "$HOST" -f json && {
    expect_eq "conductor show hostname" "$(j .hostname)" "$HOST"
    expect_has "conductor show drivers" "$(j '.drivers | join(",")')" "fake-hardware"
  }
}

# --- node create / show / list / set / unset ------------------------------------------------
run node create --driver fake-hardware --name "$N" --property cpus=2 --extra k=v -f json && {
  U="$(j .uuid)"
  expect_eq "create provision_state" "$(j .provision_state)" "enroll"
  expect_eq "create name" "$(j .name)" "$N"
  expect_eq "create power interface" "$(j .power_interface)" "fake"
  expect_eq "create property" "$(j .properties.cpus)" "2"
}
U="${U:-missing}"
run node show "$N" -f json && {
  expect_eq "show by name" "$(j .uuid)" "$U"
  expect_eq "show extra" "$(j .extra.k)" "v"
}
run node show "$U" -f json -c driver && expect_eq "show -c driver" "$(j .driver)" "fake-hardware"
run node list -f json && expect_has "node list has node" "$(j '.[].UUID // .[].uuid')" "$U"
run node list --provision-state enroll -f value -c uuid && expect_has "node list filter" "$OUT" "$U"
run node list --long -f json && expect_has "node list --long" "$OUT" "$U"
run node set "$N" --extra foo=bar --property memory_mb=1024 --description "conformance node" \
  --driver-info ipmi_password=s3cret
run node show "$N" -f json && {
  expect_eq "set extra" "$(j .extra.foo)" "bar"
  expect_eq "set property" "$(j .properties.memory_mb)" "1024"
  expect_eq "set description" "$(j .description)" "conformance node"
  expect_eq "password masked" "$(j .driver_info.ipmi_password)" "******"
}
run node unset "$N" --extra foo --description
run node show "$N" -f json && {
  expect_eq "unset extra" "$(j '.extra.foo // "gone"')" "gone"
  expect_eq "unset description" "$(j .description)" "null"
}
expect_fail "duplicate name refused" "already exists" node create --driver fake-hardware --name "$N"
expect_fail "bad driver refused" "No valid host was found" node create --driver no-such-driver
expect_fail "missing node" "could not be found" node show "no-such-node-$$"

# --- traits ---------------------------------------------------------------------------------
run node add trait "$N" CUSTOM_GPU CUSTOM_FAST
run node trait list "$N" -f value && { expect_has "trait add" "$OUT" "CUSTOM_GPU"; expect_has "trait add 2" "$OUT" "CUSTOM_FAST"; }
run node remove trait "$N" CUSTOM_GPU
run node trait list "$N" -f value && { expect_not "trait remove" "$OUT" "CUSTOM_GPU"; expect_has "trait kept" "$OUT" "CUSTOM_FAST"; }
run node remove trait "$N" --all
run node trait list "$N" -f value && expect_eq "trait remove all" "$OUT" ""

# --- maintenance, validate, boot device, power ----------------------------------------------
run node maintenance set "$N" --reason "conformance check"
expect_eq "maintenance on" "$(field "$N" maintenance)" "True"
expect_eq "maintenance reason" "$(field "$N" maintenance_reason)" "conformance check"
run node maintenance unset "$N"
expect_eq "maintenance off" "$(field "$N" maintenance)" "False"
expect_eq "maintenance reason cleared" "$(field "$N" maintenance_reason)" "None"
run node validate "$N" -f json && {
  expect_eq "validate power" "$(j '.[] | select(.Interface=="power" or .interface=="power") | (.Result // .result)')" "true"
}
# fake-hardware supports PXE only (Ironic 39's fake management).
run node boot device set "$N" pxe --persistent
run node boot device show "$N" -f json && expect_eq "boot device" "$(j .boot_device)" "pxe"
run node boot device set "$N" pxe
run node boot device show "$N" -f json && expect_eq "boot device again" "$(j .boot_device)" "pxe"
run node boot device show "$N" --supported -f json && expect_has "supported boot devices" "$OUT" "pxe"
expect_fail "unsupported boot device refused" "" node boot device set "$N" floppy
run node power on "$N"
expect_eq "power on" "$(field "$N" power_state)" "power on"
run node power off "$N"
expect_eq "power off" "$(field "$N" power_state)" "power off"
run node reboot "$N"
expect_eq "reboot" "$(field "$N" power_state)" "power on"
run node power off --soft "$N"
expect_eq "soft power off" "$(field "$N" power_state)" "power off"

# --- console, RAID --------------------------------------------------------------------------
run node console enable "$N"
run node console show "$N" -f json && expect_eq "console enabled" "$(j .console_enabled)" "true"
run node console disable "$N"
run node console show "$N" -f json && expect_eq "console disabled" "$(j .console_enabled)" "false"
run node set "$N" --target-raid-config '{"logical_disks": [{"size_gb": 100, "raid_level": "1", "is_root_volume": true}]}'
run node show "$N" -f json -c target_raid_config && expect_eq "raid target" "$(j '.target_raid_config.logical_disks[0].raid_level')" "1"

# --- vendor passthru ------------------------------------------------------------------------
run node passthru list "$N" -f json && expect_eq "passthru list is a list" "$(j 'type')" "array"

# --- chassis, ports, portgroups -------------------------------------------------------------
run chassis create --description "conf chassis" --extra rack=r1 -f json && C="$(j .uuid)"
C="${C:-missing}"
run chassis show "$C" -f json && { expect_eq "chassis description" "$(j .description)" "conf chassis"; expect_eq "chassis extra" "$(j .extra.rack)" "r1"; }
run chassis set "$C" --description "conf chassis 2"
run chassis show "$C" -f value -c description && expect_eq "chassis set" "$OUT" "conf chassis 2"
run chassis list -f value -c uuid && expect_has "chassis list" "$OUT" "$C"
run node set "$N" --chassis-uuid "$C"
run node list --chassis "$C" -f value -c uuid && expect_has "nodes of chassis" "$OUT" "$U"
OUT="$(curl -fsS "$URL/v1/chassis/$C/nodes" -H 'X-OpenStack-Ironic-API-Version: latest' ${OS_USERNAME:+-u "$OS_USERNAME:$OS_PASSWORD"})" && ok || fail "GET /v1/chassis/{uuid}/nodes"
expect_eq "chassis nodes sub-collection" "$(j '.nodes[0].uuid')" "$U"
expect_fail "chassis with nodes cannot be deleted" "contains nodes" chassis delete "$C"
run node unset "$N" --chassis-uuid

run port group create --node "$U" --name "pg-$$" --address 52:54:00:aa:bb:01 --mode 802.3ad --property miimon=100 -f json && {
  PG="$(j .uuid)"
  expect_eq "portgroup mode" "$(j .mode)" "802.3ad"
  expect_eq "portgroup address" "$(j .address)" "52:54:00:aa:bb:01"
}
PG="${PG:-missing}"
run port group list -f value -c uuid && expect_has "portgroup list" "$OUT" "$PG"
run port group set "$PG" --extra a=b --support-standalone-ports
run port group show "$PG" -f json && { expect_eq "portgroup extra" "$(j .extra.a)" "b"; expect_eq "standalone" "$(j .standalone_ports_supported)" "true"; }

run port create 52:54:00:12:34:56 --node "$U" --port-group "$PG" --physical-network physnet1 \
  --local-link-connection switch_id=00:11:22:33:44:55 --local-link-connection port_id=Eth1/1 \
  --pxe-enabled true -f json && {
  P="$(j .uuid)"
  expect_eq "port address" "$(j .address)" "52:54:00:12:34:56"
  expect_eq "port node" "$(j .node_uuid)" "$U"
  expect_eq "port portgroup" "$(j .portgroup_uuid)" "$PG"
  expect_eq "port llc" "$(j .local_link_connection.port_id)" "Eth1/1"
  expect_eq "port physnet" "$(j .physical_network)" "physnet1"
}
P="${P:-missing}"
expect_fail "duplicate MAC refused" "already exists" port create 52:54:00:12:34:56 --node "$U"
expect_fail "bad MAC refused" "MAC" port create not-a-mac --node "$U"
run port list --node "$U" -f value -c uuid && expect_has "port list --node" "$OUT" "$P"
run port list --long -f json && expect_has "port list --long" "$OUT" "52:54:00:12:34:56"
run port set "$P" --extra purpose=pxe --name "port-$$"
run port show "$P" -f json && { expect_eq "port set extra" "$(j .extra.purpose)" "pxe"; expect_eq "port name" "$(j .name)" "port-$$"; }
run port list --port-group "$PG" -f value -c uuid && expect_has "ports of portgroup" "$OUT" "$P"
# VIFs (while the node has a port to bind them to)
VIF="$(python3 -c 'import uuid; print(uuid.uuid4())')"
run node vif attach "$N" "$VIF"
# A network interface that keeps VIFs lists it; Ironic's noop network keeps none.
run node vif list "$N" -f json && {
  expect_eq "vif list is a list" "$(j 'type')" "array"
  case "$OUT" in *"$VIF"*) ATTACHED=1 ;; *) ATTACHED=0; echo "  note: VIF not listed (noop network interface)" ;; esac
}
run node vif detach "$N" "$VIF"
run node vif list "$N" -f value && expect_not "vif detach" "$OUT" "$VIF"

run port unset "$P" --extra purpose
run port show "$P" -f value -c extra && expect_not "port unset" "$OUT" "purpose"
run port delete "$P"
expect_fail "deleted port is gone" "could not be found" port show "$P"
run port group delete "$PG"
run chassis delete "$C"

# --- provisioning with fake-hardware --------------------------------------------------------
run node manage "$N" --wait 60
expect_eq "manageable" "$(field "$N" provision_state)" "manageable"
run node provide "$N" --wait 60
expect_eq "available" "$(field "$N" provision_state)" "available"
expect_fail "undeploy from available refused" "can not be performed" node undeploy "$N"
run node deploy "$N" --wait 60
expect_eq "active" "$(field "$N" provision_state)" "active"
expect_fail "delete active refused" "while it is in provision state" node delete "$N"
run node undeploy "$N" --wait 60
expect_eq "undeployed" "$(field "$N" provision_state)" "available"

# --- a second node, then deletes ------------------------------------------------------------
run node create --driver fake-hardware --name "$N2" -f value -c uuid
run node delete "$N2"
expect_fail "deleted node is gone" "could not be found" node show "$N2"
run node delete "$N"

# --- openstacksdk ---------------------------------------------------------------------------
echo "+ python conformance_sdk.py"
if "$PY" "$HERE/conformance_sdk.py"; then ok; else fail "openstacksdk conformance"; fi

echo
echo "conformance: $PASS checks passed, $FAIL failed"
[ "$FAIL" = 0 ]

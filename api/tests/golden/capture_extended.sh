#!/usr/bin/env bash
# Records more raw exchanges of a running real Ironic (39, fake-hardware, noauth) than
# shared/bench/peer-ironic/capture_samples.sh does: chassis, ports, portgroups, traits,
# maintenance, states, management, drivers, conductors, version gates and error messages.
# Output: ext/NN-name.txt in capture_samples.sh's format, then `python3 convert.py ext` turns
# them into ext/*.json for tests/golden.rs. Every request is sent with Host: 127.0.0.1:6385 so
# links look like the replay's.
#   IRONIC_URL=http://127.0.0.1:16399 ./capture_extended.sh    # against a fresh database
# (shared/bench/peer-ironic: IRONIC_FRESH_DB=1 ./start.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
B="${IRONIC_URL:-http://127.0.0.1:6385}"
OUTD=ext
rm -rf "$OUTD"; mkdir -p "$OUTD"
L='X-OpenStack-Ironic-API-Version: latest'
J='Content-Type: application/json'
H='Host: 127.0.0.1:6385'
n=0
cap() {  # cap NAME METHOD PATH [curl args...]
    local name="$1" method="$2" path="$3"; shift 3
    n=$((n + 1))
    local f; f="$OUTD/$(printf %02d "$n")-$name.txt"
    { echo "### $method $path $*"; echo
      curl -si -H "$H" -X "$method" "$@" "$B$path" | tr -d '\r'
      echo; } > "$f"
}
q() { curl -s -H "$H" -H "$L" "$@"; }
jf() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
wait_state() {  # wait_state NODE STATE: until provision_state == STATE and no target
    for _ in $(seq 1 300); do
        s=$(q "$B/v1/nodes/$1?fields=provision_state,target_provision_state,power_state,target_power_state" \
            | jf '["provision_state"], d["target_provision_state"]' 2>/dev/null || true)
        st=$(q "$B/v1/nodes/$1?fields=provision_state,target_provision_state" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["provision_state"], d["target_provision_state"])')
        [ "$st" = "$2 None" ] && return 0
        sleep 0.2
    done
    echo "timeout waiting for $1 to reach $2 (at: $st)" >&2; exit 1
}
wait_power() {
    for _ in $(seq 1 300); do
        st=$(q "$B/v1/nodes/$1?fields=power_state,target_power_state" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["power_state"], d["target_power_state"])')
        [ "$st" = "$2 None" ] && return 0
        sleep 0.2
    done
    echo "timeout waiting for $1 power $2" >&2; exit 1
}
# clean up leftovers of an earlier capture
for x in golden-node golden-2; do curl -s -H "$H" -o /dev/null -X DELETE -H "$L" "$B/v1/nodes/$x" || true; done

# ---- discovery at several versions, method errors
cap v1-at-1.23 GET /v1 -H 'X-OpenStack-Ironic-API-Version: 1.23'
cap v1-delete DELETE /v1 -H "$L"
cap drivers-delete DELETE /v1/drivers -H "$L"
cap nodes-delete-no-ident DELETE /v1/nodes -H "$L"
cap nodes-patch-no-ident PATCH /v1/nodes -H "$L" -H "$J" -d '[]'
cap ports-delete-no-ident DELETE /v1/ports -H "$L"
cap version-2 GET /v1/nodes -H 'X-OpenStack-Ironic-API-Version: 2.1'
cap version-standard-header GET /v1/nodes -H 'OpenStack-API-Version: baremetal 1.31'

# ---- chassis
cap chassis-create POST /v1/chassis -H "$L" -H "$J" -d '{"description":"golden chassis","extra":{"row":"a"}}'
C=$(q "$B/v1/chassis" | jf '["chassis"][0]["uuid"]')
cap chassis-list GET /v1/chassis -H "$L"
cap chassis-detail GET /v1/chassis/detail -H "$L"
cap chassis-show GET "/v1/chassis/$C" -H "$L"
cap chassis-patch PATCH "/v1/chassis/$C" -H "$L" -H "$J" -d '[{"op":"replace","path":"/description","value":"golden 2"},{"op":"add","path":"/extra/col","value":3}]'
cap chassis-create-bad POST /v1/chassis -H "$L" -H "$J" -d '{"description":"x","bogus":1}'

# ---- a node with secrets, in the chassis
cap node-create-full POST /v1/nodes -H "$L" -H "$J" -d "{\"driver\":\"fake-hardware\",\"name\":\"golden-node\",\"chassis_uuid\":\"$C\",\"driver_info\":{\"ipmi_password\":\"secret\",\"ipmi_address\":\"10.0.0.1\"},\"instance_info\":{\"configdrive\":\"H4sIAAA\",\"image_source\":\"http://img\"},\"resource_class\":\"gold\",\"description\":\"golden\",\"properties\":{\"cpus\":4}}"
N=$(q "$B/v1/nodes/golden-node?fields=uuid" | jf '["uuid"]')
cap chassis-nodes GET "/v1/chassis/$C/nodes" -H "$L"
cap chassis-delete-with-nodes DELETE "/v1/chassis/$C" -H "$L"
cap node-show-1.10 GET "/v1/nodes/$N" -H 'X-OpenStack-Ironic-API-Version: 1.10'
cap node-show-1.31 GET "/v1/nodes/golden-node" -H 'X-OpenStack-Ironic-API-Version: 1.31'
cap node-show-fields GET "/v1/nodes/golden-node?fields=uuid,name,driver_info,instance_info,conductor" -H "$L"
cap node-list-filter GET '/v1/nodes?resource_class=gold&fields=uuid,name,resource_class' -H "$L"
cap node-patch-owner PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"add","path":"/owner","value":"proj"}]'
cap node-list-owner GET '/v1/nodes?owner=proj&project=proj' -H "$L"
cap node-list-sort-desc GET '/v1/nodes?sort_key=name&sort_dir=desc' -H "$L"
cap err-node-list-sort-dir GET '/v1/nodes?sort_dir=up' -H "$L"
cap err-node-list-sort-key GET '/v1/nodes?sort_key=driver_info' -H "$L"
cap err-node-list-detail-fields GET '/v1/nodes?detail=True&fields=uuid' -H "$L"
cap err-node-list-unexpected GET '/v1/nodes?bogus=1' -H "$L"
cap err-node-list-provision-state GET '/v1/nodes?provision_state=sleeping' -H "$L"
cap err-node-list-rc-old GET '/v1/nodes?resource_class=gold' -H 'X-OpenStack-Ironic-API-Version: 1.20'
cap err-node-show-fields GET '/v1/nodes/golden-node?fields=bogus' -H "$L"
cap err-node-show-fields-old GET '/v1/nodes/golden-node?fields=owner' -H 'X-OpenStack-Ironic-API-Version: 1.49'
cap err-node-create-name POST /v1/nodes -H "$L" -H "$J" -d '{"driver":"fake-hardware","name":"bad name"}'
cap err-node-create-reserved POST /v1/nodes -H "$L" -H "$J" -d '{"driver":"fake-hardware","name":"detail"}'
cap err-node-create-uuid POST /v1/nodes -H "$L" -H "$J" -d '{"driver":"fake-hardware","uuid":"nope"}'
cap err-node-create-bool POST /v1/nodes -H "$L" -H "$J" -d '{"driver":"fake-hardware","maintenance":"perhaps"}'
cap err-node-create-type POST /v1/nodes -H "$L" -H "$J" -d '{"driver":5}'
cap err-node-create-required POST /v1/nodes -H "$L" -H "$J" -d '{"name":"x"}'
cap err-node-create-newer POST /v1/nodes -H 'X-OpenStack-Ironic-API-Version: 1.49' -H "$J" -d '{"driver":"fake-hardware","owner":"p"}'
cap err-node-create-iface POST /v1/nodes -H "$L" -H "$J" -d '{"driver":"fake-hardware","power_interface":"ipmitool"}'
cap err-node-show-bad-ident GET '/v1/nodes/bad%20name' -H "$L"

# ---- node patch
cap node-patch-many PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"add","path":"/extra/a","value":{"b":[1,2]}},{"op":"replace","path":"/maintenance","value":"true"},{"op":"add","path":"/driver_info/ipmi_username","value":"admin"},{"op":"remove","path":"/description"}]'
cap node-patch-unmaint PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"replace","path":"/maintenance","value":false}]'
cap err-patch-name PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"replace","path":"/name","value":"no way"}]'
cap err-patch-type PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"replace","path":"/driver_info","value":"str"}]'
cap err-patch-driver PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"replace","path":"/driver","value":"nope"}]'
cap err-patch-instance PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"replace","path":"/instance_uuid","value":"nope"}]'
cap err-patch-protected PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"replace","path":"/protected","value":true}]'
cap err-patch-no-value PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"add","path":"/extra/x"}]'
cap err-patch-path-chars PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"add","path":"/extra/a b","value":1}]'
cap err-patch-extra-member PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"add","path":"/extra/x","value":1,"from":"/y"}]'
cap err-patch-reset-no-driver PATCH '/v1/nodes/golden-node?reset_interfaces=true' -H "$L" -H "$J" -d '[{"op":"add","path":"/extra/z","value":1}]'
cap err-patch-newer PATCH /v1/nodes/golden-node -H 'X-OpenStack-Ironic-API-Version: 1.49' -H "$J" -d '[{"op":"add","path":"/owner","value":"x"}]'

# ---- maintenance, validate, states
cap maintenance-set PUT /v1/nodes/golden-node/maintenance -H "$L" -H "$J" -d '{"reason":"golden"}'
cap maintenance-show GET '/v1/nodes/golden-node?fields=maintenance,maintenance_reason,fault' -H "$L"
cap maintenance-unset DELETE /v1/nodes/golden-node/maintenance -H "$L"
cap validate GET /v1/nodes/golden-node/validate -H "$L"
cap power-off PUT /v1/nodes/golden-node/states/power -H "$L" -H "$J" -d '{"target":"power off"}'
wait_power golden-node "power off"
cap states-after-power GET /v1/nodes/golden-node/states -H "$L"
cap states-1.1 GET "/v1/nodes/$N/states"
cap err-power-target PUT /v1/nodes/golden-node/states/power -H "$L" -H "$J" -d '{"target":"sideways"}'
cap err-power-timeout PUT /v1/nodes/golden-node/states/power -H "$L" -H "$J" -d '{"target":"power on","timeout":0}'
cap err-power-soft-old PUT /v1/nodes/golden-node/states/power -H 'X-OpenStack-Ironic-API-Version: 1.26' -H "$J" -d '{"target":"soft rebooting"}'
cap err-power-missing PUT /v1/nodes/golden-node/states/power -H "$L" -H "$J" -d '{}'
cap err-power-extra PUT /v1/nodes/golden-node/states/power -H "$L" -H "$J" -d '{"target":"power on","bogus":1}'
cap raid-set PUT /v1/nodes/golden-node/states/raid -H "$L" -H "$J" -d '{"logical_disks":[{"size_gb":10,"raid_level":"1"}]}'
cap raid-show GET '/v1/nodes/golden-node?fields=target_raid_config,raid_config' -H "$L"
cap err-raid-old PUT /v1/nodes/golden-node/states/raid -H 'X-OpenStack-Ironic-API-Version: 1.11' -H "$J" -d '{"logical_disks":[]}'
cap console-get GET /v1/nodes/golden-node/states/console -H "$L"

# ---- management
cap boot-device-set PUT /v1/nodes/golden-node/management/boot_device -H "$L" -H "$J" -d '{"boot_device":"pxe"}'
cap boot-device-get GET /v1/nodes/golden-node/management/boot_device -H "$L"
cap boot-device-supported GET /v1/nodes/golden-node/management/boot_device/supported -H "$L"
cap err-boot-device-missing PUT /v1/nodes/golden-node/management/boot_device -H "$L" -H "$J" -d '{"persistent":true}'
cap inject-nmi PUT /v1/nodes/golden-node/management/inject_nmi -H "$L" -H "$J" -d '{}'
cap err-inject-nmi-old PUT /v1/nodes/golden-node/management/inject_nmi -H 'X-OpenStack-Ironic-API-Version: 1.28' -H "$J" -d '{}'

# ---- traits
cap traits-set PUT /v1/nodes/golden-node/traits -H "$L" -H "$J" -d '{"traits":["CUSTOM_B","CUSTOM_A"]}'
cap trait-add PUT /v1/nodes/golden-node/traits/CUSTOM_C -H "$L"
cap traits-get GET /v1/nodes/golden-node/traits -H "$L"
cap trait-delete DELETE /v1/nodes/golden-node/traits/CUSTOM_A -H "$L"
cap err-trait-delete-missing DELETE /v1/nodes/golden-node/traits/CUSTOM_NOPE -H "$L"
cap err-trait-add-bad PUT /v1/nodes/golden-node/traits/lower -H "$L"
cap err-traits-set-bad PUT /v1/nodes/golden-node/traits -H "$L" -H "$J" -d '{"traits":["bad trait"]}'
cap err-traits-set-empty PUT /v1/nodes/golden-node/traits -H "$L" -H "$J" -d '{}'
cap traits-node-field GET '/v1/nodes/golden-node?fields=traits' -H "$L"
cap traits-delete-all DELETE /v1/nodes/golden-node/traits -H "$L"

# ---- provisioning checks
cap err-provision-old PUT "/v1/nodes/$N/states/provision" -H 'X-OpenStack-Ironic-API-Version: 1.3' -H "$J" -d '{"target":"manage"}'
cap err-provision-active-enroll PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"active"}'
cap err-provision-bogus PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"bogus"}'
cap provision-manage PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"manage"}'
wait_state golden-node manageable
cap err-provision-clean-no-steps PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"clean"}'
cap err-provision-clean-bad-steps PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"clean","clean_steps":[{"interface":"warp","step":"x"}]}'
cap err-provision-steps-wrong-verb PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"provide","clean_steps":[{"interface":"deploy","step":"x"}]}'
cap err-provision-password-wrong-verb PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"provide","rescue_password":"x"}'
cap err-provision-ramdisk-wrong-verb PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"provide","disable_ramdisk":true}'
cap err-provision-configdrive-wrong-verb PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"provide","configdrive":"abc"}'
cap err-provision-extra PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"provide","bogus":1}'
cap err-provision-rescue-manageable PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"rescue","rescue_password":"x"}'
cap provision-provide PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"provide"}'
wait_state golden-node available
cap provision-deploy PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"active"}'
wait_state golden-node active
cap err-delete-active DELETE /v1/nodes/golden-node -H "$L"
cap err-provision-rescue-no-password PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"rescue"}'
cap node-active-states GET /v1/nodes/golden-node/states -H "$L"
cap provision-undeploy PUT /v1/nodes/golden-node/states/provision -H "$L" -H "$J" -d '{"target":"undeploy"}'
wait_state golden-node available

# ---- drivers, conductors
cap drivers-detail GET '/v1/drivers?detail=True' -H "$L"
cap driver-show GET /v1/drivers/fake-hardware -H "$L"
cap driver-show-1.1 GET /v1/drivers/fake-hardware
cap driver-properties GET /v1/drivers/fake-hardware/properties -H "$L"
cap driver-raid-properties GET /v1/drivers/fake-hardware/raid/logical_disk_properties -H "$L"
cap err-driver-missing GET /v1/drivers/nope -H "$L"
cap err-driver-type GET '/v1/drivers?type=weird' -H "$L"
cap drivers-classic GET '/v1/drivers?type=classic' -H "$L"
cap conductors GET /v1/conductors -H "$L"
HOST=$(q "$B/v1/conductors" | jf '["conductors"][0]["hostname"]')
cap conductor-show GET "/v1/conductors/$HOST" -H "$L"
cap err-conductors-old GET /v1/conductors -H 'X-OpenStack-Ironic-API-Version: 1.48'
cap err-conductor-missing GET /v1/conductors/nope -H "$L"

# ---- portgroups and ports
cap portgroup-create POST /v1/portgroups -H "$L" -H "$J" -d "{\"node_uuid\":\"$N\",\"name\":\"golden-pg\",\"address\":\"52:54:00:AA:00:01\",\"mode\":\"802.3ad\",\"properties\":{\"miimon\":\"100\"}}"
PG=$(q "$B/v1/portgroups/golden-pg" | jf '["uuid"]')
cap portgroup-list GET /v1/portgroups -H "$L"
cap portgroup-detail GET /v1/portgroups/detail -H "$L"
cap portgroup-show-name GET /v1/portgroups/golden-pg -H "$L"
cap portgroup-patch PATCH /v1/portgroups/golden-pg -H "$L" -H "$J" -d '[{"op":"add","path":"/extra/x","value":"y"}]'
cap err-portgroup-create-bad POST /v1/portgroups -H "$L" -H "$J" -d '{"name":"x"}'
cap port-create-full POST /v1/ports -H "$L" -H "$J" -d "{\"address\":\"52:54:00:AB:34:56\",\"node_uuid\":\"$N\",\"portgroup_uuid\":\"$PG\",\"pxe_enabled\":\"false\",\"local_link_connection\":{\"switch_id\":\"00:11:22:33:44:55\",\"port_id\":\"Eth1\"},\"physical_network\":\"physnet1\"}"
P=$(q "$B/v1/ports?address=52:54:00:ab:34:56" | jf '["ports"][0]["uuid"]')
cap port-detail GET /v1/ports/detail -H "$L"
cap port-show-1.18 GET "/v1/ports/$P" -H 'X-OpenStack-Ironic-API-Version: 1.18'
cap port-list-by-address GET '/v1/ports?address=52:54:00:ab:34:56' -H "$L"
cap port-list-node GET /v1/nodes/golden-node/ports -H "$L"
cap portgroup-ports GET "/v1/portgroups/$PG/ports" -H "$L"
cap port-patch PATCH "/v1/ports/$P" -H "$L" -H "$J" -d '[{"op":"replace","path":"/address","value":"52:54:00:12:34:99"},{"op":"add","path":"/extra/x","value":1}]'
cap err-port-dup-mac POST /v1/ports -H "$L" -H "$J" -d "{\"address\":\"52:54:00:12:34:99\",\"node_uuid\":\"$N\"}"
cap err-port-bad-mac POST /v1/ports -H "$L" -H "$J" -d "{\"address\":\"zz:54:00:12:34:56\",\"node_uuid\":\"$N\"}"
cap err-port-node-name POST /v1/ports -H "$L" -H "$J" -d '{"address":"52:54:00:12:34:57","node_uuid":"golden-node"}'
cap err-port-no-node POST /v1/ports -H "$L" -H "$J" -d '{"address":"52:54:00:12:34:57"}'
cap err-port-missing-node POST /v1/ports -H "$L" -H "$J" -d '{"address":"52:54:00:12:34:57","node_uuid":"00000000-0000-0000-0000-000000000009"}'
cap err-port-patch-ro PATCH "/v1/ports/$P" -H "$L" -H "$J" -d '[{"op":"replace","path":"/internal_info","value":{}}]'
cap err-portgroup-delete-nonempty DELETE "/v1/portgroups/$PG" -H "$L"
cap port-delete DELETE "/v1/ports/$P" -H "$L"
cap err-port-delete-again DELETE "/v1/ports/$P" -H "$L"
cap portgroup-delete DELETE "/v1/portgroups/$PG" -H "$L"

# ---- tidy up
cap node-patch-unchassis PATCH /v1/nodes/golden-node -H "$L" -H "$J" -d '[{"op":"remove","path":"/chassis_uuid"}]'
cap chassis-delete DELETE "/v1/chassis/$C" -H "$L"
cap node-delete DELETE /v1/nodes/golden-node -H "$L"
echo "wrote $n exchanges to $OUTD/"

//! Behaviour of the API over the in-memory backend, endpoint by endpoint: microversion gates,
//! Ironic's checks and messages, paging, JSON patch (including `test` as compare-and-set),
//! sub-resources, and Ferric's own endpoints.

mod support;
#[path = "support/client.rs"]
mod client;

use client::Api;
use ferric_api::{ApiConfig, AuthStrategy};
use ferric_model::node::Reservation;
use ferric_model::{ProvisionState, Timestamp};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

// ---------------------------------------------------------------- discovery and versions

#[tokio::test]
async fn version_headers_on_every_v1_answer_and_request_ids_everywhere() {
    let api = Api::new();
    for (path, ver, want) in [("/", "", "1.1"), ("/v1", "1.50", "1.50"), ("/v1/nodes", "latest", "1.115"), ("/nodes", "1.9", "1.9")] {
        let r = api.get(path, ver).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("x-openstack-ironic-api-version").as_deref(), Some(want), "{path}");
        assert_eq!(r.header("x-openstack-ironic-api-minimum-version").as_deref(), Some("1.1"));
        assert_eq!(r.header("x-openstack-ironic-api-maximum-version").as_deref(), Some("1.115"));
        assert!(r.header("openstack-request-id").unwrap().starts_with("req-"));
    }
    let r = api.send("GET", "/v1/nodes", &[("openstack-api-version", "baremetal 1.40")], None).await;
    assert_eq!(r.header("x-openstack-ironic-api-version").as_deref(), Some("1.40"));
    for (path, ver) in [("/healthz", ""), ("/metrics", ""), ("/cluster/status", ""), ("/v1/nodez", "latest")] {
        let r = api.get(path, ver).await;
        assert!(r.header("openstack-request-id").is_some(), "{path}");
        assert!(r.header("x-openstack-request-id").is_some(), "{path}");
    }
}

#[tokio::test]
async fn versions_out_of_range_and_garbage_are_406() {
    let api = Api::new();
    let r = api.get("/v1/nodes", "2.1").await;
    assert_eq!(r.status, 406);
    assert!(r.error()["description"].as_str().unwrap().starts_with("Mutually exclusive versions requested"));
    assert!(r.header("x-openstack-ironic-api-maximum-version").is_some());
    assert!(r.header("x-openstack-ironic-api-version").is_none());
    let r = api.get("/v1/nodes", "1.0").await;
    assert_eq!(r.status, 406);
    let r = api.get("/", "1.x").await;
    assert_eq!(r.status, 406);
    assert!(r.header("x-openstack-ironic-api-maximum-version").is_none());
}

#[tokio::test]
async fn v1_document_grows_with_the_version() {
    let api = Api::new();
    let old = api.get("/v1", "").await.json();
    let keys: Vec<&str> = old.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "links", "media_types", "chassis", "nodes", "ports", "drivers", "version"]);
    let new = api.get("/v1", "latest").await.json();
    for k in ["portgroups", "volume", "lookup", "heartbeat", "conductors", "allocations", "runbooks", "continue_inspection"] {
        assert!(new.get(k).is_some(), "{k}");
    }
    let mid = api.get("/v1", "1.23").await.json();
    assert!(mid.get("portgroups").is_some() && mid.get("conductors").is_none());
    assert_eq!(api.send("DELETE", "/v1", &[], None).await.status, 405);
}

#[tokio::test]
async fn fields_and_states_are_gated_by_version() {
    let api = Api::new();
    // Below 1.11 new nodes are available; at 1.1 available shows as null.
    let r = api.post("/v1/nodes", "1.10", json!({"driver": "fake-hardware", "name": "old"})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let n = r.json();
    assert_eq!(n["provision_state"], "available");
    assert!(n.get("conductor").is_none() && n.get("resource_class").is_none() && n.get("states").is_none());
    let u = n["uuid"].as_str().unwrap().to_string();
    let at11 = api.get(&format!("/v1/nodes/{u}"), "").await.json();
    assert_eq!(at11["provision_state"], Value::Null);
    assert!(at11.get("name").is_none() && at11.get("driver_internal_info").is_none());
    assert_eq!(at11.as_object().unwrap().len(), 22);
    let states = api.get(&format!("/v1/nodes/{u}/states"), "").await.json();
    assert_eq!(states["provision_state"], Value::Null);
    assert!(states.get("raid_config").is_none());
    // From 1.11 new nodes enroll.
    assert_eq!(api.node("new").await["provision_state"], "enroll");
    // Names are not identifiers below 1.5, and not settable.
    assert_eq!(api.get("/v1/nodes/old", "1.4").await.status, 404);
    assert_eq!(api.get("/v1/nodes/old", "1.5").await.status, 200);
    let r = api.post("/v1/nodes", "1.4", json!({"driver": "fake-hardware", "name": "x"})).await;
    assert_eq!(r.status, 406);
    assert_eq!(r.faultstring(), "Request not acceptable.");
    // A field newer than the version: 406 on create, on fields= and on PATCH.
    assert_eq!(api.post("/v1/nodes", "1.49", json!({"driver": "fake-hardware", "owner": "p"})).await.status, 406);
    assert_eq!(api.get("/v1/nodes?fields=owner", "1.49").await.status, 406);
    assert_eq!(api.get("/v1/nodes?fields=uuid", "1.7").await.status, 406);
    let r = api.patch("/v1/nodes/new", "1.49", json!([{"op": "add", "path": "/owner", "value": "p"}])).await;
    assert_eq!(r.status, 406);
    // Filters newer than the version.
    let r = api.get("/v1/nodes?resource_class=x", "1.20").await;
    assert_eq!(r.status, 406);
    assert_eq!(r.faultstring(), "Request not acceptable. The minimal required API version should be 1.21");
    assert_eq!(api.get("/v1/nodes?provision_state=enroll", "1.8").await.status, 406);
    assert_eq!(api.get("/v1/nodes?detail=True", "1.42").await.status, 400);
}

// ---------------------------------------------------------------- nodes

#[tokio::test]
async fn node_create_validates_like_ironic() {
    let api = Api::new();
    let cases = [
        (json!({"driver": "fake-hardware", "name": "bad name"}), 400, "Cannot create node with invalid name 'bad name'"),
        (json!({"driver": "fake-hardware", "name": "detail"}), 400, "The word \"detail\" is reserved"),
        (json!({"driver": "fake-hardware", "name": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"}), 400, "invalid name"),
        (json!({"driver": "fake-hardware", "uuid": "nope"}), 400, "Expected UUID for uuid: nope"),
        (json!({"driver": "fake-hardware", "maintenance": "perhaps"}), 400, "Invalid maintenance: Unrecognized value 'perhaps'"),
        (json!({"driver": 5}), 400, "Schema error for node: 5 is not of type 'string'"),
        (json!({"name": "x"}), 400, "'driver' is a required property"),
        (json!({"driver": "fake-hardware", "a": 1, "b": 2}), 400, "('a', 'b' were unexpected)"),
        (json!({"driver": "fake-hardware", "power_interface": "ipmitool"}), 400, "Could not find the following interface"),
        (json!({"driver": "fake-hardware", "chassis_uuid": "00000000-0000-0000-0000-000000000001"}), 400, "Chassis 00000000-0000-0000-0000-000000000001 could not be found."),
        (json!({"driver": "fake-hardware", "description": "x".repeat(4097)}), 400, "is too long"),
        (json!([1, 2]), 400, "is not of type 'object'"),
    ];
    for (body, status, msg) in cases {
        let r = api.post("/v1/nodes", "latest", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.faultstring().contains(msg), "{body}: {}", r.faultstring());
    }
    assert_eq!(api.backend.node_count(), 0);
    let r = api
        .post(
            "/v1/nodes",
            "latest",
            json!({"driver": "ipmi", "name": "n1", "uuid": "11111111-2222-3333-4444-555555555555", "maintenance": "yes",
                   "resource_class": "gold", "driver_info": {"ipmi_password": "pw", "ipmi_address": "10.0.0.1"},
                   "raid_interface": "no-raid", "conductor_group": "", "owner": "proj"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("location").as_deref(), Some("http://127.0.0.1:6385/v1/nodes/11111111-2222-3333-4444-555555555555"));
    let n = r.json();
    assert_eq!((n["maintenance"].clone(), n["resource_class"].clone()), (json!(true), json!("gold")));
    assert_eq!(n["power_interface"], "ipmitool");
    assert_eq!(n["raid_interface"], "no-raid");
    assert_eq!(n["driver_info"], json!({"ipmi_password": "******", "ipmi_address": "10.0.0.1"}));
    assert_eq!(n["conductor"], support::MEMBER);
    let r = api.post("/v1/nodes", "latest", json!({"driver": "fake-hardware", "uuid": "11111111-2222-3333-4444-555555555555"})).await;
    assert_eq!(r.status, 409);
    // Default resource class from the config.
    let api2 = Api::with(ApiConfig { default_resource_class: Some("baremetal".into()), ..Default::default() });
    assert_eq!(api2.node("x").await["resource_class"], "baremetal");
}

#[tokio::test]
async fn node_list_filters_fields_and_paging() {
    let api = Api::new();
    let mut uuids = Vec::new();
    for i in 0..7 {
        let body = json!({"driver": "fake-hardware", "name": format!("n{i}"), "resource_class": if i % 2 == 0 { "even" } else { "odd" },
                          "owner": format!("p{}", i % 3), "description": format!("node number {i}")});
        let r = api.post("/v1/nodes", "latest", body).await;
        assert_eq!(r.status, 201);
        uuids.push(r.json()["uuid"].as_str().unwrap().to_string());
    }
    // Default fields, in Ironic's order.
    let l = api.get("/v1/nodes", "latest").await.json();
    let first = l["nodes"][0].as_object().unwrap();
    assert_eq!(
        first.keys().map(String::as_str).collect::<Vec<_>>(),
        ["uuid", "instance_uuid", "maintenance", "power_state", "provision_state", "name", "links"]
    );
    assert!(l.get("next").is_none());
    // Paging: follow next links to the end.
    let mut seen = Vec::new();
    let mut url = "/v1/nodes?limit=3&fields=uuid,name".to_string();
    for _ in 0..10 {
        let page = api.get(&url, "latest").await.json();
        for n in page["nodes"].as_array().unwrap() {
            seen.push(n["uuid"].as_str().unwrap().to_string());
            assert_eq!(n.as_object().unwrap().len(), 3);
        }
        match page["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("http://127.0.0.1:6385/v1/nodes?sort_key=id&sort_dir=asc&fields=uuid,name&limit=3&marker="), "{next}");
                url = next.trim_start_matches("http://127.0.0.1:6385").to_string();
            }
            None => break,
        }
    }
    assert_eq!(seen, uuids);
    // Sorted descending by name.
    let l = api.get("/v1/nodes?sort_key=name&sort_dir=desc&limit=2", "latest").await.json();
    assert_eq!(l["nodes"][0]["name"], "n6");
    assert_eq!(l["nodes"][1]["name"], "n5");
    let next = l["next"].as_str().unwrap().trim_start_matches("http://127.0.0.1:6385").to_string();
    let l2 = api.get(&next, "latest").await.json();
    assert_eq!(l2["nodes"][0]["name"], "n4");
    // Filters.
    let count = |v: Value| v["nodes"].as_array().unwrap().len();
    assert_eq!(count(api.get("/v1/nodes?resource_class=even", "latest").await.json()), 4);
    assert_eq!(count(api.get("/v1/nodes?owner=p1", "latest").await.json()), 2);
    assert_eq!(count(api.get("/v1/nodes?project=p0", "latest").await.json()), 3);
    assert_eq!(count(api.get("/v1/nodes?description_contains=number%205", "latest").await.json()), 1);
    assert_eq!(count(api.get("/v1/nodes?provision_state=enroll&driver=fake-hardware", "latest").await.json()), 7);
    assert_eq!(count(api.get("/v1/nodes?maintenance=true", "latest").await.json()), 0);
    assert_eq!(count(api.get("/v1/nodes?associated=False", "latest").await.json()), 7);
    assert_eq!(count(api.get(&format!("/v1/nodes?conductor={}", support::MEMBER), "latest").await.json()), 7);
    assert_eq!(count(api.get("/v1/nodes?conductor=other", "latest").await.json()), 0);
    assert_eq!(count(api.get("/v1/nodes?sharded=false", "latest").await.json()), 7);
    assert_eq!(api.get("/v1/shards", "latest").await.json(), json!({"shards": [{"name": "None", "count": 7}]}));
    assert_eq!(api.get("/v1/shards", "1.81").await.status, 404);
    // Detail and fields.
    let d = api.get("/v1/nodes/detail?limit=1", "latest").await.json();
    assert_eq!(d["nodes"][0].as_object().unwrap().len(), 69);
    assert!(d["next"].as_str().unwrap().contains("/v1/nodes/detail?"));
    let d = api.get("/v1/nodes?detail=True&limit=1", "latest").await.json();
    assert_eq!(d["nodes"][0].as_object().unwrap().len(), 69);
    // Errors.
    for (q, status, msg) in [
        ("limit=0", 400, "Limit must be positive"),
        ("limit=x", 400, "Expected an integer for limit: x"),
        ("sort_dir=up", 400, "Invalid sort direction: up. Acceptable values are 'asc' or 'desc'"),
        ("sort_key=driver_info", 400, "The sort_key value driver_info is an invalid field for sorting"),
        ("sort_key=bogus", 400, "invalid field for sorting"),
        ("detail=True&fields=uuid", 400, "Can not specify ?detail=True and fields in the same request."),
        ("fields=bogus", 400, "Field bogus is not a valid field."),
        ("marker=00000000-0000-0000-0000-000000000000", 404, "could not be found"),
        ("marker=nope", 400, "Expected UUID for marker: nope"),
        ("provision_state=sleeping", 400, "Provision state \"sleeping\" is not valid"),
        ("maintenance=maybe", 400, "Invalid maintenance"),
        ("bogus=1", 400, "Unexpected arguments: bogus"),
        ("fault=bad", 400, "Unrecognized fault"),
    ] {
        let r = api.get(&format!("/v1/nodes?{q}"), "latest").await;
        assert_eq!(r.status, status, "{q}: {}", r.text());
        assert!(r.faultstring().contains(msg), "{q}: {}", r.faultstring());
    }
    // Limit above max_limit is capped.
    let api2 = Api::with(ApiConfig { max_limit: 2, ..Default::default() });
    for i in 0..3 {
        api2.node(&format!("m{i}")).await;
    }
    let l = api2.get("/v1/nodes?limit=50", "latest").await.json();
    assert_eq!(l["nodes"].as_array().unwrap().len(), 2);
    assert!(l["next"].as_str().unwrap().contains("limit=2"));
}

#[tokio::test]
async fn node_show_by_uuid_or_name_and_fields() {
    let api = Api::new();
    let n = api.node("show-me").await;
    let u = n["uuid"].as_str().unwrap();
    assert_eq!(api.get(&format!("/v1/nodes/{u}"), "latest").await.json()["name"], "show-me");
    let r = api.get("/v1/nodes/show-me?fields=uuid,power_state", "latest").await.json();
    assert_eq!(r.as_object().unwrap().keys().collect::<Vec<_>>(), ["uuid", "power_state", "links"]);
    let r = api.get("/v1/nodes/show-me?fields=conductor", "latest").await.json();
    assert_eq!(r["conductor"], support::MEMBER);
    let r = api.get("/v1/nodes/bad%20name", "latest").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["description"], "Expected UUID or name for node: bad name");
    assert_eq!(api.get("/v1/nodes/ports", "latest").await.status, 404);
    // Trailing slash and no /v1 prefix route the same way.
    assert_eq!(api.get("/nodes/show-me/", "latest").await.status, 200);
}

#[tokio::test]
async fn node_patch_follows_ironic_rules() {
    let api = Api::new();
    api.node("p1").await;
    let ok = api
        .patch(
            "/v1/nodes/p1",
            "latest",
            json!([{"op": "add", "path": "/extra/a", "value": 1}, {"op": "replace", "path": "/name", "value": "p2"},
                   {"op": "add", "path": "/driver_info/ipmi_password", "value": "secret"},
                   {"op": "replace", "path": "/maintenance", "value": "true"},
                   {"op": "add", "path": "/instance_info/display_name", "value": "vm1"}]),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let n = ok.json();
    assert_eq!((n["name"].clone(), n["extra"]["a"].clone(), n["maintenance"].clone()), (json!("p2"), json!(1), json!(true)));
    assert_eq!(n["driver_info"]["ipmi_password"], "******");
    assert_eq!(n["instance_name"], "vm1");
    assert!(n["updated_at"].is_string());
    let cases = [
        (json!([{"op": "replace", "path": "/provision_state", "value": "active"}]), 400, "Cannot patch /provision_state. Only the following can be updated: automated_clean"),
        (json!([{"op": "add", "path": "/traits", "value": []}]), 400, "Cannot patch /traits"),
        (json!([{"op": "remove", "path": "/extra/nokey"}]), 400, "can't remove a non-existent object 'nokey'"),
        (json!([{"op": "move", "path": "/extra/a", "from": "/extra/b"}]), 400, "Schema error for patch"),
        (json!([{"op": "add", "path": "/extra/a b", "value": 1}]), 400, "does not match"),
        (json!([{"op": "add", "path": "/extra/x"}]), 400, "does not contain a 'value' member"),
        (json!([{"op": "replace", "path": "/name", "value": "no way"}]), 400, "Cannot change name to invalid name 'no way'"),
        (json!([{"op": "replace", "path": "/driver_info", "value": "str"}]), 400, "is not of type 'object', 'null'"),
        (json!([{"op": "replace", "path": "/driver", "value": "nope"}]), 400, "No valid host was found"),
        (json!([{"op": "replace", "path": "/instance_uuid", "value": "nope"}]), 400, "Expected UUID for instance_uuid: nope"),
        (json!([{"op": "replace", "path": "/protected", "value": true}]), 409, "can only be made protected"),
        (json!([{"op": "replace", "path": "/protected_reason", "value": "x"}]), 400, "protected_reason field can only be set"),
        (json!({"op": "replace"}), 400, "is not of type 'array'"),
    ];
    let before = api.backend.fingerprint();
    for (body, status, msg) in cases {
        let r = api.patch("/v1/nodes/p2", "latest", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.faultstring().contains(msg), "{body}: {}", r.faultstring());
    }
    assert_eq!(before, api.backend.fingerprint(), "a refused patch must change nothing");
    // reset_interfaces needs a driver change, and 1.45.
    let r = api.patch("/v1/nodes/p2?reset_interfaces=true", "latest", json!([{"op": "add", "path": "/extra/z", "value": 1}])).await;
    assert_eq!(r.status, 400);
    assert_eq!(api.patch("/v1/nodes/p2?reset_interfaces=true", "1.44", json!([])).await.status, 406);
    let r = api
        .patch("/v1/nodes/p2?reset_interfaces=true", "latest", json!([{"op": "replace", "path": "/driver", "value": "ipmi"}]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["power_interface"], "ipmitool");
    // Removing a field sets it to its empty value.
    let r = api.patch("/v1/nodes/p2", "latest", json!([{"op": "remove", "path": "/extra"}, {"op": "remove", "path": "/name"}])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["extra"], json!({}));
    assert_eq!(r.json()["name"], Value::Null);
    // RFC 6901 escapes from 1.98.
    let u = r.json()["uuid"].as_str().unwrap().to_string();
    let r = api.patch(&format!("/v1/nodes/{u}"), "latest", json!([{"op": "add", "path": "/extra/a~1b~0c", "value": 1}])).await;
    assert_eq!(r.json()["extra"], json!({"a/b~c": 1}));
    assert_eq!(api.patch(&format!("/v1/nodes/{u}"), "1.97", json!([{"op": "add", "path": "/extra/a~1b", "value": 1}])).await.status, 400);
}

#[tokio::test]
async fn node_patch_refused_during_transitions_except_allowed_states() {
    let api = Api::new();
    let n = api.node("t1").await;
    let u: uuid::Uuid = n["uuid"].as_str().unwrap().parse().unwrap();
    let set_state = |s: ProvisionState| {
        api.backend.mutate(|st| {
            let mut node = (*st.nodes[&u]).clone();
            node.enter_state(s, Timestamp(1));
            st.nodes.insert(u, Arc::new(node));
        })
    };
    let body = json!([{"op": "add", "path": "/extra/x", "value": 1}]);
    set_state(ProvisionState::Deploying);
    let r = api.patch("/v1/nodes/t1", "latest", body.clone()).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.faultstring(), "Node t1 can not be updated while a state transition is in progress.");
    // A patch that only tests is a read: answered whatever the state.
    let r = api.patch("/v1/nodes/t1", "latest", json!([{"op": "test", "path": "/provision_state", "value": "deploying"}])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    set_state(ProvisionState::DeployFail);
    assert_eq!(api.patch("/v1/nodes/t1", "latest", body.clone()).await.status, 200);
    set_state(ProvisionState::Inspecting);
    let r = api.patch("/v1/nodes/t1", "latest", body.clone()).await;
    assert_eq!(r.status, 409);
    assert!(r.faultstring().contains("while it is in state \"inspecting\""));
    // Removing the instance of a node in maintenance is always allowed.
    set_state(ProvisionState::Deploying);
    api.backend.mutate(|st| {
        let mut node = (*st.nodes[&u]).clone();
        node.maintenance = true;
        node.instance_uuid = Some("11111111-1111-1111-1111-111111111111".into());
        st.nodes.insert(u, Arc::new(node));
        st.rebuild_indexes();
    });
    let r = api.patch("/v1/nodes/t1", "latest", json!([{"op": "remove", "path": "/instance_uuid"}])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["instance_uuid"], Value::Null);
}

#[tokio::test]
async fn patch_test_op_is_a_compare_and_set() {
    let api = Api::new();
    api.node("cas").await;
    let cas = |from: Value, to: Value| {
        json!([{"op": "test", "path": "/extra/v", "value": from}, {"op": "add", "path": "/extra/v", "value": to}])
    };
    assert_eq!(api.patch("/v1/nodes/cas", "latest", json!([{"op": "add", "path": "/extra/v", "value": 0}])).await.status, 200);
    let r = api.patch("/v1/nodes/cas", "latest", cas(json!(0), json!(1))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["extra"]["v"], 1);
    let r = api.patch("/v1/nodes/cas", "latest", cas(json!(0), json!(2))).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(api.get("/v1/nodes/cas", "latest").await.json()["extra"]["v"], 1);
    // A read-only test answers the node without writing.
    let r = api.patch("/v1/nodes/cas", "latest", json!([{"op": "test", "path": "/provision_state", "value": "enroll"}])).await;
    assert_eq!(r.status, 200);
    // Lost optimistic races are retried inside the API (bounded), invisible to the client.
    api.backend.fail_updates.store(3, Ordering::SeqCst);
    let r = api.patch("/v1/nodes/cas", "latest", cas(json!(1), json!(2))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["extra"]["v"], 2);
    api.backend.fail_updates.store(1000, Ordering::SeqCst);
    let r = api.patch("/v1/nodes/cas", "latest", cas(json!(2), json!(3))).await;
    assert_eq!(r.status, 409);
    assert!(!r.faultstring().contains("revision"));
    api.backend.fail_updates.store(0, Ordering::SeqCst);
}

#[tokio::test]
async fn concurrent_cas_increments_are_linearizable() {
    let api = Arc::new(Api::new());
    api.node("ctr").await;
    api.patch("/v1/nodes/ctr", "latest", json!([{"op": "add", "path": "/extra/v", "value": 0}])).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = 0;
            for _ in 0..20 {
                let cur = api.get("/v1/nodes/ctr", "latest").await.json()["extra"]["v"].as_i64().unwrap();
                let body = json!([{"op": "test", "path": "/extra/v", "value": cur}, {"op": "replace", "path": "/extra/v", "value": cur + 1}]);
                let r = api.patch("/v1/nodes/ctr", "latest", body).await;
                match r.status {
                    200 => won += 1,
                    409 => {}
                    s => panic!("unexpected {s}: {}", r.text()),
                }
            }
            won
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(api.get("/v1/nodes/ctr", "latest").await.json()["extra"]["v"], total);
}

#[tokio::test]
async fn node_delete_rules() {
    let api = Api::new();
    api.node("d1").await;
    api.provision("d1", "manage").await;
    api.provision("d1", "provide").await;
    api.provision("d1", "active").await;
    let r = api.delete("/v1/nodes/d1", "latest").await;
    assert_eq!(r.status, 409);
    assert!(r.faultstring().starts_with("Can not delete node"), "{}", r.faultstring());
    // Protected nodes are refused even in maintenance.
    assert_eq!(api.patch("/v1/nodes/d1", "latest", json!([{"op": "replace", "path": "/protected", "value": true}])).await.status, 200);
    assert_eq!(api.put("/v1/nodes/d1/maintenance", "latest", json!({"reason": "r"})).await.status, 202);
    let r = api.delete("/v1/nodes/d1", "latest").await;
    assert_eq!(r.status, 403);
    assert!(r.faultstring().contains("is protected"));
    let r = api.provision("d1", "deleted").await;
    assert_eq!(r.status, 403);
    api.patch("/v1/nodes/d1", "latest", json!([{"op": "replace", "path": "/protected", "value": false}])).await;
    // In maintenance any state may be deleted.
    assert_eq!(api.delete("/v1/nodes/d1", "latest").await.status, 204);
    assert_eq!(api.get("/v1/nodes/d1", "latest").await.status, 404);
    let r = api.delete("/v1/nodes", "latest").await;
    assert_eq!((r.status, r.faultstring()), (400, "Missing mandatory parameter: node_ident".to_string()));
}

#[tokio::test]
async fn maintenance_validate_and_states() {
    let api = Api::new();
    api.node("m1").await;
    let r = api.put("/v1/nodes/m1/maintenance", "latest", json!({"reason": "disk"})).await;
    assert_eq!(r.status, 202);
    let n = api.get("/v1/nodes/m1", "latest").await.json();
    assert_eq!((n["maintenance"].clone(), n["maintenance_reason"].clone()), (json!(true), json!("disk")));
    assert_eq!(api.send("PUT", "/v1/nodes/m1/maintenance?reason=q", &[("x-openstack-ironic-api-version", "1.5")], None).await.status, 202);
    assert_eq!(api.get("/v1/nodes/m1", "latest").await.json()["maintenance_reason"], "q");
    assert_eq!(api.delete("/v1/nodes/m1/maintenance", "latest").await.status, 202);
    let n = api.get("/v1/nodes/m1", "latest").await.json();
    assert_eq!((n["maintenance"].clone(), n["maintenance_reason"].clone()), (json!(false), Value::Null));
    let v = api.get("/v1/nodes/m1/validate", "latest").await.json();
    assert_eq!(v["power"]["result"], true);
    let v = api.get("/v1/nodes/validate?node=m1", "latest").await.json();
    assert_eq!(v["deploy"]["result"], true);
    let s = api.get("/v1/nodes/m1/states", "latest").await.json();
    assert_eq!(s.as_object().unwrap().len(), 11);
}

// ---------------------------------------------------------------- states

#[tokio::test]
async fn power_actions() {
    let api = Api::new();
    api.node("pw").await;
    let r = api.put("/v1/nodes/pw/states/power", "latest", json!({"target": "power on"})).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.header("location").as_deref(), Some("http://127.0.0.1:6385/v1/nodes/pw/states"));
    assert!(r.body.is_empty());
    assert_eq!(api.get("/v1/nodes/pw/states", "latest").await.json()["power_state"], "power on");
    let r = api.put("/v1/nodes/pw/states/power", "latest", json!({"target": "soft power off", "timeout": 10})).await;
    assert_eq!(r.status, 202);
    assert_eq!(api.get("/v1/nodes/pw", "latest").await.json()["power_state"], "power off");
    for (ver, body, status, msg) in [
        ("1.26", json!({"target": "soft rebooting"}), 406, "Request not acceptable."),
        ("1.26", json!({"target": "power on", "timeout": 5}), 406, "Request not acceptable."),
        ("latest", json!({"target": "power on", "timeout": 0}), 400, "timeout has to be positive integer"),
        ("latest", json!({"target": "power on", "timeout": "x"}), 400, "Expected an integer for timeout"),
        ("latest", json!({"target": "sideways"}), 400, "The requested action \"sideways\" can not be performed on node \"pw\" while it is in state \"power off\"."),
        ("latest", json!({"target": "power on", "extra": 1}), 400, "Unexpected arguments: extra"),
        ("latest", json!({}), 400, "Missing mandatory parameter: target"),
        ("latest", json!({"target": 5}), 400, "Expected string for target"),
    ] {
        let r = api.put("/v1/nodes/pw/states/power", ver, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.faultstring().contains(msg), "{body}: {}", r.faultstring());
    }
    // Refused while cleaning.
    let u: uuid::Uuid = api.get("/v1/nodes/pw", "latest").await.json()["uuid"].as_str().unwrap().parse().unwrap();
    api.backend.mutate(|st| {
        let mut n = (*st.nodes[&u]).clone();
        n.enter_state(ProvisionState::CleanWait, Timestamp(1));
        st.nodes.insert(u, Arc::new(n));
    });
    let r = api.put("/v1/nodes/pw/states/power", "latest", json!({"target": "power on"})).await;
    assert_eq!(r.status, 400);
    assert!(r.faultstring().contains("while it is in state \"clean wait\""));
}

#[tokio::test]
async fn provision_verbs_and_their_checks() {
    let api = Api::new();
    let pv = api.node("pv").await["uuid"].as_str().unwrap().to_string();
    // Verb too new for the version.
    assert_eq!(api.put(&format!("/v1/nodes/{pv}/states/provision"), "1.3", json!({"target": "manage"})).await.status, 406);
    let r = api.provision("pv", "active").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.faultstring(), format!("The requested action \"active\" can not be performed on node \"{}\" while it is in state \"enroll\".", api.get("/v1/nodes/pv", "latest").await.json()["uuid"].as_str().unwrap()));
    assert_eq!(api.provision("pv", "bogus").await.status, 400);
    assert_eq!(api.provision("pv", "manage").await.status, 202);
    assert_eq!(api.get("/v1/nodes/pv", "latest").await.json()["provision_state"], "manageable");
    // clean needs clean_steps, valid ones.
    let r = api.provision("pv", "clean").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.faultstring(), "\"clean_steps\" is required when setting target provision state to clean");
    let bad = api.put("/v1/nodes/pv/states/provision", "latest", json!({"target": "clean", "clean_steps": [{"interface": "warp", "step": "x"}]})).await;
    assert_eq!(bad.status, 400);
    assert!(bad.faultstring().starts_with("Invalid clean_steps"));
    let good = api
        .put("/v1/nodes/pv/states/provision", "latest", json!({"target": "clean", "clean_steps": [{"interface": "deploy", "step": "erase_devices", "args": {}}], "disable_ramdisk": false}))
        .await;
    assert_eq!(good.status, 202, "{}", good.text());
    assert_eq!(api.put("/v1/nodes/pv/states/provision", "1.69", json!({"target": "clean", "clean_steps": [{"interface": "deploy", "step": "e"}], "disable_ramdisk": true})).await.status, 406);
    // Parameters only valid with their verb.
    for (body, msg) in [
        (json!({"target": "provide", "clean_steps": [{"interface": "deploy", "step": "x"}]}), "\"clean_steps\" is only valid"),
        (json!({"target": "provide", "rescue_password": "x"}), "\"rescue_password\" is only valid"),
        (json!({"target": "provide", "disable_ramdisk": true}), "disable_ramdisk is supported only"),
        (json!({"target": "provide", "configdrive": "abc"}), "Adding a config drive is only supported"),
        (json!({"target": "provide", "bogus": 1}), "Unexpected arguments: bogus"),
    ] {
        let r = api.put("/v1/nodes/pv/states/provision", "latest", body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.faultstring().contains(msg), "{body}: {}", r.faultstring());
    }
    assert_eq!(api.provision("pv", "provide").await.status, 202);
    // Deploy with a config drive; refused in maintenance.
    api.put("/v1/nodes/pv/maintenance", "latest", json!({})).await;
    let r = api.provision("pv", "active").await;
    assert_eq!(r.status, 400);
    assert!(r.faultstring().contains("maintenance mode"));
    api.delete("/v1/nodes/pv/maintenance", "latest").await;
    let r = api.put("/v1/nodes/pv/states/provision", "latest", json!({"target": "active", "configdrive": {"meta_data": {"a": "b"}, "bogus": 1}})).await;
    assert_eq!(r.status, 400);
    let r = api.put("/v1/nodes/pv/states/provision", "latest", json!({"target": "active", "configdrive": "not base64 !!"})).await;
    assert_eq!(r.status, 400);
    let r = api.put("/v1/nodes/pv/states/provision", "latest", json!({"target": "active", "configdrive": {"meta_data": {"a": "b"}}, "deploy_steps": [{"interface": "deploy", "step": "s", "args": {}, "priority": 50}]})).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(api.get("/v1/nodes/pv", "latest").await.json()["provision_state"], "active");
    // rescue needs a password; then unrescue.
    let r = api.provision("pv", "rescue").await;
    assert_eq!(r.status, 400);
    assert!(r.faultstring().contains("non-empty \"rescue_password\""));
    assert_eq!(api.put("/v1/nodes/pv/states/provision", "latest", json!({"target": "rescue", "rescue_password": "pw"})).await.status, 202);
    assert_eq!(api.get("/v1/nodes/pv", "latest").await.json()["provision_state"], "rescue");
    assert_eq!(api.provision("pv", "unrescue").await.status, 202);
    // service needs service_steps (1.87).
    assert_eq!(api.put("/v1/nodes/pv/states/provision", "1.86", json!({"target": "service", "service_steps": [{"interface": "deploy", "step": "x"}]})).await.status, 406);
    assert_eq!(api.provision("pv", "service").await.status, 400);
    assert_eq!(api.put("/v1/nodes/pv/states/provision", "latest", json!({"target": "service", "service_steps": [{"interface": "raid", "step": "x"}]})).await.status, 202);
    assert_eq!(api.provision("pv", "undeploy").await.status, 202);
    assert_eq!(api.put("/v1/nodes/pv/states/provision", "1.72", json!({"target": "undeploy"})).await.status, 406);
    assert_eq!(api.get("/v1/nodes/pv", "latest").await.json()["provision_state"], "available");
    // A reserved node answers NodeLocked instead of the state error.
    let u: uuid::Uuid = api.get("/v1/nodes/pv", "latest").await.json()["uuid"].as_str().unwrap().parse().unwrap();
    api.backend.mutate(|st| {
        let mut n = (*st.nodes[&u]).clone();
        n.reservation = Some(Reservation { holder: support::MEMBER.into(), generation: 9, purpose: "t".into(), acquired_at: Timestamp(0) });
        st.nodes.insert(u, Arc::new(n));
    });
    let r = api.provision("pv", "rescue").await;
    assert_eq!(r.status, 409);
    assert_eq!(r.faultstring(), format!("Node {u} is locked by host {}, please retry after the current operation is completed.", support::MEMBER));
    let r = api.patch("/v1/nodes/pv", "latest", json!([{"op": "add", "path": "/extra/a", "value": 1}])).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(api.get("/v1/nodes/pv", "latest").await.json()["reservation"], support::MEMBER);
}

#[tokio::test]
async fn raid_console_boot_mode_secure_boot() {
    let api = Api::new();
    api.node("r1").await;
    let cfg = json!({"logical_disks": [{"size_gb": 10, "raid_level": "1"}]});
    assert_eq!(api.put("/v1/nodes/r1/states/raid", "1.11", cfg.clone()).await.status, 406);
    assert_eq!(api.put("/v1/nodes/r1/states/raid", "latest", cfg.clone()).await.status, 204);
    assert_eq!(api.get("/v1/nodes/r1", "latest").await.json()["target_raid_config"], cfg);
    let r = api.put("/v1/nodes/r1/states/raid", "latest", json!({"logical_disks": [{"size_gb": 10, "raid_level": "7"}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(api.put("/v1/nodes/r1/states/raid", "latest", json!({})).await.status, 204);
    // console
    assert_eq!(api.get("/v1/nodes/r1/states/console", "latest").await.json(), json!({"console_enabled": false, "console_info": null}));
    let r = api.put("/v1/nodes/r1/states/console", "latest", json!({"enabled": true})).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.header("location").as_deref(), Some("http://127.0.0.1:6385/v1/nodes/r1/states/console"));
    assert_eq!(api.get("/v1/nodes/r1/states/console", "latest").await.json()["console_enabled"], true);
    assert_eq!(api.put("/v1/nodes/r1/states/console", "latest", json!({"enabled": "maybe"})).await.status, 400);
    assert_eq!(api.put("/v1/nodes/r1/states/console", "latest", json!({})).await.status, 400);
    // Changing the driver while the console runs is refused.
    let r = api.patch("/v1/nodes/r1", "latest", json!([{"op": "replace", "path": "/driver", "value": "ipmi"}])).await;
    assert_eq!(r.status, 409);
    // boot mode, secure boot
    assert_eq!(api.put("/v1/nodes/r1/states/boot_mode", "1.75", json!({"target": "uefi"})).await.status, 404);
    assert_eq!(api.put("/v1/nodes/r1/states/boot_mode", "latest", json!({"target": "uefi"})).await.status, 202);
    assert_eq!(api.get("/v1/nodes/r1", "latest").await.json()["boot_mode"], "uefi");
    let r = api.put("/v1/nodes/r1/states/boot_mode", "latest", json!({"target": "coreboot"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(api.put("/v1/nodes/r1/states/secure_boot", "latest", json!({"target": true})).await.status, 202);
    assert_eq!(api.get("/v1/nodes/r1", "latest").await.json()["secure_boot"], true);
    assert_eq!(api.put("/v1/nodes/r1/states/secure_boot", "latest", json!({"target": "sure"})).await.status, 400);
}

// ---------------------------------------------------------------- management

#[tokio::test]
async fn boot_device_nmi_traits_vifs_passthru() {
    let api = Api::new();
    api.node("b1").await;
    assert_eq!(api.put("/v1/nodes/b1/management/boot_device", "latest", json!({"boot_device": "pxe", "persistent": true})).await.status, 204);
    assert_eq!(api.get("/v1/nodes/b1/management/boot_device", "latest").await.json(), json!({"boot_device": "pxe", "persistent": true}));
    let s = api.get("/v1/nodes/b1/management/boot_device/supported", "latest").await.json();
    assert_eq!(s["supported_boot_devices"], json!(["pxe"]));
    let r = api.put("/v1/nodes/b1/management/boot_device", "latest", json!({"boot_device": "disk"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(api.put("/v1/nodes/b1/management/boot_device", "latest", json!({"persistent": true})).await.status, 400);
    // fake-hardware's management refuses NMI (as Ironic 39's does); ipmi takes it.
    assert_eq!(api.put("/v1/nodes/b1/management/inject_nmi", "latest", json!({})).await.status, 400);
    api.post("/v1/nodes", "latest", json!({"driver": "ipmi", "name": "b2"})).await;
    assert_eq!(api.put("/v1/nodes/b2/management/inject_nmi", "latest", json!({})).await.status, 204);
    assert_eq!(api.put("/v1/nodes/b1/management/inject_nmi", "1.28", json!({})).await.status, 404);
    // traits
    assert_eq!(api.get("/v1/nodes/b1/traits", "1.36").await.status, 406);
    assert_eq!(api.put("/v1/nodes/b1/traits", "latest", json!({"traits": ["CUSTOM_B", "CUSTOM_A"]})).await.status, 204);
    assert_eq!(api.get("/v1/nodes/b1/traits", "latest").await.json(), json!({"traits": ["CUSTOM_A", "CUSTOM_B"]}));
    let r = api.send("PUT", "/v1/nodes/b1/traits/CUSTOM_C", &[("x-openstack-ironic-api-version", "latest")], None).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("location").as_deref(), Some("http://127.0.0.1:6385/v1/nodes/b1/traits/CUSTOM_C"));
    assert_eq!(api.get("/v1/nodes/b1", "latest").await.json()["traits"], json!(["CUSTOM_A", "CUSTOM_B", "CUSTOM_C"]));
    assert_eq!(api.send("PUT", "/v1/nodes/b1/traits/lower", &[("x-openstack-ironic-api-version", "latest")], None).await.status, 400);
    assert_eq!(api.put("/v1/nodes/b1/traits", "latest", json!({"traits": ["bad trait"]})).await.status, 400);
    assert_eq!(api.put("/v1/nodes/b1/traits", "latest", json!({})).await.status, 400);
    assert_eq!(api.delete("/v1/nodes/b1/traits/CUSTOM_A", "latest").await.status, 204);
    assert_eq!(api.delete("/v1/nodes/b1/traits/CUSTOM_A", "latest").await.status, 404);
    assert_eq!(api.delete("/v1/nodes/b1/traits", "latest").await.status, 204);
    assert_eq!(api.get("/v1/nodes/b1/traits", "latest").await.json(), json!({"traits": []}));
    let many: Vec<String> = (0..51).map(|i| format!("CUSTOM_T{i}")).collect();
    assert_eq!(api.put("/v1/nodes/b1/traits", "latest", json!({"traits": many})).await.status, 400);
    // vifs
    assert_eq!(api.post("/v1/nodes/b1/vifs", "latest", json!({"id": "vif-1"})).await.status, 204);
    assert_eq!(api.get("/v1/nodes/b1/vifs", "latest").await.json(), json!({"vifs": [{"id": "vif-1"}]}));
    assert_eq!(api.post("/v1/nodes/b1/vifs", "latest", json!({"id": "vif-1"})).await.status, 409);
    assert_eq!(api.post("/v1/nodes/b1/vifs", "latest", json!({})).await.status, 400);
    assert_eq!(api.post("/v1/nodes/b1/vifs", "latest", json!({"id": "a", "port_uuid": "x", "portgroup_uuid": "y"})).await.status, 400);
    assert_eq!(api.delete("/v1/nodes/b1/vifs/vif-1", "latest").await.status, 204);
    assert_eq!(api.delete("/v1/nodes/b1/vifs/vif-1", "latest").await.status, 400);
    assert_eq!(api.get("/v1/nodes/b1/vifs", "1.27").await.status, 404);
    // vendor passthru
    let m = api.get("/v1/nodes/b1/vendor_passthru/methods", "latest").await.json();
    assert!(m.get("second_method").is_some());
    let r = api.post("/v1/nodes/b1/vendor_passthru?method=second_method", "latest", json!({"bar": "baz"})).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let r = api.post("/v1/nodes/b1/vendor_passthru?method=third_method_sync", "latest", json!({"bar": "meow"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["method"], "third_method_sync");
    assert_eq!(api.get("/v1/nodes/b1/vendor_passthru?method=third_method_sync", "latest").await.status, 400);
    let r = api.post("/v1/nodes/b1/vendor_passthru", "latest", json!({})).await;
    assert_eq!((r.status, r.faultstring()), (400, "Missing mandatory parameter: method".to_string()));
    let r = api.post("/v1/nodes/b1/vendor_passthru?method=", "latest", json!({})).await;
    assert_eq!((r.status, r.faultstring()), (400, "Method not specified".to_string()));
    let r = api.post("/v1/nodes/b1/vendor_passthru?method=first_method", "latest", json!({})).await;
    assert_eq!((r.status, r.faultstring()), (400, "No handler for method first_method".to_string()));
    assert_eq!(api.get("/v1/drivers/fake-hardware/vendor_passthru/methods", "latest").await.json(), json!({}));
}

// ---------------------------------------------------------------- ports, portgroups, chassis

#[tokio::test]
async fn ports_and_portgroups() {
    let api = Api::new();
    let n = api.node("pn").await;
    let u = n["uuid"].as_str().unwrap().to_string();
    let other = api.node("other").await["uuid"].as_str().unwrap().to_string();
    let pg = api
        .post("/v1/portgroups", "latest", json!({"node_uuid": u, "name": "bond0", "address": "52:54:00:AA:00:01", "mode": "802.3ad", "properties": {"miimon": 100}}))
        .await;
    assert_eq!(pg.status, 201, "{}", pg.text());
    let pg = pg.json();
    assert_eq!(pg["address"], "52:54:00:aa:00:01");
    assert_eq!(pg["standalone_ports_supported"], true);
    let pgu = pg["uuid"].as_str().unwrap().to_string();
    assert_eq!(api.post("/v1/portgroups", "1.22", json!({"node_uuid": u})).await.status, 404);
    let dflt = api.post("/v1/portgroups", "latest", json!({"node_uuid": u})).await.json();
    assert_eq!(dflt["mode"], "active-backup");
    let p = api
        .post(
            "/v1/ports",
            "latest",
            json!({"address": "52:54:00:12:34:56", "node_uuid": u, "portgroup_uuid": pgu, "pxe_enabled": "false",
                   "local_link_connection": {"switch_id": "00:11:22:33:44:55", "port_id": "Eth1"}, "physical_network": "phys", "is_smartnic": false}),
        )
        .await;
    assert_eq!(p.status, 201, "{}", p.text());
    let p = p.json();
    assert_eq!((p["address"].clone(), p["pxe_enabled"].clone()), (json!("52:54:00:12:34:56"), json!(false)));
    let pu = p["uuid"].as_str().unwrap().to_string();
    for (body, status, msg) in [
        (json!({"address": "52:54:00:12:34:56", "node_uuid": u}), 409, "A port with MAC address 52:54:00:12:34:56 already exists."),
        (json!({"address": "zz:54:00:12:34:56", "node_uuid": u}), 400, "Expected valid MAC address for address: zz:54:00:12:34:56"),
        (json!({"address": "52-54-00-12-34-57", "node_uuid": u}), 400, "Expected valid MAC address"),
        (json!({"address": "52:54:00:12:34:57"}), 400, "is not valid under any of the given schemas"),
        (json!({"address": "52:54:00:12:34:57", "node_uuid": "pn"}), 400, "Expected UUID for node_uuid: pn"),
        (json!({"address": "52:54:00:12:34:57", "node_uuid": "00000000-0000-0000-0000-000000000009"}), 400, "could not be found"),
        (json!({"address": "52:54:00:12:34:57", "node_uuid": other, "portgroup_uuid": pgu}), 400, "belonging to a different node"),
        (json!({"address": "52:54:00:12:34:57", "node_uuid": u, "is_smartnic": true, "local_link_connection": {"port_id": "p", "switch_id": "00:11:22:33:44:55"}}), 400, "Smart NIC port must have port_id and hostname"),
        (json!({"address": "52:54:00:12:34:57", "node_uuid": u, "local_link_connection": {"bogus": "x"}}), 400, "local_link_connection"),
        (json!({"address": "52:54:00:12:34:57", "node_uuid": u, "physical_network": ""}), 400, "non-empty value"),
        (json!({"address": "52:54:00:12:34:57", "node_uuid": u, "color": "red"}), 400, "('color' was unexpected)"),
    ] {
        let r = api.post("/v1/ports", "latest", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.faultstring().contains(msg), "{body}: {}", r.faultstring());
    }
    assert_eq!(api.post("/v1/ports", "1.87", json!({"address": "52:54:00:12:34:58", "node_uuid": u, "name": "p"})).await.status, 406);
    assert_eq!(api.post("/v1/ports", "latest", json!({"address": "52:54:00:12:34:58", "node_ident": "pn"})).await.status, 201);
    // Listing: by node, portgroup, address; default fields; sub-collections.
    let l = api.get("/v1/ports", "latest").await.json();
    assert_eq!(l["ports"][0].as_object().unwrap().keys().collect::<Vec<_>>(), ["uuid", "address", "links"]);
    assert_eq!(api.get(&format!("/v1/ports?node={u}"), "latest").await.json()["ports"].as_array().unwrap().len(), 2);
    assert_eq!(api.get("/v1/ports?address=52:54:00:12:34:56", "latest").await.json()["ports"][0]["uuid"], pu);
    assert_eq!(api.get(&format!("/v1/ports?portgroup={pgu}"), "latest").await.json()["ports"].as_array().unwrap().len(), 1);
    assert_eq!(api.get("/v1/nodes/pn/ports", "latest").await.json()["ports"].as_array().unwrap().len(), 2);
    assert_eq!(api.get("/v1/portgroups/bond0/ports", "latest").await.json()["ports"][0]["uuid"], pu);
    assert_eq!(api.get(&format!("/v1/ports?node={u}&portgroup={pgu}"), "latest").await.status, 403);
    let d = api.get("/v1/ports/detail", "latest").await.json();
    assert_eq!(d["ports"][0].as_object().unwrap().len(), 18);
    let old = api.get(&format!("/v1/ports/{pu}"), "1.18").await.json();
    assert!(old.get("pxe_enabled").is_none() && old.get("internal_info").is_some());
    // Update: address normalised, node move, unknown field, MAC conflict.
    let r = api.patch(&format!("/v1/ports/{pu}"), "latest", json!([{"op": "replace", "path": "/address", "value": "52:54:00:12:34:99"}, {"op": "add", "path": "/extra/x", "value": 1}])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["address"], "52:54:00:12:34:99");
    let r = api.patch(&format!("/v1/ports/{pu}"), "latest", json!([{"op": "replace", "path": "/address", "value": "52:54:00:12:34:58"}])).await;
    assert_eq!(r.status, 409);
    let r = api.patch(&format!("/v1/ports/{pu}"), "latest", json!([{"op": "replace", "path": "/internal_info", "value": {}}])).await;
    assert_eq!(r.status, 400);
    assert!(r.faultstring().starts_with("Cannot patch /internal_info."));
    // Portgroup with ports cannot be deleted; its update; delete.
    let r = api.delete(&format!("/v1/portgroups/{pgu}"), "latest").await;
    assert_eq!(r.status, 400);
    assert!(r.faultstring().contains("contains ports"));
    let r = api.patch("/v1/portgroups/bond0", "latest", json!([{"op": "replace", "path": "/standalone_ports_supported", "value": false}])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(api.patch("/v1/portgroups/bond0", "latest", json!([{"op": "remove", "path": "/mode"}])).await.status, 400);
    assert_eq!(api.delete(&format!("/v1/ports/{pu}"), "latest").await.status, 204);
    assert_eq!(api.delete(&format!("/v1/ports/{pu}"), "latest").await.status, 404);
    assert_eq!(api.delete(&format!("/v1/portgroups/{pgu}"), "latest").await.status, 204);
    assert_eq!(api.get("/v1/portgroups", "latest").await.json()["portgroups"].as_array().unwrap().len(), 1);
    // Deleting the node takes its ports with it.
    assert_eq!(api.delete("/v1/nodes/pn", "latest").await.status, 204);
    assert_eq!(api.get("/v1/ports", "latest").await.json()["ports"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn chassis_with_nodes() {
    let api = Api::new();
    let c = api.post("/v1/chassis", "latest", json!({"description": "rack 1", "extra": {"row": 3}})).await;
    assert_eq!(c.status, 201);
    let cu = c.json()["uuid"].as_str().unwrap().to_string();
    assert_eq!(api.post("/v1/chassis", "latest", json!({"description": 5})).await.status, 400);
    assert_eq!(api.post("/v1/chassis", "latest", json!({"nope": 5})).await.status, 400);
    let r = api.post("/v1/nodes", "latest", json!({"driver": "fake-hardware", "name": "cn", "chassis_uuid": cu})).await;
    assert_eq!(r.status, 201);
    let l = api.get(&format!("/v1/chassis/{cu}/nodes"), "latest").await.json();
    assert_eq!(l["nodes"][0]["name"], "cn");
    let l = api.get(&format!("/v1/chassis/{cu}/nodes/detail"), "latest").await.json();
    assert_eq!(l["nodes"][0]["chassis_uuid"], cu);
    assert_eq!(api.get("/v1/chassis/00000000-0000-0000-0000-000000000000/nodes", "latest").await.status, 404);
    let r = api.delete(&format!("/v1/chassis/{cu}"), "latest").await;
    assert_eq!(r.status, 400);
    assert!(r.faultstring().contains("contains nodes"));
    // Unsetting chassis_uuid needs 1.25.
    assert_eq!(api.patch("/v1/nodes/cn", "1.24", json!([{"op": "remove", "path": "/chassis_uuid"}])).await.status, 406);
    assert_eq!(api.patch("/v1/nodes/cn", "latest", json!([{"op": "remove", "path": "/chassis_uuid"}])).await.status, 200);
    let r = api.patch(&format!("/v1/chassis/{cu}"), "latest", json!([{"op": "replace", "path": "/description", "value": "rack 2"}])).await;
    assert_eq!(r.json()["description"], "rack 2");
    let l = api.get("/v1/chassis", "latest").await.json();
    assert_eq!(l["chassis"][0].as_object().unwrap().keys().collect::<Vec<_>>(), ["uuid", "description", "links"]);
    assert_eq!(api.get("/v1/chassis/detail", "latest").await.json()["chassis"][0]["extra"]["row"], 3);
    assert_eq!(api.get("/v1/chassis/not-a-uuid", "latest").await.status, 400);
    assert_eq!(api.delete(&format!("/v1/chassis/{cu}"), "latest").await.status, 204);
}

// ---------------------------------------------------------------- drivers, conductors

#[tokio::test]
async fn drivers_and_conductors() {
    let api = Api::new();
    let l = api.get("/v1/drivers", "latest").await.json();
    let names: Vec<&str> = l["drivers"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fake-hardware", "ipmi", "manual-management"]);
    assert!(l["drivers"][0].get("default_power_interface").is_none());
    let d = api.get("/v1/drivers?detail=True", "latest").await.json();
    assert_eq!(d["drivers"][1]["default_power_interface"], "ipmitool");
    assert_eq!(api.get("/v1/drivers?type=classic", "latest").await.json()["drivers"], json!([]));
    assert_eq!(api.get("/v1/drivers?type=weird", "latest").await.status, 400);
    assert_eq!(api.get("/v1/drivers?detail=True", "1.29").await.status, 406);
    let s = api.get("/v1/drivers/ipmi", "latest").await.json();
    assert_eq!(s["enabled_management_interfaces"], json!(["ipmitool", "noop"]));
    assert_eq!(s["hosts"], json!([support::MEMBER]));
    let old = api.get("/v1/drivers/ipmi", "1.1").await.json();
    assert_eq!(old.as_object().unwrap().keys().collect::<Vec<_>>(), ["name", "hosts", "links"]);
    let r = api.get("/v1/drivers/nope", "latest").await;
    assert_eq!((r.status, r.faultstring()), (404, "Could not find the following driver(s) or hardware type(s): nope.".to_string()));
    assert!(api.get("/v1/drivers/ipmi/properties", "latest").await.json().get("ipmi_address").is_some());
    assert!(api.get("/v1/drivers/ipmi/raid/logical_disk_properties", "latest").await.json().get("raid_level").is_some());
    assert_eq!(api.get("/v1/drivers/ipmi/raid/logical_disk_properties", "1.11").await.status, 406);
    assert!(api.get("/v1/drivers/ipmi/vendor_passthru/methods", "latest").await.json().is_object());
    // conductors
    assert_eq!(api.get("/v1/conductors", "1.48").await.status, 404);
    let c = api.get("/v1/conductors", "latest").await.json();
    assert_eq!(c["conductors"][0].as_object().unwrap().keys().collect::<Vec<_>>(), ["hostname", "conductor_group", "links", "alive"]);
    assert_eq!(c["conductors"][0]["alive"], true);
    let one = api.get(&format!("/v1/conductors/{}", support::MEMBER), "latest").await.json();
    assert_eq!(one["drivers"], json!(["fake-hardware", "ipmi", "manual-management"]));
    assert_eq!(api.get("/v1/conductors/nope", "latest").await.status, 404);
    assert_eq!(api.get("/v1/conductors?detail=True", "latest").await.json()["conductors"][0]["drivers"].as_array().unwrap().len(), 3);
}

// ---------------------------------------------------------------- ramdisk endpoints

#[tokio::test]
async fn lookup_and_heartbeat() {
    let api = Api::new();
    let u = api.node("rd").await["uuid"].as_str().unwrap().to_string();
    api.post("/v1/ports", "latest", json!({"address": "52:54:00:00:00:aa", "node_uuid": u})).await;
    let r = api.get("/v1/lookup?addresses=52:54:00:00:00:aa", "latest").await;
    assert_eq!(r.status, 404, "enroll does not allow lookup");
    assert_eq!(api.get("/v1/lookup", "latest").await.status, 400);
    let uu: uuid::Uuid = u.parse().unwrap();
    api.backend.mutate(|st| {
        let mut n = (*st.nodes[&uu]).clone();
        n.enter_state(ProvisionState::DeployWait, Timestamp(1));
        st.nodes.insert(uu, Arc::new(n));
    });
    let r = api.get("/v1/lookup?addresses=52:54:00:00:00:AA,bogus", "latest").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["node"]["uuid"], u);
    let token = body["config"]["agent_token"].as_str().unwrap().to_string();
    assert_ne!(token, "******");
    // The token is minted once; it never shows in the node.
    let again = api.get(&format!("/v1/lookup?node_uuid={u}"), "latest").await.json();
    assert_eq!(again["config"]["agent_token"], "******");
    assert_eq!(again["node"]["driver_internal_info"]["agent_secret_token"], "******");
    let r = api.post(&format!("/v1/heartbeat/{u}"), "latest", json!({"callback_url": "http://10.0.0.5:9999"})).await;
    assert_eq!((r.status, r.faultstring()), (400, "Agent token is required for heartbeat processing.".to_string()));
    let r = api.post(&format!("/v1/heartbeat/{u}"), "latest", json!({"callback_url": "http://10.0.0.5:9999", "agent_token": token, "agent_version": "9.0"})).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let r = api.post(&format!("/v1/heartbeat/{u}"), "latest", json!({"callback_url": "http://10.0.0.6:9999", "agent_token": "t"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(api.post(&format!("/v1/heartbeat/{u}"), "1.35", json!({"callback_url": "http://10.0.0.5:9999", "agent_token": "t", "agent_version": "1"})).await.status, 400);
}

// ---------------------------------------------------------------- bad input, framework errors

#[tokio::test]
async fn bad_bodies_are_4xx_with_ironic_bodies() {
    let api = Api::with(ApiConfig { max_body_bytes: 1024, max_json_depth: 5, ..Default::default() });
    api.node("bb").await;
    let hdr = |ct: &'static str| vec![("x-openstack-ironic-api-version", "latest"), ("content-type", ct)];
    let r = api.send("POST", "/v1/nodes", &hdr("application/json"), Some(b"{not json".to_vec())).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["faultcode"], "Client");
    let r = api.send("POST", "/v1/nodes", &hdr("text/plain"), Some(br#"{"driver":"fake-hardware"}"#.to_vec())).await;
    assert_eq!(r.status, 415);
    let big = format!(r#"{{"driver":"fake-hardware","description":"{}"}}"#, "x".repeat(2000));
    let r = api.send("POST", "/v1/nodes", &hdr("application/json"), Some(big.into_bytes())).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.faultstring(), "Request body is too large. Please contact the service administrator.");
    let deep = format!(r#"{{"driver":"fake-hardware","extra":{}1{}}}"#, "[".repeat(10), "]".repeat(10));
    let r = api.send("POST", "/v1/nodes", &hdr("application/json"), Some(deep.into_bytes())).await;
    assert_eq!(r.status, 400);
    assert!(r.faultstring().contains("nested too deeply"));
    let r = api.send("PATCH", "/v1/nodes/bb", &hdr("application/json-patch+json"), Some(br#"[{"op":"add","path":"/extra/a","value":1}]"#.to_vec())).await;
    assert_eq!(r.status, 200);
    // 405 keeps Allow and has the framework's body, as Ironic's routing answers.
    let r = api.send("POST", "/v1/nodes/bb", &hdr("application/json"), Some(b"{}".to_vec())).await;
    assert_eq!(r.status, 405);
    assert!(r.header("allow").is_some());
    assert_eq!(r.error()["title"], "Method Not Allowed");
    assert!(r.header("x-openstack-ironic-api-version").is_none());
    assert_eq!(api.backend.node_count(), 1);
}

// ---------------------------------------------------------------- auth, config, Ferric endpoints

#[tokio::test]
async fn basic_auth_protects_all_but_public_routes() {
    let dir = std::env::temp_dir().join(format!("ferric-api-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("htpasswd");
    std::fs::write(&file, format!("admin:{}\n", bcrypt::hash("pw", 4).unwrap())).unwrap();
    let api = Api::with(ApiConfig { auth_strategy: AuthStrategy::HttpBasic, http_basic_auth_user_file: Some(file.clone()), ..Default::default() });
    for p in ["/", "/v1", "/v1/lookup?node_uuid=00000000-0000-0000-0000-000000000000", "/healthz"] {
        assert_ne!(api.get(p, "latest").await.status, 401, "{p}");
    }
    for p in ["/v1/nodes", "/v1/drivers", "/metrics", "/cluster/status", "/nodes"] {
        let r = api.get(p, "latest").await;
        assert_eq!(r.status, 401, "{p}");
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Basic realm=\"Baremetal API\""));
        assert!(r.header("x-openstack-ironic-api-version").is_none());
    }
    let r = api.send("GET", "/v1/nodes", &[("authorization", "Basic YWRtaW46cHc=")], None).await;
    assert_eq!(r.status, 200);
    let r = api.send("GET", "/v1/nodes", &[("authorization", "Digest abc")], None).await;
    assert_eq!(r.status, 400);
    // A changed user file is picked up without a restart.
    std::fs::write(&file, format!("admin:{}\n", bcrypt::hash("pw2", 4).unwrap())).unwrap();
    let f = std::fs::File::options().write(true).open(&file).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10)).unwrap();
    drop(f);
    assert_eq!(api.send("GET", "/v1/nodes", &[("authorization", "Basic YWRtaW46cHc=")], None).await.status, 401);
    assert_eq!(api.send("GET", "/v1/nodes", &[("authorization", "Basic YWRtaW46cHcy")], None).await.status, 200);
    // A config without a readable user file is refused.
    let bad = ApiConfig { auth_strategy: AuthStrategy::HttpBasic, http_basic_auth_user_file: Some(dir.join("missing")), ..Default::default() };
    assert!(ferric_api::router(&bad, Arc::new(support::MemBackend::new())).is_err());
    let insecure = ApiConfig { listen: "0.0.0.0:6385".parse().unwrap(), ..Default::default() };
    assert!(ferric_api::router(&insecure, Arc::new(support::MemBackend::new())).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn ferric_endpoints() {
    let api = Api::new();
    let r = api.get("/healthz", "").await;
    assert_eq!((r.status, r.text()), (200, "ok".to_string()));
    assert!(api.get("/metrics", "").await.text().contains("ferric_mem_calls_total"));
    let s = api.get("/cluster/status", "").await.json();
    assert_eq!(s["leader"], support::MEMBER);
    let r = api.post("/cluster/members", "", json!({"name": "m2", "peer": "127.0.0.1:7000", "api": "127.0.0.1:7001"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["members"].as_array().unwrap().len(), 2);
    assert_eq!(api.post("/cluster/members", "", json!({"name": "m3", "peer": "x", "api": "y", "z": 1})).await.status, 400);
    assert_eq!(api.delete("/cluster/members/m2", "").await.status, 200);
    assert_eq!(api.delete("/cluster/members/m2", "").await.status, 404);
    let off = Api::with(ApiConfig { enable_cluster_endpoints: false, ..Default::default() });
    assert_eq!(off.get("/cluster/status", "").await.status, 404);
}

#[tokio::test]
async fn reads_take_the_read_barrier() {
    let api = Api::new();
    api.node("lin").await;
    let before = api.backend.barriers.load(Ordering::SeqCst);
    api.get("/v1/nodes/lin", "latest").await;
    api.get("/v1/nodes", "latest").await;
    assert!(api.backend.barriers.load(Ordering::SeqCst) >= before + 2);
}

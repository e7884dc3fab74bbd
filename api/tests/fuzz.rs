//! Property test over request methods, paths, query strings, headers and bodies: whatever a
//! client sends, the API never answers 5xx, never panics, always answers with a request id and
//! (for errors) Ironic's error body, and a refused request changes nothing.

mod support;
#[path = "support/client.rs"]
mod client;

use client::Api;
use ferric_api::ApiConfig;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

const NODE_UUID: &str = "11111111-2222-3333-4444-555555555555";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

/// A fresh API with one of everything, so that paths reach real records.
async fn seeded() -> (Api, String, String, String) {
    let api = Api::with(ApiConfig { max_body_bytes: 4096, ..Default::default() });
    let r = api.post("/v1/nodes", "latest", json!({"driver": "fake-hardware", "name": "n1", "uuid": NODE_UUID})).await;
    assert_eq!(r.status, 201);
    let c = api.post("/v1/chassis", "latest", json!({"description": "c"})).await.json()["uuid"].as_str().unwrap().to_string();
    let g = api.post("/v1/portgroups", "latest", json!({"node_uuid": NODE_UUID, "name": "g1"})).await.json()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let p = api.post("/v1/ports", "latest", json!({"node_uuid": NODE_UUID, "address": "52:54:00:00:00:01"})).await.json()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    (api, p, g, c)
}

/// Path templates with the methods they take.
const TEMPLATES: &[(&str, &str)] = &[
    ("/", "GET"),
    ("/v1", "GET"),
    ("/v1/nodes", "GET POST"),
    ("/v1/nodes/detail", "GET"),
    ("/v1/nodes/{n}", "GET PATCH DELETE"),
    ("/v1/nodes/{n}", "PATCH"),
    ("/v1/nodes/{n}/states", "GET"),
    ("/v1/nodes/{n}/states/power", "PUT"),
    ("/v1/nodes/{n}/states/provision", "PUT"),
    ("/v1/nodes/{n}/states/raid", "PUT"),
    ("/v1/nodes/{n}/states/console", "GET PUT"),
    ("/v1/nodes/{n}/states/boot_mode", "PUT"),
    ("/v1/nodes/{n}/states/secure_boot", "PUT"),
    ("/v1/nodes/{n}/management/boot_device", "GET PUT"),
    ("/v1/nodes/{n}/management/boot_device/supported", "GET"),
    ("/v1/nodes/{n}/management/inject_nmi", "PUT"),
    ("/v1/nodes/{n}/traits", "GET PUT DELETE"),
    ("/v1/nodes/{n}/traits/{x}", "PUT DELETE"),
    ("/v1/nodes/{n}/vifs", "GET POST"),
    ("/v1/nodes/{n}/vifs/{x}", "DELETE"),
    ("/v1/nodes/{n}/vendor_passthru", "GET POST PUT"),
    ("/v1/nodes/{n}/vendor_passthru/methods", "GET"),
    ("/v1/nodes/{n}/validate", "GET"),
    ("/v1/nodes/validate", "GET"),
    ("/v1/nodes/{n}/maintenance", "PUT DELETE"),
    ("/v1/nodes/{n}/ports", "GET"),
    ("/v1/nodes/{n}/portgroups/detail", "GET"),
    ("/v1/ports", "GET POST"),
    ("/v1/ports/detail", "GET"),
    ("/v1/ports/{p}", "GET PATCH DELETE"),
    ("/v1/portgroups", "GET POST"),
    ("/v1/portgroups/{g}", "GET PATCH DELETE"),
    ("/v1/portgroups/{g}/ports", "GET"),
    ("/v1/chassis", "GET POST"),
    ("/v1/chassis/{c}", "GET PATCH DELETE"),
    ("/v1/chassis/{c}/nodes", "GET"),
    ("/v1/drivers", "GET"),
    ("/v1/drivers/{x}", "GET"),
    ("/v1/drivers/fake-hardware/properties", "GET"),
    ("/v1/drivers/fake-hardware/raid/logical_disk_properties", "GET"),
    ("/v1/drivers/{x}/vendor_passthru", "GET POST"),
    ("/v1/conductors", "GET"),
    ("/v1/conductors/{x}", "GET"),
    ("/v1/lookup", "GET"),
    ("/v1/heartbeat/{n}", "POST"),
    ("/cluster/status", "GET"),
    ("/cluster/members", "POST"),
    ("/cluster/members/{x}", "DELETE"),
    ("/healthz", "GET"),
    ("/metrics", "GET"),
    ("/{x}", "GET"),
    ("/v1/{x}/{x}", "GET"),
    ("/nodes/{n}/", "GET PATCH"),
];

const FIELDS: &[&str] = &[
    "driver", "name", "uuid", "extra", "properties", "driver_info", "instance_info", "instance_uuid", "maintenance",
    "chassis_uuid", "resource_class", "owner", "description", "provision_state", "traits", "protected", "retired",
    "conductor_group", "power_interface", "network_data", "address", "node_uuid", "portgroup_uuid", "pxe_enabled",
    "local_link_connection", "target", "timeout", "configdrive", "clean_steps", "rescue_password", "enabled",
    "boot_device", "persistent", "id", "traits", "mode", "callback_url", "agent_token", "logical_disks", "reason",
];

const QUERY_KEYS: &[&str] = &[
    "fields", "limit", "marker", "sort_key", "sort_dir", "detail", "maintenance", "provision_state", "driver", "node",
    "address", "method", "reason", "reset_interfaces", "type", "associated", "shard", "addresses", "node_uuid", "x",
];

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("n1".to_string()),
        Just(NODE_UUID.to_string()),
        Just("00000000-0000-0000-0000-000000000000".to_string()),
        Just("detail".to_string()),
        Just("CUSTOM_X".to_string()),
        Just("fake-hardware".to_string()),
        Just(support::MEMBER.to_string()),
        "[a-zA-Z0-9._~-]{0,12}",
        "%[0-9a-fA-F]{2}[a-z%]{0,4}",
        any::<String>().prop_map(|s| s.chars().take(8).map(|c| format!("%{:02X}", (c as u32) & 0xff)).collect()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[ -~]{0,16}".prop_map(Value::String),
        prop::sample::select(FIELDS).prop_map(|s| Value::String(s.to_string())),
        prop::sample::select(&["manage", "provide", "active", "deleted", "clean", "rescue", "abort", "power on", "soft rebooting", "pxe", "uefi", "52:54:00:00:00:02", NODE_UUID][..])
            .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS).prop_map(str::to_string).boxed().prop_union("[a-z_]{1,8}".boxed()), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn patch_body() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(&["add", "replace", "remove", "test", "move", "copy", "bogus"][..]);
    let path = prop::collection::vec(
        prop_oneof![prop::sample::select(FIELDS).prop_map(str::to_string), "[a-z0-9_~-]{0,6}".boxed()],
        0..4,
    )
    .prop_map(|segs| format!("/{}", segs.join("/")));
    prop::collection::vec((op, path, prop::option::of(json_value())), 0..4).prop_map(|ops| {
        Value::Array(
            ops.into_iter()
                .map(|(op, path, value)| {
                    let mut m = serde_json::Map::new();
                    m.insert("op".into(), json!(op));
                    m.insert("path".into(), json!(path));
                    if let Some(v) = value {
                        m.insert("value".into(), v);
                    }
                    Value::Object(m)
                })
                .collect(),
        )
    })
}

fn object_body() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..6)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        1 => Just(None),
        2 => json_value().prop_map(|v| Some(serde_json::to_vec(&v).unwrap())),
        4 => object_body().prop_map(|v| Some(serde_json::to_vec(&v).unwrap())),
        4 => patch_body().prop_map(|v| Some(serde_json::to_vec(&v).unwrap())),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Some),
        1 => Just(Some(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]".to_vec())),
        1 => Just(Some(vec![b' '; 5000])),
        1 => Just(Some(br#"{"driver": "fake-hardware", "n": 1e400}"#.to_vec())),
    ]
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    template: String,
    segs: Vec<String>,
    query: Vec<(String, String)>,
    version: Option<String>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

fn request() -> impl Strategy<Value = Req> {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    (
        (0..TEMPLATES.len(), 0usize..10, 0usize..7, 0usize..3),
        prop::collection::vec(segment(), 2),
        prop::collection::vec((prop::sample::select(QUERY_KEYS), segment()), 0..3),
        prop_oneof![
            1 => Just(None),
            6 => Just(Some("latest".to_string())),
            2 => (0u32..130).prop_map(|m| Some(format!("1.{m}"))),
            1 => "[ -~]{0,6}".prop_map(Some),
        ],
        prop_oneof![
            8 => Just(Some("application/json".to_string())),
            1 => Just(None),
            1 => Just(Some("text/plain".to_string())),
            1 => "[ -~]{0,12}".prop_map(Some),
        ],
        body(),
    )
        .prop_map(|((t, bias, any_m, valid_m), segs, q, version, content_type, body)| {
            let (template, methods) = TEMPLATES[t];
            let valid: Vec<&str> = methods.split(' ').collect();
            // Mostly a method the path takes; sometimes any method.
            let method = if bias < 8 { valid[valid_m % valid.len()] } else { METHODS[any_m] };
            Req {
                method: method.to_string(),
                template: template.to_string(),
                segs,
                query: q.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                version,
                content_type,
                body,
            }
        })
}

fn render_path(r: &Req, port: &str, pg: &str, chassis: &str) -> String {
    let mut p = r.template.replace("{p}", port).replace("{g}", pg).replace("{c}", chassis);
    p = p.replacen("{n}", &r.segs[0], 1);
    p = p.replacen("{x}", &r.segs[1], 1);
    p = p.replace("{x}", &r.segs[0]);
    if !r.query.is_empty() {
        let q: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        p.push('?');
        p.push_str(&q.join("&"));
    }
    p
}

async fn check(reqs: Vec<Req>) -> Result<(), TestCaseError> {
    let (api, port, pg, chassis) = seeded().await;
    for r in reqs {
        let path = render_path(&r, &port, &pg, &chassis);
        // Paths that are not valid URIs never reach the server.
        if path.parse::<axum::http::Uri>().is_err() {
            continue;
        }
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(v) = &r.version {
            if axum::http::HeaderValue::from_str(v).is_err() {
                continue;
            }
            headers.push(("x-openstack-ironic-api-version", v));
        }
        if let Some(ct) = &r.content_type {
            if axum::http::HeaderValue::from_str(ct).is_err() {
                continue;
            }
            headers.push(("content-type", ct));
        }
        let before = api.backend.fingerprint();
        let resp = api.send(&r.method, &path, &headers, r.body.clone()).await;
        let shown = format!("{} {path} {:?} -> {} {}", r.method, r.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()), resp.status, resp.text());
        if std::env::var_os("FUZZ_TRACE").is_some() {
            eprintln!("{} {} {}", resp.status, r.method, path);
        }
        prop_assert!(resp.status < 500, "5xx: {}", shown);
        prop_assert!(resp.header("openstack-request-id").is_some(), "no request id: {}", shown);
        if resp.status >= 400 {
            prop_assert_eq!(&before, &api.backend.fingerprint(), "a refused request changed state: {}", shown);
            if r.method != "HEAD" {
                let outer: Value = serde_json::from_slice(&resp.body).map_err(|e| TestCaseError::fail(format!("error body not JSON ({e}): {shown}")))?;
                let inner = outer["error_message"].as_str().ok_or_else(|| TestCaseError::fail(format!("no error_message: {shown}")))?;
                let inner: Value = serde_json::from_str(inner).map_err(|_| TestCaseError::fail(format!("error_message not JSON: {shown}")))?;
                prop_assert!(inner.get("faultstring").is_some() || inner.get("description").is_some(), "error shape: {}", shown);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_shrink_iters: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn never_5xx_never_partial(reqs in prop::collection::vec(request(), 1..5)) {
        runtime().block_on(check(reqs))?;
    }
}

/// Inputs that once went wrong or are classic trouble, run every time.
#[test]
fn nasty_inputs() {
    let long = "a".repeat(5000);
    let cases: Vec<(&str, String, Option<&[u8]>)> = vec![
        ("GET", "/v1/nodes?limit=99999999999999999999999".into(), None),
        ("GET", "/v1/nodes?limit=-1".into(), None),
        ("GET", "/v1/nodes?fields=".into(), None),
        ("GET", "/v1/nodes?fields=,,,".into(), None),
        ("GET", "/v1/nodes?sort_key=".into(), None),
        ("GET", format!("/v1/nodes/{long}"), None),
        ("GET", "/v1/nodes/%ff%fe".into(), None),
        ("GET", "/v1/nodes/%00".into(), None),
        ("GET", "/v1/nodes/..".into(), None),
        ("GET", "/v1/nodes/n1?fields=uuid&fields=name".into(), None),
        ("PATCH", "/v1/nodes/n1".into(), Some(br#"[{"op":"add","path":"/extra/a/b/c","value":1}]"#)),
        ("PATCH", "/v1/nodes/n1".into(), Some(br#"[{"op":"add","path":"/extra/-","value":1}]"#)),
        ("PATCH", "/v1/nodes/n1".into(), Some(br#"[{"op":"add","path":"/properties/x","value":{"a":[1,{"b":null}]}},{"op":"remove","path":"/properties/x/a/1/b"}]"#)),
        ("PATCH", "/v1/nodes/n1".into(), Some(br#"[{"op":"replace","path":"/driver_info","value":null}]"#)),
        ("PATCH", "/v1/nodes/n1".into(), Some(br#"[{"op":"replace","path":"/name","value":null}]"#)),
        ("PATCH", "/v1/nodes/n1".into(), Some(br#"[{"op":"remove","path":"/driver"}]"#)),
        ("PATCH", "/v1/nodes/n1".into(), Some(br#"[{"op":"replace","path":"/maintenance","value":[1]}]"#)),
        ("PATCH", "/v1/nodes/n1".into(), Some(br#"[{"op":"test","path":"/driver_info/ipmi_password","value":"x"}]"#)),
        ("POST", "/v1/nodes".into(), Some(br#"{"driver":"fake-hardware","name":"\u0000"}"#)),
        ("POST", "/v1/nodes".into(), Some(br#"{"driver":"fake-hardware","conductor_group":"A B"}"#)),
        ("POST", "/v1/nodes".into(), Some(br#"{"driver":"fake-hardware","parent_node":"n1"}"#)),
        ("POST", "/v1/nodes".into(), Some(br#"{"driver":"fake-hardware","parent_node":"nope"}"#)),
        ("PUT", "/v1/nodes/n1/states/power".into(), Some(br#"{"target":"power on","timeout":1e300}"#)),
        ("PUT", "/v1/nodes/n1/states/power".into(), Some(br#"{"target":"power on","timeout":-5}"#)),
        ("PUT", "/v1/nodes/n1/states/provision".into(), Some(br#"{"target":"manage","configdrive":[1]}"#)),
        ("PUT", "/v1/nodes/n1/traits".into(), Some(br#"{"traits":[1]}"#)),
        ("POST", "/v1/ports".into(), Some(br#"{"address":"52:54:00:00:00:09","node_uuid":"11111111-2222-3333-4444-555555555555","local_link_connection":{"switch_id":"nonsense","port_id":"p"}}"#)),
        ("POST", "/cluster/members".into(), Some(b"[]")),
    ];
    runtime().block_on(async {
        let (api, ..) = seeded().await;
        for (method, path, body) in cases {
            if path.parse::<axum::http::Uri>().is_err() {
                continue;
            }
            let before = api.backend.fingerprint();
            let headers = [("x-openstack-ironic-api-version", "latest"), ("content-type", "application/json")];
            let r = api.send(method, &path, &headers, body.map(|b| b.to_vec())).await;
            assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.text());
            if r.status >= 400 {
                assert_eq!(before, api.backend.fingerprint(), "{method} {path}");
                assert!(r.json().get("error_message").is_some(), "{method} {path}: {}", r.text());
            }
        }
    });
}

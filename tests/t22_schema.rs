//! Rolling upgrades: a member serves peers of its own and the previous schema version and
//! refuses a newer (or too old) peer's conductor call with a clear error; a member that serves no
//! append stream (as before pipelined replication) is replicated to one request at a time.

mod support;
use ferric::conductor::Envelope;
use ferric_model::rpc::ConductorRequest;
use ferric_model::{Error, SCHEMA_VERSION};
use ferric_raft::transport::{Method, PeerClients};
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_peer_is_refused_with_a_clear_error() {
    let root = fast_tempdir();
    let m = Member::start("s", root.path(), TEST_CONFIG, None);
    let api = Api::default();
    let (st, node) = api.create_node(&m.url(), "sch").await;
    assert_eq!(st, 201);
    let uuid = uuid::Uuid::parse_str(node["uuid"].as_str().unwrap()).unwrap();
    let clients = PeerClients::new(Duration::from_secs(2));
    // A member of the same cluster (calls without a cluster id are refused).
    let cid = api.status(&m.url()).await.unwrap()["cluster_id"].as_str().unwrap().to_string();
    clients.set_cluster_id(&cid);
    let call = |schema: u32| {
        let env = serde_json::json!({
            "schema": schema, "from": "future-member", "mode": "Serve", "ring_version": 0,
            "request": serde_json::to_value(ConductorRequest::GetTopicFor { node: uuid }).unwrap(),
        });
        serde_json::to_vec(&env).unwrap()
    };
    // The current schema is served.
    let bytes = clients.call(&m.peer, Method::Conductor, call(SCHEMA_VERSION), Duration::from_secs(5)).await.unwrap();
    let ok: Result<serde_json::Value, Error> = serde_json::from_slice(&bytes).unwrap();
    assert!(ok.is_ok(), "{ok:?}");
    // A newer one is refused, saying what to do.
    let bytes = clients.call(&m.peer, Method::Conductor, call(SCHEMA_VERSION + 1), Duration::from_secs(5)).await.unwrap();
    let refused: Result<serde_json::Value, Error> = serde_json::from_slice(&bytes).unwrap();
    match refused {
        Err(e @ Error::SchemaMismatch { .. }) => {
            assert_eq!(e.http_status(), 503);
            assert!(e.to_string().contains("rolling upgrade"), "{e}");
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
    let _: Option<Envelope> = None;
}

/// A member of another cluster (e.g. a stale member reusing an address) is refused on every
/// Raft and conductor RPC instead of being obeyed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_another_cluster_are_refused() {
    let root = fast_tempdir();
    let m = Member::start("solo", root.path(), TEST_CONFIG, None);
    let stranger = PeerClients::new(Duration::from_secs(2));
    stranger.set_cluster_id("00000000-0000-0000-0000-00000000dead");
    for method in [Method::Vote, Method::AppendEntries, Method::Conductor, Method::ForwardWrite] {
        let r = stranger.call(&m.peer, method, b"{}".to_vec(), Duration::from_secs(5)).await;
        match r {
            Err(ferric_raft::transport::TransportError::Failed { message, .. }) => {
                assert!(message.contains("belongs to cluster"), "{method:?}: {message}")
            }
            other => panic!("{method:?}: a foreign cluster was not refused: {other:?}"),
        }
    }
    // A caller naming no cluster is refused too.
    let anonymous = PeerClients::new(Duration::from_secs(2));
    let r = anonymous.call(&m.peer, Method::Vote, b"{}".to_vec(), Duration::from_secs(5)).await;
    assert!(matches!(r, Err(ferric_raft::transport::TransportError::Failed { .. })), "{r:?}");
    // The member is unharmed: still its own leader.
    let s = Api::default().status(&m.url()).await.unwrap();
    assert_eq!(s["leader"], "solo");
}

/// A follower that serves no append stream (as a member of the version before pipelined
/// replication) still receives every entry: the leader falls back to one request at a time. The
/// same member, once it leads, replicates one request at a time to the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_append_streams_is_replicated_to() {
    let root = fast_tempdir();
    let api = Api::default();
    let old = format!("{TEST_CONFIG}append_stream = false\n");
    let mut a = Member::start("a", root.path(), TEST_CONFIG, None);
    let b = Member::start("b", root.path(), TEST_CONFIG, Some(&a.peer));
    let c = Member::start("c", root.path(), &old, Some(&a.peer));
    wait_for_members(&api, &a.url(), &["a", "b", "c"]).await;
    let mut uuids = Vec::new();
    for i in 0..40 {
        let (st, n) = api.create_node(&a.url(), &format!("old-{i}")).await;
        assert_eq!(st, 201, "{n}");
        uuids.push(n["uuid"].as_str().unwrap().to_string());
    }
    // c applied everything: a linearizable read on c waits for c to reach the leader's index.
    for u in &uuids {
        let (st, n) = api.get(&format!("{}/v1/nodes/{u}", c.url())).await;
        assert_eq!(st, 200, "{u} on c: {n}");
    }
    // The leader did try a stream first and fell back.
    assert!(a.log_text().contains("has no append stream"), "no fallback logged:\n{}", tail(&a.log_text(), 30));
    // b and c alone: whichever leads replicates to the other (c only one request at a time).
    a.kill9();
    let leader = wait_for_new_leader(&api, &b.url(), "a").await;
    for i in 0..20 {
        let (st, n) = api.create_node(&b.url(), &format!("old-after-{i}")).await;
        assert_eq!(st, 201, "write {i} with {leader} leading: {n}");
        let u = n["uuid"].as_str().unwrap();
        for m in [&b, &c] {
            let (st, got) = api.get(&format!("{}/v1/nodes/{u}", m.url())).await;
            assert_eq!(st, 200, "{u} on {}: {got}", m.name);
        }
    }
}

async fn provision(api: &Api, base: &str, uuid: &str, body: serde_json::Value, want: &str) {
    let (st, v) = api.put(&format!("{base}/v1/nodes/{uuid}/states/provision"), body).await;
    assert_eq!(st, 202, "{v}");
    eventually(&format!("{uuid} reaches {want}"), Duration::from_secs(30), || async {
        let (st, v) = api.get(&format!("{base}/v1/nodes/{uuid}")).await;
        (st == 200 && v["provision_state"] == want && v["target_provision_state"].is_null() && v["reservation"].is_null())
            .then_some(())
    })
    .await
}

/// A deploy's config drive is stored apart from the node record once every registered conductor
/// speaks schema 2; while one still speaks 1 (mid-upgrade), it stays inline in `instance_info`
/// as before, so an older member reads every record it is sent. Either way the API masks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_drive_is_stored_apart_only_once_every_member_speaks_schema_2() {
    use ferric_model::{Command, ConductorRecord, Timestamp};
    let root = fast_tempdir();
    let mut m = Member::start("s", root.path(), TEST_CONFIG, None);
    let api = Api::default();
    let base = m.url();
    let drive = "H4sIAAAAAAAAA".repeat(200_000);
    let mut nodes = Vec::new();
    for name in ["apart", "inline"] {
        let (st, n) = api.create_node(&base, name).await;
        assert_eq!(st, 201, "{n}");
        let u = n["uuid"].as_str().unwrap().to_string();
        provision(&api, &base, &u, serde_json::json!({"target": "manage"}), "manageable").await;
        provision(&api, &base, &u, serde_json::json!({"target": "provide"}), "available").await;
        nodes.push(u);
    }
    let deploy = serde_json::json!({"target": "active", "configdrive": drive});
    provision(&api, &base, &nodes[0], deploy.clone(), "active").await;

    // A conductor of schema 1 registers (an older member, mid-upgrade): the cluster's active
    // schema drops to 1.
    let cid = api.status(&base).await.unwrap()["cluster_id"].as_str().unwrap().to_string();
    let clients = PeerClients::new(Duration::from_secs(2));
    clients.set_cluster_id(&cid);
    let record = ConductorRecord {
        hostname: "older-member".into(),
        conductor_group: String::new(),
        hardware_types: vec![],
        online: true,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        heartbeat_seq: 0,
        schema: 1,
        peer_addr: "127.0.0.1:9".into(),
        api_addr: "127.0.0.1:9".into(),
    };
    let now = Timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64);
    let fw = serde_json::json!({"schema": 1, "command": Command::RegisterConductor { record, now }});
    clients.call(&m.peer, Method::ForwardWrite, serde_json::to_vec(&fw).unwrap(), Duration::from_secs(5)).await.unwrap();
    eventually("the older conductor is listed", Duration::from_secs(10), || async {
        let (_, v) = api.get(&format!("{base}/v1/conductors")).await;
        v["conductors"].as_array()?.iter().any(|c| c["hostname"] == "older-member").then_some(())
    })
    .await;
    provision(&api, &base, &nodes[1], deploy, "active").await;
    for u in &nodes {
        let (_, v) = api.get(&format!("{base}/v1/nodes/{u}")).await;
        assert_eq!(v["instance_info"]["configdrive"], "******", "{u}");
    }

    // On disk: the first node's record holds a marker and the drive is its own record; the
    // second node's record holds the drive itself.
    m.terminate();
    let store = ferric_storage::Store::open(&m.dir, "s", ferric_storage::StoreOptions::default()).unwrap();
    let (a, b) = (uuid::Uuid::parse_str(&nodes[0]).unwrap(), uuid::Uuid::parse_str(&nodes[1]).unwrap());
    store.read_state(|st| {
        assert!(st.nodes[&a].configdrive_stored_apart(), "the first drive is inline in the record");
        assert!(!st.nodes[&b].configdrive_stored_apart());
        assert_eq!(st.nodes[&b].instance_info["configdrive"].as_str(), Some(drive.as_str()));
    });
    assert_eq!(store.configdrive(a).unwrap().unwrap().as_str(), Some(drive.as_str()));
    assert_eq!(store.configdrive(b).unwrap(), None);
}

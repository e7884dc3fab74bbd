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

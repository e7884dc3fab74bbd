//! The store against real RocksDB: persistence across reopen, atomic apply with indexes,
//! snapshots, and refusal of damaged or foreign data directories.

use ferric_model::{Command, ConductorRecord, Member, Node, Port, Response, Timestamp};
use ferric_storage::{SmEntry, SmPayload, StorageError, Store, StoreOptions};
use std::collections::BTreeMap;
use uuid::Uuid;

fn t(s: i64) -> Timestamp {
    Timestamp(s * 1_000_000)
}

fn cmd(index: u64, c: Command) -> SmEntry {
    SmEntry { index, log_id_json: format!("{{\"index\":{index}}}"), payload: SmPayload::Command(std::sync::Arc::new(c)) }
}

fn conductor() -> ConductorRecord {
    ConductorRecord {
        hostname: "m1".into(),
        conductor_group: String::new(),
        hardware_types: vec![],
        online: true,
        created_at: t(0),
        updated_at: t(0),
        heartbeat_seq: 0,
        schema: 1,
        peer_addr: "127.0.0.1:1".into(),
        api_addr: "127.0.0.1:2".into(),
    }
}

fn node(name: &str) -> Node {
    let mut n = Node::new(Uuid::new_v4(), "fake-hardware", t(1));
    n.name = Some(name.into());
    n
}

#[test]
fn applies_persist_across_reopen_with_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let n1 = node("alpha");
    {
        let s = Store::open(dir.path(), "m1", StoreOptions::default()).unwrap();
        let out = s
            .apply_entries(vec![
                cmd(1, Command::RegisterConductor { record: conductor(), now: t(1) }),
                cmd(2, Command::CreateNode { node: Box::new(n1.clone()), now: t(2) }),
                cmd(
                    3,
                    Command::CreatePort {
                        port: Box::new(Port::new(Uuid::new_v4(), "52:54:00:00:00:01".into(), n1.uuid, t(3))),
                        lock: None,
                        now: t(3),
                    },
                ),
                // A refusal is a value, and changes nothing.
                cmd(4, Command::CreateNode { node: Box::new(node("alpha")), now: t(4) }),
                SmEntry {
                    index: 5,
                    log_id_json: "{\"index\":5}".into(),
                    payload: SmPayload::Membership {
                        members: BTreeMap::from([(
                            "m1".to_string(),
                            Member { id: 1, name: "m1".into(), peer_addr: "p".into(), api_addr: "a".into(), voter: true },
                        )]),
                        stored_membership_json: "{\"m\":1}".into(),
                    },
                },
            ])
            .unwrap();
        assert!(matches!(out[1], Some(Response::Ok(_))));
        assert!(matches!(out[3], Some(Response::Refused(ferric_model::Error::DuplicateName { .. }))));
        assert!(out[4].is_none());
    }
    let s = Store::open(dir.path(), "m1", StoreOptions::default()).unwrap();
    s.read_state(|st| {
        assert_eq!(st.nodes.len(), 1);
        assert_eq!(st.find_node("alpha").unwrap().uuid, n1.uuid);
        assert_eq!(st.port_by_mac.len(), 1);
        assert_eq!(st.meta.members.len(), 1);
        assert_eq!(st.meta.ring_version, 5);
    });
    let (la, lm) = s.applied_meta().unwrap();
    assert_eq!(la.as_deref(), Some("{\"index\":5}"));
    assert_eq!(lm.as_deref(), Some("{\"m\":1}"));
    let counts = s.record_counts().unwrap();
    assert_eq!(counts["idx_node_name"], 1);
    assert_eq!(counts["idx_port_mac"], 1);
}

#[test]
fn log_append_sync_read_truncate_purge() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), "m1", StoreOptions::default()).unwrap();
    let entries: Vec<(u64, Vec<u8>)> = (1..=10).map(|i| (i, format!("e{i}").into_bytes())).collect();
    s.append_log(&entries).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    s.sync(Box::new(move |r| tx.send(r.is_ok()).unwrap()));
    assert!(rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap());
    assert_eq!(s.read_log(3, 6).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 4, 5]);
    s.truncate_log_from(8).unwrap();
    assert_eq!(s.last_log().unwrap().unwrap().0, 7);
    s.purge_log_upto(4, b"{\"purged\":4}").unwrap();
    assert_eq!(s.log_bounds().unwrap(), Some((5, 7)));
    assert_eq!(s.get_raft_meta("last_purged").unwrap().unwrap(), b"{\"purged\":4}");
}

#[test]
fn snapshot_round_trip_replaces_state_atomically() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let src = Store::open(a.path(), "m1", StoreOptions::default()).unwrap();
    let mut entries = vec![cmd(1, Command::RegisterConductor { record: conductor(), now: t(1) })];
    for i in 0..200u64 {
        entries.push(cmd(2 + i, Command::CreateNode { node: Box::new(node(&format!("n{i}"))), now: t(2) }));
    }
    src.apply_entries(entries).unwrap();
    let file = a.path().join("snap.bin");
    let header = src.build_snapshot(&file).unwrap();
    assert_eq!(header.last_applied.as_deref(), Some("{\"index\":201}"));

    // The target has different state that must disappear.
    let dst = Store::open(b.path(), "m2", StoreOptions::default()).unwrap();
    dst.apply_entries(vec![cmd(1, Command::CreateNode { node: Box::new(node("stale")), now: t(1) })]).unwrap();
    dst.install_snapshot(&file).unwrap();
    dst.read_state(|st| {
        assert_eq!(st.nodes.len(), 200);
        assert!(st.find_node("stale").is_none());
        assert!(st.find_node("n199").is_some());
    });
    drop(dst);
    // And it is durable, indexes included.
    let dst = Store::open(b.path(), "m2", StoreOptions::default()).unwrap();
    assert_eq!(dst.record_counts().unwrap()["idx_node_name"], 200);
    assert_eq!(dst.applied_meta().unwrap().0.as_deref(), Some("{\"index\":201}"));

    // A damaged snapshot is refused and changes nothing.
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let bad = a.path().join("bad.bin");
    std::fs::write(&bad, bytes).unwrap();
    assert!(matches!(dst.install_snapshot(&bad), Err(StorageError::Corrupt { .. })));
    dst.read_state(|st| assert_eq!(st.nodes.len(), 200));
}

#[test]
fn a_damaged_snapshot_anywhere_in_the_file_is_refused_as_damaged_and_changes_nothing() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let src = Store::open(a.path(), "m1", StoreOptions::default()).unwrap();
    let mut entries = Vec::new();
    for i in 0..20u64 {
        entries.push(cmd(1 + i, Command::CreateNode { node: Box::new(node(&format!("n{i}"))), now: t(2) }));
    }
    src.apply_entries(entries).unwrap();
    let file = a.path().join("snap.bin");
    src.build_snapshot(&file).unwrap();
    let good = std::fs::read(&file).unwrap();

    let dst = Store::open(b.path(), "m2", StoreOptions::default()).unwrap();
    dst.apply_entries(vec![cmd(1, Command::CreateNode { node: Box::new(node("kept")), now: t(1) })]).unwrap();
    let bad = a.path().join("bad.bin");
    let n = good.len();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    // Cut short at the start, inside the header, inside a record, in the trailer.
    for cut in [0, 5, 14, n / 3, n / 2, n - 12, n - 5, n - 1] {
        cases.push((format!("cut at {cut}"), good[..cut].to_vec()));
    }
    // Where the fields are: magic (8), header length (4), header JSON, then records (id byte,
    // key length, key, value length, value).
    let header_len = u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize;
    let version_digit = 12 + good[12..].windows(17).position(|w| w == b"\"format_version\":").unwrap() + 17;
    assert_eq!(good[version_digit], b'1');
    let first_record = 12 + header_len;
    let first_value_len = first_record + 5 + u32::from_le_bytes(good[first_record + 1..first_record + 5].try_into().unwrap()) as usize;
    // One byte flipped anywhere: magic, the header's length, its version (damage must not pass
    // for a newer format), a record's family, a key's and a value's length, inside values, the
    // end marker, the checksum.
    let mut v = good.clone();
    v[version_digit] = b'9';
    cases.push(("the header's version made 9".into(), v));
    let mut places = vec![0, 9, version_digit, first_record, first_record + 2, first_value_len + 1];
    places.extend([n / 3, n / 2, 2 * n / 3, n - 12, n - 9, n - 1]);
    for at in places {
        let mut v = good.clone();
        v[at] ^= 0x5a;
        cases.push((format!("byte {at} flipped"), v));
    }
    let mut v = good.clone();
    v.push(0);
    cases.push(("a byte appended".into(), v));
    for (what, bytes) in cases {
        std::fs::write(&bad, &bytes).unwrap();
        match dst.install_snapshot(&bad) {
            Err(StorageError::Corrupt { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
        dst.read_state(|st| {
            assert_eq!(st.nodes.len(), 1, "{what}");
            assert!(st.find_node("kept").is_some(), "{what}");
        });
        assert_eq!(dst.record_counts().unwrap()["idx_node_name"], 1, "{what}");
        assert_eq!(dst.applied_meta().unwrap().0.as_deref(), Some("{\"index\":1}"), "{what}");
    }
    // Nothing reached the disk either.
    drop(dst);
    let dst = Store::open(b.path(), "m2", StoreOptions::default()).unwrap();
    dst.read_state(|st| assert!(st.nodes.len() == 1 && st.find_node("kept").is_some()));
    // A sound file of a newer format is refused as such.
    let mut newer = good.clone();
    newer[version_digit] = b'9';
    let crc = crc32fast::hash(&newer[..n - 12]);
    newer[n - 4..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&bad, &newer).unwrap();
    assert!(matches!(dst.install_snapshot(&bad), Err(StorageError::NewerFormat { found: 9, .. })));
    dst.read_state(|st| assert_eq!(st.nodes.len(), 1));
    // The intact file still installs.
    std::fs::write(&bad, &good).unwrap();
    dst.install_snapshot(&bad).unwrap();
    dst.read_state(|st| assert_eq!(st.nodes.len(), 20));
    assert_eq!(dst.record_counts().unwrap()["idx_node_name"], 20);
}

#[test]
fn refuses_foreign_damaged_and_newer_dirs() {
    // Not empty, no marker.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("precious.txt"), "keep me").unwrap();
    let e = Store::open(d.path(), "m1", StoreOptions::default()).err().unwrap();
    assert!(matches!(e, StorageError::NotADataDir { .. }), "{e}");
    assert!(d.path().join("precious.txt").exists());

    // Another member's data dir.
    let d = tempfile::tempdir().unwrap();
    drop(Store::open(d.path(), "m1", StoreOptions::default()).unwrap());
    let e = Store::open(d.path(), "m2", StoreOptions::default()).err().unwrap();
    assert!(matches!(e, StorageError::WrongMember { .. }), "{e}");

    // Damaged marker.
    std::fs::write(d.path().join("FERRIC"), "{not json").unwrap();
    let e = Store::open(d.path(), "m1", StoreOptions::default()).err().unwrap();
    assert!(matches!(e, StorageError::Corrupt { .. }), "{e}");

    // Newer format.
    std::fs::write(
        d.path().join("FERRIC"),
        r#"{"format_version": 99, "cluster_id": null, "member_name": "m1", "member_id": null}"#,
    )
    .unwrap();
    let e = Store::open(d.path(), "m1", StoreOptions::default()).err().unwrap();
    assert!(matches!(e, StorageError::NewerFormat { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("newer"));

    // Database files damaged.
    let d = tempfile::tempdir().unwrap();
    {
        let s = Store::open(d.path(), "m1", StoreOptions::default()).unwrap();
        s.apply_entries(vec![cmd(1, Command::CreateNode { node: Box::new(node("x")), now: t(1) })]).unwrap();
    }
    let current = d.path().join("db").join("CURRENT");
    std::fs::write(&current, "MANIFEST-999999\n").unwrap();
    let e = Store::open(d.path(), "m1", StoreOptions::default()).err().unwrap();
    assert!(matches!(e, StorageError::Corrupt { .. }), "{e}");
}

#[test]
fn cluster_identity_is_sticky() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path(), "m1", StoreOptions::default()).unwrap();
    s.set_membership_identity("cluster-a", 1).unwrap();
    assert!(matches!(s.set_membership_identity("cluster-b", 1), Err(StorageError::OtherCluster { .. })));
    drop(s);
    let s = Store::open(d.path(), "m1", StoreOptions::default()).unwrap();
    assert_eq!(s.identity().cluster_id.as_deref(), Some("cluster-a"));
}

/// A config drive stored apart from its node record: on disk only (the in-memory node holds a
/// small marker), carried by snapshots, durable across reopen, gone with the node's reference.
#[test]
fn a_config_drive_is_stored_apart_and_travels_in_snapshots() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let src = Store::open(a.path(), "m1", StoreOptions::default()).unwrap();
    let n = node("cd");
    // Larger than the old 64 MiB bound on a snapshot field.
    let text = "H4sI".repeat(17 << 20);
    let drive = ferric_model::ConfigDrive::new(serde_json::Value::String(text.clone()));
    let mut deploying = n.clone();
    deploying.instance_info.insert("image_source".into(), "http://img".into());
    let out = src
        .apply_entries(vec![
            cmd(1, Command::RegisterConductor { record: conductor(), now: t(1) }),
            cmd(2, Command::CreateNode { node: Box::new(n.clone()), now: t(2) }),
            cmd(
                3,
                Command::AcquireLock {
                    uuid: n.uuid,
                    holder: "m1".into(),
                    purpose: "deploy".into(),
                    expected_revision: None,
                    update: Some(Box::new(deploying)),
                    now: t(3),
                    configdrive: Some(drive),
                },
            ),
        ])
        .unwrap();
    assert!(matches!(out[2], Some(Response::Ok(_))), "{:?}", out[2]);
    src.read_state(|st| assert!(st.nodes[&n.uuid].configdrive_stored_apart()));
    assert_eq!(src.configdrive(n.uuid).unwrap().unwrap().as_str().map(str::len), Some(text.len()));
    assert_eq!(src.configdrive_count(), 1);

    let file = a.path().join("snap.bin");
    src.build_snapshot(&file).unwrap();
    let dst = Store::open(b.path(), "m2", StoreOptions::default()).unwrap();
    dst.install_snapshot(&file).unwrap();
    drop(dst);
    let dst = Store::open(b.path(), "m2", StoreOptions::default()).unwrap();
    dst.read_state(|st| assert!(st.nodes[&n.uuid].configdrive_stored_apart()));
    assert_eq!(dst.configdrive(n.uuid).unwrap().unwrap().as_str(), Some(text.as_str()));

    // Deleting the node deletes the drive; a snapshot then replaces it away elsewhere too.
    src.apply_entries(vec![
        cmd(4, Command::ReleaseLock { uuid: n.uuid, lock: ferric_model::LockToken { holder: "m1".into(), generation: 3 }, now: t(4) }),
        cmd(5, Command::DeleteNode { uuid: n.uuid, expected_revision: None, lock: None, now: t(5) }),
    ])
    .unwrap();
    assert_eq!(src.configdrive(n.uuid).unwrap(), None);
    src.build_snapshot(&file).unwrap();
    dst.install_snapshot(&file).unwrap();
    assert_eq!(dst.configdrive(n.uuid).unwrap(), None);
    assert_eq!(dst.configdrive_count(), 0);
}

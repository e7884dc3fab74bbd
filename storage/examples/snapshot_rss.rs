//! Peak memory of a snapshot install, measured in a process of its own:
//!
//!   cargo run -p ferric-storage --example snapshot_rss -- build DIR NODES KIB [extra|drive]
//!   cargo run -p ferric-storage --example snapshot_rss -- install DIR
//!
//! `build` fills a store in DIR/src with NODES nodes carrying KIB KiB each, in `extra` (held in
//! memory by every member, like any field of a node) or as a config drive stored apart (never
//! loaded into memory), and writes DIR/snap.bin; `install` opens a fresh store in DIR/dst, installs the file and prints the
//! process's peak resident memory (VmHWM) before and after, beside the file's size.

use ferric_model::{Command, ConductorRecord, ConfigDrive, Node, Timestamp};
use ferric_storage::{SmEntry, SmPayload, Store, StoreOptions};
use std::path::PathBuf;

fn peak_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: snapshot_rss build DIR NODES KIB [extra|drive] | install DIR";
    let (Some(cmd), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    match cmd.as_str() {
        "build" => {
            let nodes: u64 = args.get(2).and_then(|v| v.parse().ok()).expect(usage);
            let kib: usize = args.get(3).and_then(|v| v.parse().ok()).expect(usage);
            let store = Store::open(&dir.join("src"), "src", StoreOptions::default()).expect("opening src");
            let drive = match args.get(4).map(String::as_str) {
                None | Some("extra") => false,
                Some("drive") => true,
                Some(_) => panic!("{usage}"),
            };
            let filler = "x".repeat(kib * 1024);
            let entry = |index: u64, c: Command| SmEntry {
                index,
                log_id_json: format!("{{\"index\":{index}}}"),
                payload: SmPayload::Command(std::sync::Arc::new(c)),
            };
            let conductor = ConductorRecord {
                hostname: "src".into(),
                conductor_group: String::new(),
                hardware_types: vec![],
                online: true,
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                heartbeat_seq: 0,
                schema: 2,
                peer_addr: "127.0.0.1:1".into(),
                api_addr: "127.0.0.1:2".into(),
            };
            store.apply_entries(vec![entry(1, Command::RegisterConductor { record: conductor, now: Timestamp(0) })]).expect("applying");
            let mut index = 1;
            for i in 0..nodes {
                let mut n = Node::new(uuid::Uuid::new_v4(), "fake-hardware", Timestamp(0));
                n.name = Some(format!("n{i}"));
                let mut batch = Vec::new();
                if drive {
                    index += 1;
                    batch.push(entry(index, Command::CreateNode { node: Box::new(n.clone()), now: Timestamp(0) }));
                    let mut deploying = n.clone();
                    deploying.instance_info.insert("image_source".into(), "http://img".into());
                    index += 1;
                    batch.push(entry(
                        index,
                        Command::AcquireLock {
                            uuid: n.uuid,
                            holder: "src".into(),
                            purpose: "deploy".into(),
                            expected_revision: None,
                            update: Some(Box::new(deploying)),
                            now: Timestamp(0),
                            configdrive: Some(ConfigDrive::new(serde_json::Value::String(filler.clone()))),
                        },
                    ));
                } else {
                    n.extra.insert("filler".into(), serde_json::Value::String(filler.clone()));
                    index += 1;
                    batch.push(entry(index, Command::CreateNode { node: Box::new(n), now: Timestamp(0) }));
                }
                store.apply_entries(batch).expect("applying");
            }
            store.build_snapshot(&dir.join("snap.bin")).expect("building the snapshot");
        }
        "install" => {
            let file = dir.join("snap.bin");
            let size = std::fs::metadata(&file).expect("no snap.bin: run build first").len();
            let store = Store::open(&dir.join("dst"), "dst", StoreOptions::default()).expect("opening dst");
            let before = peak_kib();
            let h = store.install_snapshot(&file).expect("installing");
            println!(
                "snapshot {} MiB, {} records: peak RSS {} MiB before the install, {} MiB after",
                size >> 20,
                h.records,
                before >> 10,
                peak_kib() >> 10
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

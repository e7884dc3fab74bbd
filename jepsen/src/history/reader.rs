//! Reads JSON Lines files back (history, BMC log, cluster events).

use super::setread::compact_set_read;
use super::Op;
use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Every line of a JSON Lines file, read line by line (a soak's files are tens of MB; older
/// histories, with set reads in full, are gigabytes), never held whole as text. A truncated last
/// line (the harness was killed mid-write) is ignored; a bad line elsewhere is an error.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    read_jsonl_with(path, |item| item)
}

/// [`read_jsonl`], passing each item through `f` as it is read.
fn read_jsonl_with<T: DeserializeOwned>(path: &Path, mut f: impl FnMut(T) -> T) -> Result<Vec<T>> {
    let file = std::fs::File::open(path).with_context(|| format!("read {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut out = Vec::new();
    // Bytes, not a `String`: a line torn inside a multi-byte character is then a torn line, not
    // an I/O error.
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).with_context(|| format!("read {}", path.display()))?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(&line) {
            Ok(item) => out.push(f(item)),
            // Only the last line can lack its newline.
            Err(_) if line.last() != Some(&b'\n') => break,
            Err(e) => return Err(e).with_context(|| format!("{}:{}", path.display(), number)),
        }
    }
    Ok(out)
}

/// `history.jsonl`. A set read written as a plain list (histories from before the compact form)
/// is turned into ranges as it is read, so an old run checks in the same memory as a new one.
pub fn read_history(path: &Path) -> Result<Vec<Op>> {
    read_jsonl_with(path, |mut op: Op| {
        if op.f == "read-set" && op.value.is_array() {
            op.value = compact_set_read(std::mem::take(&mut op.value));
        }
        op
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{JsonlWriter, OpKind, Process};

    #[test]
    fn writes_then_reads_and_tolerates_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut w = JsonlWriter::create(&path).unwrap();
        for i in 0..3 {
            w.append(&Op::new(
                i,
                OpKind::Invoke,
                Process::Client(0),
                "read",
                i * 10,
            ))
            .unwrap();
        }
        assert_eq!(w.lines(), 3);
        drop(w);
        assert_eq!(read_history(&path).unwrap().len(), 3);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"index":3,"ty"#);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read_history(&path).unwrap().len(), 3);
        std::fs::write(&path, text.replacen("\"index\":1", "\"index\":\"x\"", 1)).unwrap();
        assert!(read_history(&path).is_err());
        // Torn inside a multi-byte character (fault labels have arrows: `m4→m2`).
        let mut bytes = text.replace(r#"{"index":3,"ty"#, "").into_bytes();
        bytes.extend_from_slice(r#"{"index":3,"f":"m4"#.as_bytes());
        bytes.extend_from_slice(&"→".as_bytes()[..2]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_history(&path).unwrap().len(), 3);
    }

    #[test]
    fn an_old_plain_set_read_is_read_back_as_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let list = serde_json::json!(["jepsen-set-0", "jepsen-set-1", "jepsen-set-3", "x"]);
        let mut w = JsonlWriter::create(&path).unwrap();
        w.append(&Op::new(0, OpKind::Ok, Process::Client(0), "read-set", 5).with_value(list.clone()))
            .unwrap();
        // A list under another function is left as it is.
        w.append(&Op::new(1, OpKind::Ok, Process::Client(0), "read", 6).with_value(list.clone()))
            .unwrap();
        drop(w);
        let back = read_history(&path).unwrap();
        assert_eq!(back[0].value, serde_json::json!({"ranges": "0-1,3", "other": ["x"]}));
        assert_eq!(back[1].value, list);
    }
}

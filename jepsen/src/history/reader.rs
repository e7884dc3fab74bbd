//! Reads JSON Lines files back (history, BMC log, cluster events).

use super::Op;
use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Every line of a JSON Lines file. A truncated last line (the harness was killed mid-write) is
/// ignored; a bad line elsewhere is an error.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(item) => out.push(item),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => return Err(e).with_context(|| format!("{}:{}", path.display(), i + 1)),
        }
    }
    Ok(out)
}

/// `history.jsonl`.
pub fn read_history(path: &Path) -> Result<Vec<Op>> {
    read_jsonl(path)
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
    }
}

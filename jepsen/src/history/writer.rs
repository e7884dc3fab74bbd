//! Append-only JSON Lines file, flushed after every line so a killed harness leaves a readable
//! prefix.

use anyhow::{Context, Result};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct JsonlWriter {
    path: PathBuf,
    out: BufWriter<File>,
    lines: u64,
}

impl JsonlWriter {
    /// Creates (truncates) the file.
    pub fn create(path: &Path) -> Result<JsonlWriter> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("create {}", path.display()))?;
        Ok(JsonlWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            lines: 0,
        })
    }

    pub fn append<T: Serialize>(&mut self, item: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, item).context("encode history line")?;
        self.out.write_all(b"\n")?;
        self.out
            .flush()
            .with_context(|| format!("write {}", self.path.display()))?;
        self.lines += 1;
        Ok(())
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }
}

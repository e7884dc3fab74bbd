//! The per-run report: `summary.txt` (ends with `N passed, N failed`), `results.json`, a
//! self-contained `timeline.html` and `latency.svg`.

mod latency;
mod meta;
mod summary;
mod svg;
mod timeline;

pub use latency::latency_svg;
pub use meta::RunMeta;
pub use summary::{summary_text, Tally};
pub use timeline::timeline_html;

use crate::checker::{CheckResult, RunData, Validity};
use anyhow::{Context, Result};
use serde_json::json;
use std::path::Path;

/// Writes every report file into `dir` and returns the tally.
pub fn write_report(
    dir: &Path,
    meta: &RunMeta,
    run: &RunData,
    results: &[CheckResult],
) -> Result<Tally> {
    let tally = Tally::of(results);
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).with_context(|| format!("write {name}"))
    };
    write("summary.txt", &summary_text(meta, run, results))?;
    let overall = results
        .iter()
        .fold(Validity::Valid, |v, r| v.merge(r.valid));
    let doc = json!({
        "valid": overall,
        "meta": meta,
        "tally": {"passed": tally.passed, "failed": tally.failed, "unknown": tally.unknown},
        "checkers": results,
    });
    write("results.json", &serde_json::to_string_pretty(&doc)?)?;
    write("timeline.html", &timeline_html(meta, run, results))?;
    write("latency.svg", &latency_svg(run))?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::check_all;
    use crate::synthetic::{synthetic_run, Bugs};

    #[test]
    fn renders_every_file_from_a_synthetic_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = synthetic_run(
            1,
            6,
            20,
            Bugs {
                stale_read: true,
                stale_bmc_command: true,
            },
        );
        let results = check_all(&run);
        let meta = RunMeta {
            seed: 3,
            members: 3,
            net: "synthetic".into(),
            ..Default::default()
        };
        let tally = write_report(dir.path(), &meta, &run, &results).unwrap();
        assert!(tally.failed >= 2);
        let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
        assert_eq!(summary.lines().last().unwrap(), tally.line());
        let results_json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("results.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(results_json["valid"], serde_json::json!(false));
        let html = std::fs::read_to_string(dir.path().join("timeline.html")).unwrap();
        assert!(
            !html.contains("<script") && !html.contains("src=\"http"),
            "self-contained"
        );
        assert_eq!(html.matches("class=\"op ").count(), run.pairs.len());
        assert!(
            html.contains("class=\"fault\"")
                && html.contains("class=\"bmc\"")
                && html.contains("class=\"anomaly\"")
        );
        assert!(
            html.contains("stroke=\"#d500f9\""),
            "anomalous ops outlined"
        );
        assert!(
            html.contains("class=\"bmc anomalous\""),
            "the stale BMC command outlined"
        );
        let svg = std::fs::read_to_string(dir.path().join("latency.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<circle"));
    }
}

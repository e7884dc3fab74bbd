//! `timeline.html`: one self-contained page (inline SVG and CSS, no script). Time runs down the
//! page; one column per process with one bar per operation from invocation to completion (green
//! ok, red fail, amber info, an info's bar continuing dashed to the end since it may still take
//! effect); fault windows as labelled full-width bands; BMC requests as ticks, one column per
//! system; operations named by an anomaly outlined, anomalies marked in the time gutter. Every
//! bar and tick has a tooltip with its JSON.

use super::svg::{esc, fault_colour, nice_step};
use super::RunMeta;
use crate::checker::{CheckResult, RunData, Validity};
use crate::history::{fault_windows, OpKind, OpPair, Process};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write;

/// Operations drawn at most (Jepsen's cap).
const MAX_OPS: usize = 10_000;
/// BMC systems drawn at most.
const MAX_SYSTEMS: usize = 24;
const MAX_HEIGHT_PX: f64 = 12_000.0;
const COL_W: f64 = 58.0;
const BMC_COL_W: f64 = 34.0;
const GUTTER: f64 = 70.0;
const TOP: f64 = 40.0;

fn colour(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Ok => "#66bb6a",
        OpKind::Fail => "#ef5350",
        _ => "#ffb300",
    }
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => match o
            .get("target")
            .or_else(|| o.get("provision_state"))
            .or_else(|| o.values().next())
        {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
        other => other.to_string(),
    };
    s.chars().take(14).collect()
}

pub fn timeline_html(meta: &RunMeta, run: &RunData, results: &[CheckResult]) -> String {
    let pairs: Vec<&OpPair> = run.pairs.iter().take(MAX_OPS).collect();
    let end_ns = run.end_time().max(1);
    let end_ms = end_ns as f64 / 1e6;
    let px_per_ms = (MAX_HEIGHT_PX / end_ms).clamp(0.02, 0.25);
    let y = |t: u64| TOP + t as f64 / 1e6 * px_per_ms;
    let processes: BTreeSet<u64> = pairs
        .iter()
        .filter_map(|p| match p.invoke.process {
            Process::Client(n) => Some(n),
            Process::Nemesis => None,
        })
        .collect();
    let col: BTreeMap<u64, usize> = processes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let systems: Vec<String> = run
        .bmc
        .iter()
        .map(|e| e.system.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(MAX_SYSTEMS)
        .collect();
    let bmc_w = if systems.is_empty() {
        0.0
    } else {
        systems.len() as f64 * BMC_COL_W + 12.0
    };
    // BMC columns first (always in view), then one column per process.
    let ops_x0 = GUTTER + bmc_w;
    let width = ops_x0 + processes.len() as f64 * COL_W + 20.0;
    let height = y(end_ns) + 30.0;
    let anomalous: HashSet<u64> = results
        .iter()
        .flat_map(|r| r.anomalies.iter().flat_map(|a| a.ops.iter().copied()))
        .collect();
    let anomalous_bmc: HashSet<u64> = results
        .iter()
        .flat_map(|r| r.anomalies.iter().flat_map(|a| a.bmc.iter().copied()))
        .collect();

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="DejaVu Sans, sans-serif" font-size="10">"#
    );
    // Time gutter and grid.
    let step_s = nice_step(end_ms / 1000.0, (height / 120.0).max(2.0)).max(0.001);
    let mut t_s = 0.0;
    while t_s * 1000.0 <= end_ms {
        let yy = TOP + t_s * 1000.0 * px_per_ms;
        let _ = write!(
            svg,
            r##"<line x1="{GUTTER}" x2="{width:.0}" y1="{yy:.1}" y2="{yy:.1}" stroke="#eee"/><text x="{:.0}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            GUTTER - 6.0,
            yy + 3.0,
            fmt_secs(t_s, step_s)
        );
        t_s += step_s;
    }
    // Fault windows.
    for w in fault_windows(&run.history) {
        let (y0, y1) = (y(w.start), y(w.end.unwrap_or(end_ns)));
        let c = fault_colour(&w.fault);
        let _ = write!(
            svg,
            r#"<rect class="fault" x="{GUTTER}" y="{y0:.1}" width="{:.0}" height="{:.1}" fill="{c}" fill-opacity="0.13" stroke="{c}" stroke-opacity="0.5"><title>{}</title></rect>"#,
            width - GUTTER,
            (y1 - y0).max(2.0),
            esc(&format!(
                "{} {:.3}s–{}",
                w.label,
                w.start as f64 / 1e9,
                w.end
                    .map_or("end".into(), |e| format!("{:.3}s", e as f64 / 1e9))
            ))
        );
        let _ = write!(
            svg,
            r#"<text id="w{}" x="{:.0}" y="{:.1}" fill="{c}" font-weight="bold">{}</text>"#,
            w.id,
            GUTTER + 4.0,
            y0 + 11.0,
            esc(&w.label)
        );
    }
    // Column headers.
    for (p, i) in &col {
        let x = ops_x0 + *i as f64 * COL_W;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.0}" text-anchor="middle" font-weight="bold">p{p}</text><line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{height:.0}" stroke="#f3f3f3"/>"##,
            x + COL_W / 2.0,
            TOP - 8.0
        );
    }
    let bmc_x0 = GUTTER + 4.0;
    for (i, s) in systems.iter().enumerate() {
        let x = bmc_x0 + i as f64 * BMC_COL_W;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.0}" text-anchor="middle" fill="#444">{}</text><line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{height:.0}" stroke="#e0e0e0"/>"##,
            x + BMC_COL_W / 2.0,
            TOP - 8.0,
            esc(&s.chars().take(6).collect::<String>())
        );
    }
    if !systems.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="{bmc_x0:.0}" y="{:.0}" fill="#444" font-weight="bold">BMC</text>"##,
            TOP - 24.0
        );
    }
    // Operation bars.
    for p in &pairs {
        let Process::Client(n) = p.invoke.process else {
            continue;
        };
        let x = ops_x0 + col[&n] as f64 * COL_W + 3.0;
        let kind = p.kind();
        let (y0, y1) = (y(p.start()), y(p.end_or(end_ns)));
        let h = (y1 - y0).max(2.0);
        let outline = if anomalous.contains(&p.invoke.index) {
            r##" stroke="#d500f9" stroke-width="3""##
        } else {
            ""
        };
        let tip = esc(&format!(
            "{}\n{}",
            serde_json::to_string(&p.invoke).unwrap_or_default(),
            p.completion
                .as_ref()
                .map(|c| serde_json::to_string(c).unwrap_or_default())
                .unwrap_or_else(|| "(no completion)".into())
        ));
        let _ = write!(
            svg,
            r#"<rect class="op {}" x="{x:.1}" y="{y0:.1}" width="{:.0}" height="{h:.1}" rx="2" fill="{}"{outline}><title>{tip}</title></rect>"#,
            kind.as_str(),
            COL_W - 6.0,
            colour(kind)
        );
        if kind == OpKind::Info {
            let _ = write!(
                svg,
                r##"<line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ffb300" stroke-dasharray="3,3"/>"##,
                x + (COL_W - 6.0) / 2.0,
                x + (COL_W - 6.0) / 2.0,
                y0 + h,
                y(end_ns)
            );
        }
        if h >= 11.0 {
            let label = format!(
                "{} {}",
                p.f(),
                short(if kind == OpKind::Ok {
                    p.result()
                } else {
                    &p.invoke.value
                })
            );
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" fill="#1b1b1b" font-size="9">{}</text>"##,
                x + 2.0,
                y0 + 9.0,
                esc(&label.chars().take(12).collect::<String>())
            );
        }
    }
    // BMC ticks.
    let sys_col: BTreeMap<&str, usize> = systems
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    for e in &run.bmc {
        let Some(i) = sys_col.get(e.system.as_str()) else {
            continue;
        };
        let x = bmc_x0 + *i as f64 * BMC_COL_W + 4.0;
        let c = if !e.mutating {
            "#9e9e9e"
        } else if e.accepted {
            "#2e7d32"
        } else {
            "#c62828"
        };
        let w = if e.mutating {
            BMC_COL_W - 8.0
        } else {
            (BMC_COL_W - 8.0) / 2.0
        };
        let tip = esc(&serde_json::to_string(e).unwrap_or_default());
        if anomalous_bmc.contains(&e.index) {
            let _ = write!(
                svg,
                r##"<rect class="bmc anomalous" x="{:.1}" y="{:.1}" width="{:.0}" height="8" fill="{c}" stroke="#d500f9" stroke-width="3"><title>{tip}</title></rect>"##,
                x - 2.0,
                y(e.time) - 4.0,
                BMC_COL_W - 4.0
            );
            continue;
        }
        let _ = write!(
            svg,
            r#"<rect class="bmc" x="{x:.1}" y="{:.1}" width="{w:.0}" height="2.5" fill="{c}"><title>{tip}</title></rect>"#,
            y(e.time) - 1.0
        );
    }
    // Anomaly markers in the gutter.
    for r in results {
        for (i, a) in r
            .anomalies
            .iter()
            .enumerate()
            .filter(|(_, a)| a.time.is_some())
        {
            let yy = y(a.time.unwrap_or(0));
            let _ = write!(
                svg,
                r##"<path id="a-{}-{i}" class="anomaly" d="M{:.1},{:.1} l-9,-5 v10 z" fill="#d500f9"><title>{}</title></path>"##,
                esc(&r.checker),
                GUTTER - 1.0,
                yy,
                esc(&format!("[{}] {}: {}", r.checker, a.kind, a.message))
            );
        }
    }
    svg.push_str("</svg>");

    let mut verdicts = String::new();
    for r in results {
        let (cls, txt) = match r.valid {
            Validity::Valid => ("ok", "valid"),
            Validity::Invalid => ("bad", "INVALID"),
            Validity::Unknown => ("unk", "unknown"),
        };
        let first = r.anomalies.first().map(|a| {
            let text = esc(&format!("{}: {}", a.kind, a.message));
            if a.time.is_some() {
                format!(r##"<a href="#a-{}-0">{text}</a>"##, esc(&r.checker))
            } else {
                text
            }
        });
        let more = if r.anomalies.len() > 1 {
            format!(" (+{} more)", r.anomalies.len() - 1)
        } else {
            String::new()
        };
        let _ = write!(
            verdicts,
            r#"<tr><td>{}</td><td class="{cls}">{txt}</td><td>{}{more}</td></tr>"#,
            esc(&r.checker),
            first.unwrap_or_default()
        );
    }
    let capped = if run.pairs.len() > MAX_OPS {
        format!(
            "<p>Showing the first {MAX_OPS} of {} operations.</p>",
            run.pairs.len()
        )
    } else {
        String::new()
    };
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ferric-jepsen timeline — seed {seed}</title>
<style>
body {{ font-family: "DejaVu Sans", sans-serif; margin: 16px; color: #222; }}
h1 {{ font-size: 18px; margin: 0 0 6px 0; }}
.meta {{ color: #555; font-size: 12px; margin-bottom: 8px; }}
table {{ border-collapse: collapse; font-size: 12px; margin-bottom: 10px; }}
td {{ border: 1px solid #ddd; padding: 2px 8px; }}
td.ok {{ background: #c8e6c9; }} td.bad {{ background: #ffcdd2; font-weight: bold; }} td.unk {{ background: #fff3c4; }}
.legend span {{ display: inline-block; margin-right: 14px; font-size: 12px; }}
.sw {{ display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; border-radius: 2px; }}
.wrap {{ border-top: 1px solid #ccc; }}
</style></head><body>
<h1>ferric-jepsen timeline</h1>
<div class="meta">seed {seed} · commit {commit} · {members} members · net {net} · bmc {bmc} · {ops} operations · {secs:.1} s<br>{flags}</div>
<table>{verdicts}</table>
<div class="legend"><span><i class="sw" style="background:#66bb6a"></i>ok</span><span><i class="sw" style="background:#ef5350"></i>fail</span><span><i class="sw" style="background:#ffb300"></i>info (may still take effect)</span><span><i class="sw" style="border:3px solid #d500f9"></i>in an anomaly</span><span><i class="sw" style="background:#2e7d32"></i>BMC command</span><span><i class="sw" style="background:#c62828"></i>BMC refused</span><span><i class="sw" style="background:#9e9e9e"></i>BMC read</span><span><i class="sw" style="background:#ff9800;opacity:.4"></i>fault window</span></div>
{capped}<div class="wrap">{svg}</div>
</body></html>
"#,
        seed = meta.seed,
        commit = esc(&meta.commit),
        members = meta.members,
        net = esc(&meta.net),
        bmc = esc(&meta.bmc_mode),
        ops = run.pairs.len(),
        secs = end_ns as f64 / 1e9,
        flags = esc(&meta.flags),
    )
}

/// `t` seconds with as many decimals as the tick step needs.
fn fmt_secs(t: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    format!("{t:.decimals$} s")
}

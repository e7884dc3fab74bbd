//! `latency.svg`: latency of every operation over time, per operation kind (`f`), on a log
//! scale, fault windows shaded. ok = filled dot, info = hollow dot (the timeout), fail = cross.

use super::svg::{esc, fault_colour, nice_step, palette};
use crate::checker::RunData;
use crate::history::{fault_windows, OpKind};
use std::collections::BTreeMap;
use std::fmt::Write;

const W: f64 = 1100.0;
const H: f64 = 460.0;
const L: f64 = 70.0;
const R: f64 = 170.0;
const T: f64 = 30.0;
const B: f64 = 45.0;

pub fn latency_svg(run: &RunData) -> String {
    let end_s = (run.end_time() as f64 / 1e9).max(1e-3);
    let points: Vec<(f64, f64, OpKind, &str)> = run
        .pairs
        .iter()
        .filter_map(|p| {
            let c = p.completion.as_ref()?;
            Some((
                p.start() as f64 / 1e9,
                (c.time.saturating_sub(p.start()) as f64 / 1e6).max(0.01),
                c.kind,
                p.f(),
            ))
        })
        .collect();
    let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (lo_dec, hi_dec) = if points.is_empty() {
        (-1.0, 3.0)
    } else {
        (
            lo.log10().floor(),
            hi.log10().ceil().max(lo.log10().floor() + 1.0),
        )
    };
    let x = |t: f64| L + t / end_s * (W - L - R);
    let y = |ms: f64| T + (hi_dec - ms.log10()) / (hi_dec - lo_dec) * (H - T - B);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="DejaVu Sans, sans-serif" font-size="11"><rect width="{W}" height="{H}" fill="white"/>"#
    );
    let _ = write!(
        s,
        r##"<text x="{L}" y="18" font-size="14" font-weight="bold">Latency by operation (log scale)</text>"##
    );
    for w in fault_windows(&run.history) {
        let (x0, x1) = (
            x(w.start as f64 / 1e9),
            x(w.end.map_or(end_s, |e| e as f64 / 1e9)),
        );
        let c = fault_colour(&w.fault);
        let _ = write!(
            s,
            r#"<rect x="{x0:.1}" y="{T}" width="{:.1}" height="{:.1}" fill="{c}" fill-opacity="0.15"><title>{}</title></rect>"#,
            (x1 - x0).max(1.5),
            H - T - B,
            esc(&w.label)
        );
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" fill="{c}" font-size="9" transform="rotate(-90 {:.1} {:.1})">{}</text>"#,
            x0 + 9.0,
            H - B - 4.0,
            x0 + 9.0,
            H - B - 4.0,
            esc(&w.label.chars().take(40).collect::<String>())
        );
    }
    // Axes.
    let mut d = lo_dec;
    while d <= hi_dec {
        let ms = 10f64.powf(d);
        let yy = y(ms);
        let label = if ms >= 1000.0 {
            format!("{} s", ms / 1000.0)
        } else {
            format!("{ms} ms")
        };
        let _ = write!(
            s,
            r##"<line x1="{L}" x2="{:.0}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.0}" y="{:.1}" text-anchor="end">{label}</text>"##,
            W - R,
            L - 6.0,
            yy + 4.0
        );
        d += 1.0;
    }
    let step = nice_step(end_s, 10.0);
    let mut t = 0.0;
    while t <= end_s + 1e-9 {
        let xx = x(t);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{T}" y2="{:.0}" stroke="#eee"/><text x="{xx:.1}" y="{:.0}" text-anchor="middle">{}</text>"##,
            H - B,
            H - B + 16.0,
            trim(t)
        );
        t += step;
    }
    let _ = write!(
        s,
        r##"<rect x="{L}" y="{T}" width="{:.0}" height="{:.0}" fill="none" stroke="#888"/><text x="{:.0}" y="{:.0}" text-anchor="middle">time (s)</text>"##,
        W - L - R,
        H - T - B,
        L + (W - L - R) / 2.0,
        H - 8.0
    );
    // Points.
    let fs: BTreeMap<&str, usize> = points
        .iter()
        .map(|p| p.3)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, f)| (f, i))
        .collect();
    for (t, ms, kind, f) in &points {
        let c = palette(fs[f]);
        let (px, py) = (x(*t), y(*ms));
        match kind {
            OpKind::Ok => {
                let _ = write!(s, r#"<circle cx="{px:.1}" cy="{py:.1}" r="2" fill="{c}"/>"#);
            }
            OpKind::Fail => {
                let _ = write!(
                    s,
                    r#"<path d="M{:.1},{:.1} l5,5 m0,-5 l-5,5" stroke="{c}" stroke-width="1.2"/>"#,
                    px - 2.5,
                    py - 2.5
                );
            }
            _ => {
                let _ = write!(
                    s,
                    r#"<circle cx="{px:.1}" cy="{py:.1}" r="3" fill="none" stroke="{c}"/>"#
                );
            }
        }
    }
    // Legend.
    let lx = W - R + 14.0;
    for (f, i) in &fs {
        let ly = T + 10.0 + *i as f64 * 16.0;
        let _ = write!(
            s,
            r#"<circle cx="{lx}" cy="{ly}" r="4" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            palette(*i),
            lx + 10.0,
            ly + 4.0,
            esc(f)
        );
    }
    let ly = T + 20.0 + fs.len() as f64 * 16.0;
    let _ = write!(
        s,
        r##"<text x="{lx}" y="{ly}" fill="#555">● ok  ○ info  × fail</text>"##
    );
    s.push_str("</svg>\n");
    s
}

fn trim(t: f64) -> String {
    let s = format!("{t:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

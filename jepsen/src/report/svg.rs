//! Small helpers for hand-written SVG: escaping, colours, tick steps.

/// XML text / attribute escaping.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Distinct colours for operation kinds (`f`).
pub fn palette(i: usize) -> &'static str {
    const P: [&str; 10] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    P[i % P.len()]
}

/// Shading colour of a fault class.
pub fn fault_colour(fault: &str) -> &'static str {
    match fault {
        f if f.starts_with("partition") => "#ff9800",
        "kill" => "#e53935",
        "pause" => "#8e24aa",
        "clock" => "#1e88e5",
        "member" => "#00897b",
        "delay" | "loss" => "#6d4c41",
        _ => "#757575",
    }
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `target` ticks over `span`.
pub fn nice_step(span: f64, target: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / target.max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    m * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_steps() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(nice_step(180.0, 10.0), 20.0);
        assert_eq!(nice_step(0.0, 10.0), 1.0);
    }
}

//! The HTML report: one self-contained page a reader manufacturer can hand over — the summary,
//! latency percentiles per profile, and for each case its steps and a waterfall of every frame
//! over simulated time. No scripts, no external files.

use crate::report::{Summary, latency_by_profile, percentile, status_word};
use crate::run::{CaseResult, Status};
use kazasu_sim::reader::{Direction, Fate, FrameWhat};
use std::fmt::Write as _;

/// The profiles the cases ran with: each reader profile with every value, its sureness and
/// note (what a reader manufacturer hands over is judged by these), and the card profiles by
/// name and description.
fn profiles_tested(cases: &[crate::scenario::suite::Case]) -> String {
    let mut readers: Vec<&kazasu_sim::ReaderProfile> = Vec::new();
    let mut cards: Vec<&kazasu_sim::CardProfile> = Vec::new();
    for c in cases {
        if !readers.iter().any(|r| r.name == c.reader.name) {
            readers.push(&c.reader);
        }
        if !cards.iter().any(|k| k.name == c.card.name) {
            cards.push(&c.card);
        }
    }
    if readers.is_empty() {
        return String::new();
    }
    let mut h = String::from("<h2>Profiles tested</h2>");
    for r in &readers {
        let _ = write!(
            h,
            "<h3>reader <code>{}</code></h3><p>{}</p><table><tr><th>value</th><th>is</th><th>sure</th><th>note</th></tr>",
            esc(&r.name),
            esc(&r.description)
        );
        let json = serde_json::to_value(r).unwrap_or_default();
        if let Some(fields) = json.as_object() {
            for (field, v) in fields {
                let Some(sourced) = v.as_object().filter(|o| o.contains_key("sure")) else {
                    continue;
                };
                let value = match &sourced["value"] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(field),
                    esc(&value),
                    esc(sourced["sure"].as_str().unwrap_or("")),
                    esc(sourced.get("note").and_then(|n| n.as_str()).unwrap_or(""))
                );
            }
        }
        h.push_str("</table>");
    }
    h.push_str("<p>cards: ");
    let names: Vec<String> = cards
        .iter()
        .map(|c| {
            format!(
                "<code title=\"{}\">{}</code>",
                esc(&c.description),
                esc(&c.name)
            )
        })
        .collect();
    h.push_str(&names.join(", "));
    h.push_str("</p>");
    h
}

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans JP",sans-serif;margin:2rem;color:#1d2330;max-width:1200px}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0} th,td{padding:.25rem .6rem;border-bottom:1px solid #dde2ea;text-align:left;font-size:.9rem}
th{background:#f2f4f8} td.n{text-align:right;font-variant-numeric:tabular-nums}
.PASS{color:#137333;font-weight:600}.FAIL,.ERROR{color:#b3261e;font-weight:600}.SKIP{color:#777}
.tiles{display:flex;gap:1rem;margin:1rem 0}.tile{border:1px solid #dde2ea;border-radius:8px;padding:.6rem 1rem}
.tile b{display:block;font-size:1.4rem}
details{border:1px solid #dde2ea;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer} pre{background:#f7f8fa;padding:.5rem;overflow:auto;font-size:.8rem}
.fail{background:#fdecea;border-left:4px solid #b3261e;padding:.4rem .8rem;white-space:pre-wrap;font-family:monospace;font-size:.8rem}
svg text{font-family:monospace;font-size:10px}
"#;

/// The page.
pub fn render(
    results: &[CaseResult],
    summary: &Summary,
    seed: u64,
    backend: &str,
    coverage: &[super::coverage::Row],
    cases: &[crate::scenario::suite::Case],
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kazasu conformance report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        h,
        "<h1>kazasu conformance report</h1><p>kazasu {} · backend <code>{}</code> · seed <code>{seed}</code> (rerun with <code>--seed {seed}</code>)</p>",
        env!("CARGO_PKG_VERSION"),
        esc(backend)
    );
    let _ = write!(
        h,
        "<div class=\"tiles\"><div class=\"tile\"><b class=\"PASS\">{}</b>passed</div><div class=\"tile\"><b class=\"FAIL\">{}</b>failed</div>\
         <div class=\"tile\"><b>{}</b>errors</div><div class=\"tile\"><b>{}</b>skipped</div><div class=\"tile\"><b>{}</b>not applicable</div><div class=\"tile\"><b>{}</b>simulated</div><div class=\"tile\"><b>{:.2} s</b>wall</div></div>",
        summary.passed,
        summary.failed,
        summary.error,
        summary.skipped,
        summary.not_applicable,
        kazasu_sim::SimDuration::from_nanos(summary.sim_time_ns),
        summary.wall_time_ns as f64 / 1e9
    );
    h.push_str(&profiles_tested(cases));
    let latency = latency_by_profile(results);
    if !latency.is_empty() {
        h.push_str("<h2>Latency per profile (simulated time of passed cases)</h2><table><tr><th>card</th><th>reader</th><th>cases</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>");
    }
    for (card, reader, v) in &latency {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(card),
            esc(reader),
            v.len(),
            ms(percentile(v, 50.0)),
            ms(percentile(v, 90.0)),
            ms(percentile(v, 99.0)),
            ms(*v.last().unwrap_or(&0))
        );
    }
    if !latency.is_empty() {
        h.push_str("</table>");
    }
    if !coverage.is_empty() {
        h.push_str("<h2>Coverage</h2><table><tr><th>kind</th><th>family</th><th>cases</th><th>result</th></tr>");
        for r in coverage {
            let result = r.result();
            let class = match result.as_str() {
                "passed" => "PASS",
                _ => "FAIL",
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}: {}</td><td class=n>{}</td><td class=\"{class}\">{}</td></tr>",
                esc(&r.kind),
                esc(&r.group),
                esc(&r.name),
                r.cases.len(),
                esc(&result)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Cases</h2><table><tr><th>status</th><th>case</th><th>card</th><th>reader</th><th>simulated</th></tr>");
    for (i, r) in results.iter().enumerate() {
        let st = status_word(r.status);
        let class = st.replace('/', "");
        let _ = write!(
            h,
            "<tr><td class=\"{class}\">{st}</td><td><a href=\"#case-{i}\">{}</a></td><td>{}</td><td>{}</td><td class=n>{}</td></tr>",
            esc(&r.name),
            esc(&r.card),
            esc(&r.reader),
            ms(r.sim_time_ns)
        );
    }
    h.push_str("</table><h2>Timelines</h2>");
    for (i, r) in results.iter().enumerate() {
        case_section(&mut h, i, r);
    }
    h.push_str("</body></html>\n");
    h
}

fn case_section(h: &mut String, i: usize, r: &CaseResult) {
    let st = status_word(r.status);
    let open = if matches!(r.status, Status::Failed | Status::Error) {
        " open"
    } else {
        ""
    };
    let _ = write!(
        h,
        "<details id=\"case-{i}\"{open}><summary><span class=\"{}\">{st}</span> {} — {} on {}, {} simulated</summary>",
        st.replace('/', ""),
        esc(&r.name),
        esc(&r.card),
        esc(&r.reader),
        ms(r.sim_time_ns)
    );
    if let Some(note) = &r.note {
        let _ = write!(h, "<p class=\"note\">not applicable: {}</p>", esc(note));
    }
    if r.failure.is_some() {
        let _ = write!(
            h,
            "<div class=\"fail\">{}</div>",
            esc(&crate::report::failure_text(r))
        );
    }
    h.push_str("<table><tr><th>#</th><th>step</th><th>status</th><th>simulated</th></tr>");
    for s in &r.steps {
        let st = status_word(s.status);
        let _ = write!(
            h,
            "<tr><td class=n>{}</td><td>{}</td><td class=\"{st}\">{st}</td><td class=n>{}</td></tr>",
            s.index,
            esc(&s.label),
            ms(s.sim_time_ns)
        );
    }
    h.push_str("</table>");
    waterfall(h, r);
    h.push_str("</details>");
}

/// An SVG waterfall: one row per frame, bars placed on the simulated clock.
fn waterfall(h: &mut String, r: &CaseResult) {
    let frames: Vec<_> = r
        .transcript
        .entries
        .iter()
        .enumerate()
        .flat_map(|(k, e)| e.frames.iter().map(move |f| (k, f)))
        .collect();
    if frames.is_empty() {
        return;
    }
    const MAX_ROWS: usize = 400;
    let shown = &frames[..frames.len().min(MAX_ROWS)];
    let t0 = shown
        .iter()
        .map(|(_, f)| f.start.as_nanos())
        .min()
        .unwrap_or(0);
    let t1 = shown
        .iter()
        .map(|(_, f)| f.end.as_nanos())
        .max()
        .unwrap_or(t0 + 1)
        .max(t0 + 1);
    let (label_w, plot_w, row_h) = (330.0, 640.0, 14.0);
    let height = row_h * shown.len() as f64 + 30.0;
    let x = |ns: u64| label_w + (ns - t0) as f64 / (t1 - t0) as f64 * plot_w;
    let _ = write!(
        h,
        "<svg class=\"waterfall\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"frame timeline\">",
        label_w + plot_w + 20.0
    );
    let _ = write!(
        h,
        "<text x=\"{label_w}\" y=\"10\">0</text><text x=\"{}\" y=\"10\" text-anchor=\"end\">{}</text>",
        label_w + plot_w,
        ms(t1 - t0)
    );
    let mut last_apdu = usize::MAX;
    for (row, (k, f)) in shown.iter().enumerate() {
        let y = 18.0 + row as f64 * row_h;
        let color = match (f.fate, f.what, f.dir) {
            (Fate::Lost | Fate::FieldOff, FrameWhat::Timeout, _) => "#c5cad3",
            (Fate::Lost | Fate::FieldOff, _, _) => "#b3261e",
            (Fate::Corrupted, _, _) => "#e37400",
            (_, _, Direction::ToCard) => "#1a73e8",
            (_, _, Direction::ToReader) => "#137333",
        };
        let (xs, xe) = (x(f.start.as_nanos()), x(f.end.as_nanos()));
        let w = (xe - xs).max(1.5);
        if *k != last_apdu {
            last_apdu = *k;
            let entry = &r.transcript.entries[*k];
            let cmd = match &entry.event {
                Some(e) => {
                    let text = e.to_string();
                    text.split(':').next().unwrap_or_default().to_string()
                }
                None => entry.command.to_string(),
            };
            let short: String = cmd.chars().take(26).collect();
            let _ = write!(h, "<text x=\"0\" y=\"{}\">{}</text>", y + 10.0, esc(&short));
        }
        let arrow = if f.dir == Direction::ToCard {
            "→"
        } else {
            "←"
        };
        let _ = write!(
            h,
            "<text x=\"200\" y=\"{}\">{arrow} {}</text><rect x=\"{xs:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{}\" fill=\"{color}\"><title>{} {} B, {} at {} kbit/s ({})</title></rect>",
            y + 10.0,
            esc(&f.what.to_string()),
            row_h - 3.0,
            esc(&f.what.to_string()),
            f.len,
            ms(f.end.since(f.start).as_nanos()),
            f.kbps,
            f.fate
        );
    }
    h.push_str("</svg>");
    if frames.len() > MAX_ROWS {
        let _ = write!(
            h,
            "<p>{} more frames not drawn.</p>",
            frames.len() - MAX_ROWS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_a_case_cannot_open_a_tag_or_leave_an_attribute() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & co"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"
        );
        assert_eq!(esc("&lt;"), "&amp;lt;", "escaped once, as given");
        assert_eq!(ms(1_234_567), "1.235 ms");
    }
}

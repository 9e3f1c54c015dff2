//! certificate.html: the page a person reads — the reader and its profile (how many values are
//! measured, reported, modelled), the kazasu commit, date and seed, the verdict per coverage
//! family, the failures with their reproduce lines and the signing key. Every number on it is
//! derived from the manifest, the case list and the profile, so `--verify` renders it again and
//! compares it byte for byte: a page that says more than the bundle holds does not verify.

use super::manifest::{Counts, Manifest, PROFILE_FILE};
use super::view::ReportView;
use crate::report::html::esc;
use crate::report::shell_quote;
use crate::run::Status;
use kazasu_sim::ReaderProfile;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The page, from what the bundle holds.
pub fn render(manifest: &Manifest, report: &ReportView, profile: &ReaderProfile) -> String {
    let counts = Counts::of(report.scenarios.iter().map(|c| &c.status));
    let status: BTreeMap<&str, Status> = report
        .scenarios
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    let sureness = crate::profiles::reader_sureness(profile);
    let sure = |k: &str| sureness.get(k).copied().unwrap_or(0);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>kazasu certificate: {reader}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#202124}}\
         h1{{font-size:1.6rem;margin-bottom:.2rem}}table{{border-collapse:collapse;margin:1rem 0}}\
         td,th{{border:1px solid #dadce0;padding:.3rem .6rem;text-align:left;vertical-align:top}}\
         th{{background:#f1f3f4}}.pass{{color:#137333;font-weight:600}}\
         .fail{{color:#a50e0e;font-weight:600}}.none{{color:#5f6368}}\
         .verdict{{font-size:1.3rem;padding:.6rem 1rem;border-radius:.4rem;display:inline-block}}\
         .ok{{background:#e6f4ea}}.bad{{background:#fce8e6}}code{{font-size:.9em}}\
         pre{{background:#f8f9fa;padding:.5rem;white-space:pre-wrap}}</style></head><body>\n",
        reader = esc(&manifest.reader)
    );
    let _ = write!(
        h,
        "<h1>Conformance certificate: <code>{}</code></h1>\n<p>{}</p>\n",
        esc(&manifest.reader),
        esc(&profile.description)
    );
    let (class, verdict) = if counts.ok() {
        ("ok", "every applicable case passed".to_string())
    } else {
        (
            "bad",
            format!(
                "not passed: {} failed, {} could not run",
                counts.failed, counts.error
            ),
        )
    };
    let _ = write!(
        h,
        "<p class=\"verdict {class}\" id=\"verdict\">{}</p>\n<table id=\"facts\">\n",
        esc(&verdict)
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    row(
        "cases",
        format!(
            "{} passed, {} failed, {} could not run, {} not applicable, of {}",
            counts.passed, counts.failed, counts.error, counts.not_applicable, counts.total
        ),
    );
    row(
        "reader profile",
        format!(
            "<code>{}</code> ({PROFILE_FILE}): {} values measured, {} confirmed, {} reported, {} modelled",
            esc(&profile.name),
            sure("measured"),
            sure("confirmed"),
            sure("reported"),
            sure("modelled")
        ),
    );
    if let Some(d) = &manifest.device {
        row(
            "device",
            format!(
                "<code>{}</code>, card ATR <code>{}</code>",
                esc(&d.name),
                esc(&d.atr)
            ),
        );
    }
    row(
        "kazasu",
        format!(
            "{} (commit <code>{}</code>)",
            esc(&manifest.kazasu_version),
            esc(&manifest.kazasu_commit)
        ),
    );
    row("date", esc(&manifest.date));
    row("seed", manifest.seed.to_string());
    row(
        "signature",
        match &manifest.signing_key_sha256 {
            Some(fp) => format!(
                "Ed25519, key SHA-256 <code id=\"key\">{}</code> (manifest.json.sig)",
                esc(fp)
            ),
            None => "not signed".into(),
        },
    );
    h.push_str("</table>\n");
    h.push_str(
        "<h2>What this certificate says</h2>\n<p>Whoever signed it — the laboratory that ran \
         kazasu — attests that this kazasu commit ran these cases with this reader profile and \
         seed and got these results. It does not attest that the profile describes a physical \
         reader, except for values marked <em>measured</em> (by <code>kazasu calibrate</code> on \
         the device). Check it with <code>kazasu certify --verify DIR</code> (add <code>--key \
         PUB.pem</code> for the signature, <code>--rerun</code> to run every case again), or the \
         signature with openssl alone: <code>openssl pkeyutl -verify -pubin -inkey PUB.pem -rawin \
         -in manifest.json -sigfile manifest.json.sig</code>.</p>\n",
    );
    h.push_str(
        "<h2>Coverage</h2>\n<table id=\"coverage\"><tr><th>kind</th><th>family</th>\
         <th>cases</th><th>result</th></tr>\n",
    );
    for r in &report.coverage {
        let passed = r
            .cases
            .iter()
            .filter(|c| status.get(c.as_str()) == Some(&Status::Passed))
            .count();
        let (class, word) = match (r.cases.len(), r.cases.len() - passed.min(r.cases.len())) {
            (0, _) => ("none", "not reached".to_string()),
            (_, 0) => ("pass", "passed".to_string()),
            (_, bad) => ("fail", format!("{bad} not passed")),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}: {}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>",
            esc(&r.kind),
            esc(&r.group),
            esc(&r.name),
            r.cases.len()
        );
    }
    h.push_str(
        "</table>\n<p><em>not reached</em>: no case of the suite exercised the family on this \
         reader — its values can put a family out of reach (frames of 64 bytes or less need a \
         reader with a smaller frame size; a WTX limit needs a reader that sets one).</p>\n\
         <h2>Failures</h2>\n",
    );
    let failures: Vec<_> = report
        .scenarios
        .iter()
        .filter(|c| matches!(c.status, Status::Failed | Status::Error))
        .collect();
    if failures.is_empty() {
        h.push_str("<p id=\"failures\">None.</p>\n");
    } else {
        h.push_str("<ol id=\"failures\">\n");
        for c in failures {
            let (step, expected, actual) =
                c.failure
                    .as_ref()
                    .map_or((String::new(), String::new(), String::new()), |f| {
                        (
                            format!("step {} {}", f.step, f.label),
                            f.expected.clone(),
                            f.actual.clone(),
                        )
                    });
            let reproduce = match &manifest.device {
                None => format!(
                    "kazasu run --reader {PROFILE_FILE} --seed {} --filter {}",
                    manifest.seed,
                    shell_quote(&c.name)
                ),
                Some(d) => format!(
                    "kazasu certify --device {} --reader {PROFILE_FILE} --seed {} -o again",
                    shell_quote(&d.name),
                    manifest.seed
                ),
            };
            let _ = writeln!(
                h,
                "<li><strong>{}</strong> ({}): {}: expected {}, got {}<pre>{}</pre></li>",
                esc(&c.name),
                if c.status == Status::Failed {
                    "failed"
                } else {
                    "could not run"
                },
                esc(&step),
                esc(&expected),
                esc(&actual),
                esc(&reproduce)
            );
        }
        h.push_str("</ol>\n<p>Run the reproduce lines in the bundle's folder.</p>\n");
    }
    h.push_str("</body></html>\n");
    h
}

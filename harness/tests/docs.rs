//! The docs hold together: every relative link in the README, ARCHITECTURE.md, CONTRIBUTING.md and
//! the book under docs/ points at a file that exists (and at a heading that exists, for
//! `#anchors`), every page of the book is in its SUMMARY.md, and the README stays short — the
//! rest of what a user needs is in the book; the figures page gives the simulated durations kazasu
//! computes now.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every Markdown file the docs consist of.
fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("docs/").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md"]
        .iter()
        .map(|f| root().join(f))
        .collect();
    walk(&root().join("docs"), &mut out);
    out.sort();
    out
}

/// The text outside fenced code blocks and inline code.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut inline = false;
        for c in line.chars() {
            if c == '`' {
                inline = !inline;
            } else if !inline {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// `[text](target)` targets.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end) => {
                out.push(after[..end].trim().to_string());
                rest = &after[end..];
            }
            None => break,
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with('#') {
            let heading = line.trim_start_matches('#').replace('`', "");
            out.insert(slug(&heading));
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("readable page");
        let dir = page.parent().expect("a directory");
        for link in links(&prose(&text)) {
            if link.contains("://") || link.starts_with("mailto:") || link.is_empty() {
                continue;
            }
            let (file, anchor) = match link.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
                continue;
            }
            if let Some(a) = anchor {
                let t = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&t).contains(a) {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
        for line in text.lines() {
            if let Some(inc) = line.trim().strip_prefix("{{#include ") {
                let path = inc.trim_end_matches("}}").trim();
                if !dir.join(path).exists() {
                    broken.push(format!("{}: include {path} (no such file)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_page_of_the_book_is_in_its_summary() {
    let docs = root().join("docs");
    let summary = std::fs::read_to_string(docs.join("SUMMARY.md")).expect("docs/SUMMARY.md");
    let listed: BTreeSet<PathBuf> = links(&summary).iter().map(|l| docs.join(l)).collect();
    for l in &listed {
        assert!(
            l.exists(),
            "SUMMARY.md lists {} which does not exist",
            l.display()
        );
    }
    let missing: Vec<String> = pages()
        .into_iter()
        .filter(|p| p.starts_with(&docs) && !p.ends_with("SUMMARY.md") && !listed.contains(p))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "pages not in docs/SUMMARY.md: {missing:?}"
    );
}

#[test]
fn the_readme_fits_on_a_screen_with_its_two_commands_first() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines; move detail into the book (docs/)"
    );
    let first_block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a first sh block");
    let commands: Vec<&str> = first_block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].starts_with("cargo run --release -- run"));
    assert!(commands[1].starts_with("ci/test.sh"));
}

#[test]
fn the_link_checker_finds_what_it_should() {
    assert_eq!(
        links("see [a](x.md#b) and `[c](not-a-link)`, [d](https://e)"),
        ["x.md#b", "not-a-link", "https://e"]
    );
    assert_eq!(links(&prose("see [a](x.md) and `[c](code)`")), ["x.md"]);
    assert!(anchors("# The main job\n## A physical reader: `--device`\n").contains("the-main-job"));
    assert!(anchors("## A physical reader: `--device`\n").contains("a-physical-reader---device"));
}

/// The simulated durations docs/figures.md gives for the auth flow are what kazasu computes now:
/// simulated time is deterministic, so the page's figures are checked, not trusted. The page's
/// table has a row per reader and a column per device; the first figure of a cell is the current
/// one (a bracketed one is history).
#[test]
fn the_figures_page_gives_the_auth_flow_durations_kazasu_simulates() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .current_dir(root())
        .args(["run", "--filter", "auth flow fits"])
        .output()
        .expect("kazasu runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The run's latency table: `PROFILE  READER  N  MIN ms …`.
    let mut simulated = std::collections::BTreeMap::new();
    for line in console.lines() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if let [device, reader, "1", ms, "ms", ..] = cells.as_slice() {
            simulated.insert((device.to_string(), reader.to_string()), ms.to_string());
        }
    }
    assert_eq!(
        simulated.len(),
        9,
        "nine flows in the run's table:\n{console}"
    );
    let page = std::fs::read_to_string(root().join("docs/figures.md")).expect("docs/figures.md");
    let header = "| reader | My Number card | Android | iPhone |";
    let at = page
        .find(header)
        .expect("the figures page's auth-flow table");
    let devices = ["mynumber-card", "android-jpki", "iphone-jpki"];
    let mut checked = 0;
    for row in page[at..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
    {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let reader = cells[0].trim_matches('`');
        for (device, cell) in devices.iter().zip(&cells[1..]) {
            let stated = cell.split(" ms").next().unwrap_or_default();
            let now = &simulated[&(device.to_string(), reader.to_string())];
            assert_eq!(
                stated, now,
                "docs/figures.md gives {stated} ms for {device} on {reader}; kazasu simulates \
                 {now} ms (`kazasu run --filter \"auth flow fits\"`)"
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 9,
        "the page's table has three readers × three devices"
    );
}

//! The house's rules, checked on the source: no import circle between files, no import that
//! runs back up the floors ARCHITECTURE.md describes (for kazasu-sim and for the harness), and
//! errors returned as types rather than text, and no file of the harness so long that it holds
//! more than one job.
//!
//! A file's imports are its `crate::…` and `super::…` paths outside its `#[cfg(test)] mod tests`;
//! each is resolved to the longest module path that is a file of the crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The harness's floors, lowest first: a module imports from its own floor or below.
const HARNESS_FLOORS: &[&[&str]] = &[
    &["files", "profiles", "profile_schema", "record", "text"],
    &["scenario", "link", "stack"],
    &["host", "pcapng"],
    &["onboarding"],
    &["run"],
    &["report", "serve", "calibrate"],
    &["capture", "certify"],
    &["fuzz"],
    &["cli"],
];

/// kazasu-sim's floors, lowest first.
const SIM_FLOORS: &[&[&str]] = &[
    &["time", "secret"],
    &["iso7816"],
    &["platform"],
    &["applets"],
    &["card"],
    &["iso14443"],
    &["reader"],
    &["vpcd"],
];

/// Module path (`a::b`, "" for the crate root) → the files' text.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("source directory").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(src).expect("under src").with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&p).expect("readable source");
            (parts.join("::"), text)
        })
        .collect()
}

/// The text without comments, string literals and the unit-test module.
fn code(text: &str) -> String {
    let tests = [
        "#[cfg(test)]\nmod tests",
        "#[cfg(test)]\npub(super) mod tests",
    ];
    let text = match tests.iter().filter_map(|t| text.find(t)).min() {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every `crate::…`/`super::…` path in `code`, with `{…}` groups expanded.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let starts = rest.starts_with("crate::") || rest.starts_with("super::");
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if !(starts && boundary) || (i >= 2 && &code[i - 2..i] == "::") {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let (used, found) = path_at(rest);
        out.extend(found);
        i += used.max(1);
    }
    out
}

/// The path (or group of paths) at the start of `s`: bytes used and the paths.
fn path_at(s: &str) -> (usize, Vec<String>) {
    let mut prefix = String::new();
    let mut i = 0;
    let b = s.as_bytes();
    loop {
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        prefix.push_str(&s[start..i]);
        if s[i..].starts_with("::{") {
            prefix.push_str("::");
            i += 3;
            let mut paths = Vec::new();
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    return (i + 1, paths);
                }
                let (used, inner) = path_at(&s[i..]);
                paths.extend(inner.into_iter().map(|p| format!("{prefix}{p}")));
                i += used.max(1);
            }
        } else if s[i..].starts_with("::") {
            prefix.push_str("::");
            i += 2;
        } else {
            return (i, vec![prefix]);
        }
    }
}

/// Module → the modules of the same crate it imports.
fn imports(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (m, text) in mods {
        let here: Vec<&str> = if m.is_empty() {
            vec![]
        } else {
            m.split("::").collect()
        };
        let mut to = BTreeSet::new();
        let code = code(text);
        // An index file (lib.rs, main.rs, mod.rs) names its children by relative paths too.
        let children: Vec<String> = mods
            .keys()
            .filter(|c| {
                let rest = if m.is_empty() {
                    Some(c.as_str())
                } else {
                    c.strip_prefix(&format!("{m}::"))
                };
                rest.is_some_and(|r| !r.is_empty() && !r.contains("::"))
            })
            .cloned()
            .collect();
        for child in &children {
            let name = child.rsplit("::").next().unwrap_or(child);
            let used = code.lines().any(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("pub ").unwrap_or(l);
                l.strip_prefix("use ")
                    .is_some_and(|u| u.starts_with(&format!("{name}::")))
                    || l.contains(&format!(" {name}::"))
                    || l.contains(&format!("({name}::"))
            });
            if used {
                to.insert(child.clone());
            }
        }
        for p in paths(&code) {
            let mut parts: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
            let mut target: Vec<&str> = if parts.first() == Some(&"crate") {
                parts.remove(0);
                vec![]
            } else {
                here.clone()
            };
            while parts.first() == Some(&"super") {
                parts.remove(0);
                target.pop();
            }
            target.extend(parts);
            // The longest prefix that is a module of the crate.
            let found = (0..=target.len())
                .rev()
                .map(|n| target[..n].join("::"))
                .find(|cand| mods.contains_key(cand));
            if let Some(t) = found
                && t != *m
                && !t.is_empty()
            {
                to.insert(t);
            }
        }
        graph.insert(m.clone(), to);
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'g> {
        g: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    impl<'g> T<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let lw = self.low[w.as_str()];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w.as_str()) {
                    let iw = self.index[w.as_str()];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

/// Imports that run back up `floors` (module, what it imports, the two floors).
fn back_up(graph: &BTreeMap<String, BTreeSet<String>>, floors: &[&[&str]]) -> Vec<String> {
    let floor = |m: &str| {
        let top = m.split("::").next().unwrap_or(m);
        floors.iter().position(|f| f.contains(&top))
    };
    let mut out = Vec::new();
    for (m, to) in graph {
        if m.is_empty() {
            continue;
        }
        let Some(fm) = floor(m) else {
            out.push(format!("`{m}` is on no floor: add it to the table"));
            continue;
        };
        for t in to {
            if let Some(ft) = floor(t)
                && ft > fm
            {
                out.push(format!("`{m}` (floor {fm}) imports `{t}` (floor {ft})"));
            }
        }
    }
    out
}

fn check(src: &str, floors: &[&[&str]]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let mods = modules(&root);
    assert!(
        mods.len() > 10,
        "{} holds the crate's files",
        root.display()
    );
    let graph = imports(&mods);
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "import circles between files of {src}: {found:?}"
    );
    let up = back_up(&graph, floors);
    assert!(
        up.is_empty(),
        "{src}: imports that run back up:\n{}",
        up.join("\n")
    );
}

/// How many `Result<_, String>` the three libraries may still return outside their tests: errors
/// are types (`thiserror`), made into text where they are shown. Lower it as they go.
const MAX_TEXT_ERRORS: usize = 21;

/// How many `Result<…, String>` types `code` names (any nesting inside the `Result`).
fn text_errors(code: &str) -> usize {
    let mut n = 0;
    let mut rest = code;
    while let Some(at) = rest.find("Result<") {
        let after = &rest[at + "Result<".len()..];
        let (mut depth, mut last_arg) = (0i32, 0usize);
        for (i, c) in after.char_indices() {
            match c {
                '<' | '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                '>' if depth == 0 => {
                    // `Result<T, String>`: the error of a two-argument Result (not an alias's
                    // `anyhow::Result<String>`).
                    if last_arg > 0 && after[last_arg..i].trim() == "String" {
                        n += 1;
                    }
                    break;
                }
                '>' => depth -= 1,
                ',' if depth == 0 => last_arg = i + 1,
                _ => {}
            }
        }
        rest = after;
    }
    n
}

#[test]
fn the_libraries_return_errors_as_types() {
    let mut found = Vec::new();
    for src in ["src", "../sim/src", "../onboarding/src"] {
        for (module, text) in modules(Path::new(src)) {
            let n = text_errors(&code(&text));
            if n > 0 {
                found.push((n, format!("{src} {module}")));
            }
        }
    }
    found.sort_by(|a, b| b.cmp(a));
    let total: usize = found.iter().map(|(n, _)| n).sum();
    assert!(
        total <= MAX_TEXT_ERRORS,
        "{total} `Result<_, String>` outside tests (at most {MAX_TEXT_ERRORS}); give the new ones \
         an error type:\n{}",
        found
            .iter()
            .map(|(n, m)| format!("{n:3} {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The longest a file of the harness may be: past it, a file holds more than one job.
const MAX_FILE_LINES: usize = 700;

#[test]
fn no_file_of_the_harness_is_longer_than_one_job() {
    let long: Vec<String> = modules(Path::new("src"))
        .into_iter()
        .map(|(module, text)| (text.lines().count(), module))
        .filter(|(n, _)| *n > MAX_FILE_LINES)
        .map(|(n, m)| format!("{n:5} lines  {m}"))
        .collect();
    assert!(
        long.is_empty(),
        "files of the harness over {MAX_FILE_LINES} lines; split them by job:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_error_count_sees_text_errors_at_any_depth_and_nothing_else() {
    assert_eq!(
        text_errors(
            "fn a() -> Result<Vec<u8>, String> {}\n\
             fn b() -> Result<(), StepError> {}\n\
             fn c() -> Result<Result<String, String>, String> {}\n\
             type F = dyn Fn(&str) -> Result<(u16, String), Box<dyn Error>>;\n\
             fn d() -> anyhow::Result<String> {}"
        ),
        3
    );
}

#[test]
fn the_simulator_has_no_import_circle_and_no_import_up_its_floors() {
    check("../sim/src", SIM_FLOORS);
}

#[test]
fn the_harness_has_no_import_circle_and_no_import_up_its_floors() {
    check("src", HARNESS_FLOORS);
}

#[test]
fn the_checker_sees_a_circle_and_an_import_up() {
    let mods: BTreeMap<String, String> = [
        ("", "pub mod a;\npub mod b;"),
        ("a", "use crate::b::{self, X};\n"),
        ("a::inner", "use super::super::b::Y; // crate::a::never\n"),
        (
            "b",
            "fn f() { crate::a::inner::g(); let s = \"crate::c\"; }\n",
        ),
        ("c", "\n"),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_string(), t.to_string()))
    .collect();
    let graph = imports(&mods);
    assert_eq!(graph["a"], BTreeSet::from(["b".to_string()]));
    assert_eq!(graph["a::inner"], BTreeSet::from(["b".to_string()]));
    assert_eq!(graph["b"], BTreeSet::from(["a::inner".to_string()]));
    assert_eq!(
        circles(&graph),
        vec![vec!["a::inner".to_string(), "b".to_string()]]
    );
    // An index that re-exports a child which imports the index is a circle too.
    let index: BTreeMap<String, String> = [
        ("", "pub mod p;"),
        ("p", "mod c;\npub use c::Thing;\npub struct Shared;"),
        ("p::c", "use super::Shared;\npub struct Thing;"),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_string(), t.to_string()))
    .collect();
    assert_eq!(
        circles(&imports(&index)),
        vec![vec!["p".to_string(), "p::c".to_string()]]
    );
    let up = back_up(&graph, &[&["a"], &["b", "c"]]);
    assert_eq!(
        up,
        vec![
            "`a` (floor 0) imports `b` (floor 1)".to_string(),
            "`a::inner` (floor 0) imports `b` (floor 1)".to_string()
        ]
    );
}

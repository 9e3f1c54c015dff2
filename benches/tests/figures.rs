//! docs/figures.md states every speed target the benches judge, with the benches' own bound: a
//! target changed in `targets.rs` and not on the page (or the other way round) fails here.

use kazasu_benches::targets::TARGETS;

#[test]
fn the_figures_page_states_every_target_the_benches_judge() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/figures.md"))
        .expect("docs/figures.md");
    let rows: Vec<&str> = page.lines().filter(|l| l.starts_with('|')).collect();
    for t in TARGETS {
        let bound = t.bound.to_string();
        assert!(
            rows.iter()
                .any(|r| r.contains(t.ratio) && r.contains(&bound)),
            "docs/figures.md has no table row with `{}` and its target `{bound}`",
            t.ratio
        );
        // No row of that ratio states another bound.
        for r in rows.iter().filter(|r| r.contains(t.ratio)) {
            for other in ["≤ ", "≥ "] {
                for (at, _) in r.match_indices(other) {
                    let stated: String = r[at..]
                        .chars()
                        .take_while(|c| !matches!(c, '|' | ')' | ':'))
                        .collect();
                    let stated = stated.trim();
                    let is_rate =
                        stated.contains('/') || stated.contains('×') || stated.contains(" M");
                    assert!(
                        is_rate || stated == bound,
                        "docs/figures.md states `{stated}` for `{}`, the benches judge `{bound}`",
                        t.ratio
                    );
                }
            }
        }
    }
}

//! How scenario YAML is read: the loader's budget for a file of a given length, a breached
//! budget in words, and the hint for each kind of parse error.

/// The loader's YAML budget for a text of `len` bytes. A hand-written file gets serde-saphyr's
/// counts (250,000 nodes, a million events, 64 MiB of scalars); a long one — an import of a long
/// capture writes about 30 bytes a node, a compact hand-written one 7 — gets room in proportion to its length, so the counts
/// never refuse a file the size bound lets in, while aliases, anchors and depth stay capped as
/// they are (those are what make a short text expand).
pub(super) fn yaml_options(len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(len / 4);
    budget.max_events = budget.max_events.max(len / 2);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// A breached YAML budget in words.
pub(super) fn over_budget(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let what = match breach {
        B::Nodes { nodes } => format!("more than {} YAML nodes", nodes.saturating_sub(1)),
        B::Events { events } => format!("more than {} YAML events", events.saturating_sub(1)),
        B::Aliases { aliases } => {
            format!("more than {} aliases (`*name`)", aliases.saturating_sub(1))
        }
        B::Anchors { anchors } => {
            format!("more than {} anchors (`&name`)", anchors.saturating_sub(1))
        }
        B::Depth { depth } => format!("nesting {depth} levels deep"),
        B::Documents { documents } => format!("{documents} YAML documents"),
        B::ScalarBytes { total_scalar_bytes } => {
            format!("more than {} MiB of values", total_scalar_bytes >> 20)
        }
        _ => "more YAML than a scenario file can hold".to_string(),
    };
    format!(
        "the file has {what}, more than a scenario holds for its size: aliases that expand, \
         or a file that is not a scenario?"
    )
}

/// What to do about a parse error, by its kind: serde's own kinds (unknown field, missing field,
/// unknown word) have a fix of their own; kazasu's messages say theirs in the message, and the
/// rest get the schema.
pub(super) fn hint_for(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match error.without_snippet() {
        E::SerdeUnknownField { .. } => {
            "check the spelling; `kazasu schema` prints every field an editor can complete"
        }
        E::SerdeMissingField { .. } => "add the field; `kazasu schema` lists the required ones",
        E::SerdeUnknownVariant { .. } => "use one of the listed words",
        E::MultipleDocuments { .. } => {
            "give several cases as a list (`- name: …` for each, no `---`), or one file each"
        }
        _ => {
            "`kazasu schema > scenario.schema.json` gives an editor the whole format (every step, \
             its arguments and an example of each)"
        }
    }
    .to_string()
}

//! Choosing which cases run: `--filter`/`--tag` selection and `--partition` shards that split a
//! suite the same way on every machine (a stable hash of the case name).
use super::case::Case;

/// A deterministic shard of the suite: `count:K/N` (every N-th case from the K-th) or
/// `hash:K/N` (by a stable hash of the case name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// By position.
    Count(u32, u32),
    /// By name hash.
    Hash(u32, u32),
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a partition: write count:K/N or hash:K/N with 1 ≤ K ≤ N (e.g. hash:2/4)"
            )
        };
        let (kind, rest) = s.split_once(':').unwrap_or(("count", s));
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        match kind {
            "count" => Ok(Partition::Count(k, n)),
            "hash" => Ok(Partition::Hash(k, n)),
            _ => Err(bad()),
        }
    }
}

/// FNV-1a: stable across platforms and releases (unlike the std hasher).
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Selection of cases.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Substrings of the case name (any matches).
    pub filters: Vec<String>,
    /// Tags (any matches).
    pub tags: Vec<String>,
    /// A shard.
    pub partition: Option<Partition>,
}

impl Selection {
    /// The selected cases, in order.
    pub fn apply(&self, cases: Vec<Case>) -> Vec<Case> {
        let picked: Vec<Case> = cases
            .into_iter()
            .filter(|c| {
                self.filters.is_empty() || self.filters.iter().any(|f| c.name.contains(f.as_str()))
            })
            .filter(|c| {
                self.tags.is_empty() || c.scenario.tags.iter().any(|t| self.tags.contains(t))
            })
            .collect();
        match self.partition {
            None => picked,
            Some(Partition::Count(k, n)) => picked
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i as u32 % n == k - 1)
                .map(|(_, c)| c)
                .collect(),
            Some(Partition::Hash(k, n)) => picked
                .into_iter()
                .filter(|c| stable_hash(&c.name) % u64::from(n) == u64::from(k - 1))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(cases: &[Case]) -> Vec<&str> {
        cases.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn shards_cover_every_case_once_and_filters_pick_by_name_or_tag() {
        let yaml = "
- { name: a one, tags: [x], steps: [tap] }
- { name: b two, steps: [tap] }
- { name: c three, tags: [x], steps: [tap] }
- { name: d four, steps: [tap] }
- { name: e five, steps: [tap] }
";
        let cases = crate::run::cases(yaml);
        for kind in ["count", "hash"] {
            let mut seen = Vec::new();
            for k in 1..=3 {
                let p: Partition = format!("{kind}:{k}/3").parse().expect("valid partition");
                let s = Selection {
                    partition: Some(p),
                    ..Selection::default()
                };
                seen.extend(
                    names(&s.apply(cases.clone()))
                        .into_iter()
                        .map(str::to_string),
                );
            }
            seen.sort();
            assert_eq!(
                seen,
                ["a one", "b two", "c three", "d four", "e five"],
                "{kind}"
            );
        }
        let s = Selection {
            filters: vec!["two".into()],
            tags: vec!["x".into()],
            ..Selection::default()
        };
        assert!(
            s.apply(cases.clone()).is_empty(),
            "name and tag must both match"
        );
        let s = Selection {
            tags: vec!["x".into()],
            ..Selection::default()
        };
        assert_eq!(names(&s.apply(cases)), ["a one", "c three"]);
        assert!("count:0/3".parse::<Partition>().is_err());
        assert!("count:4/3".parse::<Partition>().is_err());
        assert_eq!(stable_hash("kazasu"), stable_hash("kazasu"));
    }
}

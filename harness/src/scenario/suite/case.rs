//! A runnable case: a scenario with its card and reader profiles resolved once, and the
//! `--card`/`--reader` overrides the command line gives for every case.

use crate::scenario::Scenario;
use kazasu_sim::{CardProfile, ReaderProfile};
use std::sync::Arc;

/// One runnable case: a scenario with its matrix values filled in and its profiles resolved,
/// once, at expansion. Everything downstream (runner, reports, coverage, certification) takes
/// the loaded profiles from here and never reloads one: a profile's identity is its `name:`,
/// the path in `scenario.card` / `scenario.reader` only says where it was read from.
#[derive(Clone, Debug)]
pub struct Case {
    /// Display name: the scenario name plus the matrix values (profiles by their `name:`).
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// The scenario, with `card`, `reader` and `bit_rate` set for this case.
    pub scenario: Scenario,
    /// The card profile, loaded.
    pub card: Arc<CardProfile>,
    /// The reader profile, loaded.
    pub reader: Arc<ReaderProfile>,
}

/// Profiles that replace every case's own (`--card`, `--reader`), loaded once by the caller.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Every case's card.
    pub card: Option<Arc<CardProfile>>,
    /// Every case's reader.
    pub reader: Option<Arc<ReaderProfile>>,
}

impl Overrides {
    /// No override: each case keeps its own profiles.
    pub const NONE: Overrides = Overrides {
        card: None,
        reader: None,
    };

    /// Every case on `reader` (a reader under test).
    pub fn reader(reader: Arc<ReaderProfile>) -> Overrides {
        Overrides {
            card: None,
            reader: Some(reader),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_puts_every_case_on_the_reader_under_test_once_loaded() {
        let yaml = "- name: a\n  matrix: { reader: [basic-106k, fast-848k] }\n  steps: [tap]\n";
        let scenarios = super::super::parse(yaml, "t.yaml").expect("valid");
        let own = super::super::expand(&scenarios, "t.yaml", &Overrides::NONE).expect("expands");
        let readers: Vec<&str> = own.iter().map(|c| c.reader.name.as_str()).collect();
        assert_eq!(readers, ["basic-106k", "fast-848k"]);
        let under_test = Arc::new(ReaderProfile::builtin("typical-424k").expect("built-in"));
        let cases =
            super::super::expand(&scenarios, "t.yaml", &Overrides::reader(under_test.clone()))
                .expect("expands");
        assert!(
            cases.iter().all(|c| Arc::ptr_eq(&c.reader, &under_test)),
            "loaded once, shared"
        );
    }
}

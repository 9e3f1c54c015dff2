//! kazasu's speed and memory targets, the speed ones each a ratio to a baseline measured in the same run (so that it holds
//! on a loaded machine), in one table: the benches judge their figures by it (PASS or MISS, what
//! `ci/bench-check.sh` counts) and `tests/figures.rs` checks that docs/figures.md states each one.

use std::fmt;

/// Which way a ratio must stay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// The ratio is at most this.
    AtMost(f64),
    /// The ratio is at least this.
    AtLeast(f64),
}

/// A target: what is divided by what, and its bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    /// The ratio as docs/figures.md names it in the target's row.
    pub ratio: &'static str,
    /// The bound.
    pub bound: Bound,
}

impl Target {
    /// Whether `ratio` meets the target.
    pub fn met(&self, ratio: f64) -> bool {
        match self.bound {
            Bound::AtMost(b) => ratio <= b,
            Bound::AtLeast(b) => ratio >= b,
        }
    }
    /// `PASS` or `MISS`, as the benches print it.
    pub fn verdict(&self, ratio: f64) -> &'static str {
        if self.met(ratio) { "PASS" } else { "MISS" }
    }
}

impl fmt::Display for Bound {
    /// `≤ 20`, `≥ 0.9`, as docs/figures.md writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::AtMost(b) => write!(f, "≤ {b}"),
            Bound::AtLeast(b) => write!(f, "≥ {b}"),
        }
    }
}

/// A simple APDU through the in-process reader ÷ the card alone: the reader model's cost.
pub const READER_OVER_CARD: Target = Target {
    ratio: "÷ the card alone",
    bound: Bound::AtMost(20.0),
};

/// An auth flow, tap to remove ÷ one bare RSA-2048 signature of the same library.
pub const FLOW_OVER_SIGNATURE: Target = Target {
    ratio: "÷ one bare RSA-2048 signature",
    bound: Bound::AtMost(1.2),
};

/// The bundled suite on one core ÷ the bare signatures it makes: kazasu's own overhead.
pub const SUITE_OVER_SIGNATURES: Target = Target {
    ratio: "suite ÷ its signatures",
    bound: Bound::AtMost(12.0),
};

/// Importing a pcscd log ÷ counting its lines.
pub const IMPORT_OVER_LINES: Target = Target {
    ratio: "import ÷ baseline",
    bound: Bound::AtMost(5.0),
};

/// Registrations ÷ GET /api/program over loopback.
pub const REGISTRATIONS_OVER_GET: Target = Target {
    ratio: "registrations ÷ baseline",
    bound: Bound::AtLeast(0.8),
};

/// A SELECT through pcscd + vpcd to kazasu's card ÷ to a null responder.
pub const REAL_STACK_OVER_NULL: Target = Target {
    ratio: "kazasu ÷ null responder",
    bound: Bound::AtLeast(0.9),
};

/// Peak resident memory (MB) of `kazasu import` on a 250 MiB capture. Memory is judged
/// absolutely: what a clinic's PC or a CI runner has does not shrink with the machine's load.
pub const IMPORT_PEAK: Target = Target {
    ratio: "import of a 250 MiB capture, peak MB",
    bound: Bound::AtMost(512.0),
};

/// Peak resident memory (MB) of `kazasu replay --as host` on a 250 MiB capture.
pub const REPLAY_PEAK: Target = Target {
    ratio: "replay of a 250 MiB capture, peak MB",
    bound: Bound::AtMost(512.0),
};

/// Peak resident memory (MB) of a run of 45,000 reads with `--json` and `--html`.
pub const RUN_PEAK: Target = Target {
    ratio: "45,000 reads with --json --html, peak MB",
    bound: Bound::AtMost(512.0),
};

/// Every target.
pub const TARGETS: &[Target] = &[
    READER_OVER_CARD,
    FLOW_OVER_SIGNATURE,
    SUITE_OVER_SIGNATURES,
    IMPORT_OVER_LINES,
    REGISTRATIONS_OVER_GET,
    REAL_STACK_OVER_NULL,
    IMPORT_PEAK,
    REPLAY_PEAK,
    RUN_PEAK,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_met_on_its_side_of_the_bound_only() {
        assert!(READER_OVER_CARD.met(20.0) && !READER_OVER_CARD.met(20.1));
        assert!(REAL_STACK_OVER_NULL.met(0.9) && !REAL_STACK_OVER_NULL.met(0.89));
        assert_eq!(FLOW_OVER_SIGNATURE.verdict(1.3), "MISS");
        assert_eq!(READER_OVER_CARD.bound.to_string(), "≤ 20");
        assert_eq!(REAL_STACK_OVER_NULL.bound.to_string(), "≥ 0.9");
    }
}

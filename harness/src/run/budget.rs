//! A case's budget, in total: however its steps, faults and profiles combine, one case puts at
//! most [`MAX_FRAMES`] frames on the air, records at most [`MAX_EXCHANGES`] exchanges and runs
//! at most [`MAX_SIM_TIME`] of simulated time. A case that crosses one ends as an error at the
//! step that crossed it, with the budget named — its report stays bounded (each frame and
//! exchange is a bounded record), and so do its memory and time.

use kazasu_sim::SimDuration;

/// Frames on the air in one case: what 45,000 reads of 256 bytes need, and some (about 130 MB
/// of JSON report at most).
pub const MAX_FRAMES: usize = 250_000;

/// Exchanges and events recorded in one case.
pub const MAX_EXCHANGES: usize = 500_000;

/// Simulated time of one case: a year.
pub const MAX_SIM_TIME: SimDuration = SimDuration::from_millis(366 * 24 * 3600 * 1000);

/// Why a case that has put `frames` on the air, recorded `exchanges` and run for `elapsed` is
/// over its budget, or `None`.
pub fn crossed(frames: usize, exchanges: usize, elapsed: SimDuration) -> Option<String> {
    let over = |what: &str, budget: String| {
        Some(format!(
            "the case crossed its budget of {budget} {what} (a case's budget is in total, \
             whatever its faults and profiles: see \"Budgets\" in the scenario reference)"
        ))
    };
    if frames > MAX_FRAMES {
        over("on the air", format!("{MAX_FRAMES} frames"))
    } else if exchanges > MAX_EXCHANGES {
        over("recorded", format!("{MAX_EXCHANGES} exchanges"))
    } else if elapsed > MAX_SIM_TIME {
        over("of simulated time", MAX_SIM_TIME.to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_budget_is_named_when_crossed() {
        assert_eq!(crossed(10, 10, SimDuration::from_millis(10)), None);
        assert!(
            crossed(MAX_FRAMES + 1, 0, SimDuration::ZERO)
                .unwrap()
                .contains("frames")
        );
        assert!(
            crossed(0, MAX_EXCHANGES + 1, SimDuration::ZERO)
                .unwrap()
                .contains("exchanges")
        );
        let year = SimDuration::from_millis(367 * 24 * 3600 * 1000);
        assert!(crossed(0, 0, year).unwrap().contains("simulated time"));
    }
}

//! Faults described as data and applied by the reader and card layers: at a precise point
//! (tap n; exchange n, frame k, byte b) or with a seeded probability.
//!
//! ```yaml
//! faults:
//!   - { when: { exchange: 4, frame: 2 }, do: field_off }
//!   - { when: { probability: 0.05 }, do: frame_lost }
//!   - { when: { exchange: 7 }, do: { slow_card: 3.0 } }
//!   - { when: { tap: 2 }, do: new_uid }
//!   - { when: { exchange: 9 }, do: reader_unplugged }
//!   - { when: { tap: 3 }, do: power_up_fails }
//! ```

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

/// When a fault strikes. Exchanges count APDU transmits from 1 across the whole run; frames count
/// the frames of one exchange from 1, both directions; taps count from 1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// At this tap (tap-level faults: collision, new UID, field off during activation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<u32>,
    /// At this exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<u32>,
    /// At this frame of the exchange (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<u32>,
    /// After this many bytes of the frame (field off / CRC error inside the frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte: Option<u32>,
    /// With this probability for every frame (or exchange, or tap), from the seeded RNG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (name, v) in [
            ("tap", self.tap),
            ("exchange", self.exchange),
            ("frame", self.frame),
            ("byte", self.byte),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name} {v}"));
            }
        }
        if let Some(p) = self.probability {
            parts.push(format!("probability {p}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// What the fault does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The card leaves the field (or the field drops): it keeps only what it had committed.
    FieldOff,
    /// The frame never arrives.
    FrameLost,
    /// The frame arrives with a corrupted byte (its CRC fails).
    CrcError,
    /// The card's processing takes this many times longer.
    SlowCard(f64),
    /// The card sends this many extra S(WTX) requests before answering.
    WtxStorm(u32),
    /// A second card is in the field during anticollision.
    Collision,
    /// The card presents a new random UID at this tap.
    NewUid,
    /// At this tap the card is detected but never answers its activation: it stays in the
    /// field, mute (through pcscd: `SCARD_W_UNPOWERED_CARD`), until it leaves.
    PowerUpFails,
    /// The reader itself goes away during the exchange (unplugged, its USB link reset): the
    /// exchange fails, the card is out of the field; the reader is back for the next tap.
    ReaderUnplugged,
}

impl Action {
    /// Whether the action is applied to a frame (the others to an exchange or a tap).
    pub fn is_frame_level(self) -> bool {
        matches!(
            self,
            Action::FieldOff | Action::FrameLost | Action::CrcError
        )
    }
    /// Whether the action is applied at a tap.
    pub fn is_tap_level(self) -> bool {
        matches!(
            self,
            Action::Collision | Action::NewUid | Action::PowerUpFails
        )
    }
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// When.
    pub when: When,
    /// What.
    #[serde(rename = "do")]
    pub action: Action,
}

impl Fault {
    /// Checks that the point makes sense for the action; the message says how to fix it.
    pub fn check(&self) -> Result<(), String> {
        let w = &self.when;
        if let Some(p) = w.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("probability {p} is not between 0 and 1"));
        }
        if w.tap.is_none() && w.exchange.is_none() && w.probability.is_none() {
            return Err("a fault needs `tap`, `exchange` or `probability` in `when`".into());
        }
        if self.action.is_tap_level() && (w.exchange.is_some() || w.frame.is_some()) {
            return Err(format!(
                "{:?} happens at a tap: use `when: {{ tap: N }}`",
                self.action
            ));
        }
        if !self.action.is_tap_level() && w.tap.is_some() && self.action != Action::FieldOff {
            return Err(format!(
                "{:?} happens during an exchange: use `when: {{ exchange: N }}`",
                self.action
            ));
        }
        if !self.action.is_frame_level() && (w.frame.is_some() || w.byte.is_some()) {
            return Err(format!(
                "{:?} applies to a whole exchange: drop `frame` and `byte`",
                self.action
            ));
        }
        if w.frame == Some(0) || w.exchange == Some(0) || w.tap == Some(0) {
            return Err("taps, exchanges and frames count from 1".into());
        }
        match self.action {
            Action::SlowCard(f) if !(f.is_finite() && f > 0.0) => {
                Err(format!("slow_card factor {f} must be above 0"))
            }
            Action::SlowCard(f) if f > MAX_SLOW_CARD => Err(format!(
                "slow_card factor {f} is above {MAX_SLOW_CARD} (a signature would take hours)"
            )),
            Action::WtxStorm(n) if n > MAX_WTX_STORM => Err(format!(
                "wtx_storm of {n} requests is above {MAX_WTX_STORM} (no reader grants that many)"
            )),
            _ => Ok(()),
        }
    }
}

/// The largest slow_card factor: every frame the slower card causes is simulated and logged, so
/// the factor bounds time and memory.
pub const MAX_SLOW_CARD: f64 = 1_000.0;
/// The most WTX requests a wtx_storm may ask for.
pub const MAX_WTX_STORM: u32 = 10_000;

/// What happens to one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameFault {
    /// Lost.
    Lost,
    /// Corrupted at this byte index.
    Corrupt(usize),
    /// The field goes off after this many bytes of the frame (0: before it).
    FieldOff(usize),
}

/// The faults of a run, with the seeded RNG for probabilistic ones.
pub struct FaultPlan {
    faults: Vec<Fault>,
    struck: Vec<bool>,
    rng: ChaCha8Rng,
}

fn roll(rng: &mut ChaCha8Rng, p: f64) -> bool {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
}

impl FaultPlan {
    /// A plan; `rng` decides probabilistic faults.
    pub fn new(faults: Vec<Fault>, rng: ChaCha8Rng) -> Self {
        let struck = vec![false; faults.len()];
        FaultPlan {
            faults,
            struck,
            rng,
        }
    }

    /// No faults.
    pub fn none(rng: ChaCha8Rng) -> Self {
        FaultPlan {
            faults: Vec::new(),
            struck: Vec::new(),
            rng,
        }
    }

    /// Whether any fault is planned.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Adds a fault.
    pub fn push(&mut self, fault: Fault) {
        self.faults.push(fault);
        self.struck.push(false);
    }

    /// Faults at a precise point (no probability) that never struck — a scenario whose fault
    /// names an exchange, frame or tap that never happened tests nothing.
    pub fn missed(&self) -> Vec<&Fault> {
        self.faults
            .iter()
            .zip(&self.struck)
            .filter(|(f, s)| !**s && f.when.probability.is_none())
            .map(|(f, _)| f)
            .collect()
    }

    /// Tap-level actions at tap `n`.
    pub fn at_tap(&mut self, n: u32) -> Vec<Action> {
        let mut out = Vec::new();
        for (f, struck) in self.faults.iter().zip(self.struck.iter_mut()) {
            let w = &f.when;
            if !(f.action.is_tap_level() || (f.action == Action::FieldOff && w.tap.is_some())) {
                continue;
            }
            if w.tap.is_some_and(|t| t != n) {
                continue;
            }
            if w.tap.is_none() && w.probability.is_none() {
                continue;
            }
            if w.probability.is_none_or(|p| roll(&mut self.rng, p)) {
                *struck = true;
                out.push(f.action);
            }
        }
        out
    }

    /// Exchange-level actions (slow card, WTX storm) for exchange `n`.
    pub fn at_exchange(&mut self, n: u32) -> Vec<Action> {
        let mut out = Vec::new();
        for (f, struck) in self.faults.iter().zip(self.struck.iter_mut()) {
            if f.action.is_frame_level() || f.action.is_tap_level() || f.when.tap.is_some() {
                continue;
            }
            if f.when.exchange.is_some_and(|e| e != n) {
                continue;
            }
            if f.when.probability.is_none_or(|p| roll(&mut self.rng, p)) {
                *struck = true;
                out.push(f.action);
            }
        }
        out
    }

    /// What happens to frame `frame` (of `len` bytes) of exchange `exchange`.
    pub fn at_frame(&mut self, exchange: u32, frame: u32, len: usize) -> Option<FrameFault> {
        for i in 0..self.faults.len() {
            let f = &self.faults[i];
            if !f.action.is_frame_level() || f.when.tap.is_some() {
                continue;
            }
            let w = &f.when;
            if w.exchange.is_some_and(|e| e != exchange) {
                continue;
            }
            let exact = w.exchange.is_some() && w.probability.is_none();
            // A fault at a precise point strikes once: the frames of a DESELECT or of a new
            // activation after it are counted afresh under the same exchange number.
            if exact && (self.struck[i] || w.frame.unwrap_or(1) != frame) {
                continue;
            }
            if w.probability.is_some() && w.frame.is_some_and(|k| k != frame) {
                continue;
            }
            let (action, byte, p) = (f.action, w.byte, w.probability);
            if p.is_some_and(|p| !roll(&mut self.rng, p)) {
                continue;
            }
            let at = byte.map_or(0, |b| (b as usize).min(len));
            self.struck[i] = true;
            return Some(match action {
                Action::FieldOff => FrameFault::FieldOff(at),
                Action::FrameLost => FrameFault::Lost,
                _ => FrameFault::Corrupt(byte.map_or(len.saturating_sub(1), |b| {
                    (b as usize).min(len.saturating_sub(1))
                })),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn plan(yaml: &str) -> FaultPlan {
        let faults: Vec<Fault> = serde_saphyr::from_str(yaml).unwrap();
        for f in &faults {
            f.check().unwrap();
        }
        FaultPlan::new(faults, ChaCha8Rng::seed_from_u64(1))
    }

    #[test]
    fn exact_points_strike_once() {
        let mut p = plan("- { when: { exchange: 4, frame: 2, byte: 3 }, do: field_off }");
        assert_eq!(p.at_frame(4, 1, 10), None);
        assert_eq!(p.at_frame(4, 2, 10), Some(FrameFault::FieldOff(3)));
        assert_eq!(p.at_frame(5, 2, 10), None);
    }

    #[test]
    fn exchange_and_tap_faults() {
        let mut p = plan(
            "- { when: { exchange: 7 }, do: { slow_card: 3.0 } }\n- { when: { tap: 2 }, do: new_uid }",
        );
        assert_eq!(p.at_exchange(7), vec![Action::SlowCard(3.0)]);
        assert!(p.at_exchange(6).is_empty());
        assert_eq!(p.at_tap(2), vec![Action::NewUid]);
        assert!(p.at_tap(1).is_empty());
    }

    #[test]
    fn probabilities_follow_the_seed() {
        let mut a = plan("- { when: { probability: 0.3 }, do: frame_lost }");
        let mut b = plan("- { when: { probability: 0.3 }, do: frame_lost }");
        let hits_a: Vec<_> = (1..200).map(|k| a.at_frame(1, k, 5).is_some()).collect();
        let hits_b: Vec<_> = (1..200).map(|k| b.at_frame(1, k, 5).is_some()).collect();
        assert_eq!(hits_a, hits_b, "same seed, same faults");
        let n = hits_a.iter().filter(|h| **h).count();
        assert!((30..90).contains(&n), "about 30 %: {n}");
    }

    #[test]
    fn nonsense_is_refused_with_a_hint() {
        let bad = |y: &str| {
            serde_saphyr::from_str::<Fault>(y)
                .unwrap()
                .check()
                .unwrap_err()
        };
        assert!(bad("{ when: { exchange: 1 }, do: collision }").contains("tap"));
        assert!(bad("{ when: { probability: 1.5 }, do: frame_lost }").contains("between 0 and 1"));
        assert!(
            bad("{ when: { exchange: 2, frame: 1 }, do: { slow_card: 2.0 } }")
                .contains("whole exchange")
        );
        assert!(bad("{ when: {}, do: frame_lost }").contains("needs"));
        assert!(bad("{ when: { exchange: 0 }, do: frame_lost }").contains("from 1"));
    }
}

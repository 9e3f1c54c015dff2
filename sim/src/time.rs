//! Virtual time: instants and durations of the simulated world, in nanoseconds.
//!
//! Nothing in `kazasu-sim` reads a clock. Callers pass `now` in; models return durations.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A length of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct SimDuration(u64);

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    /// A duration of `us` microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us.saturating_mul(1_000))
    }
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms.saturating_mul(1_000_000))
    }
    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s.saturating_mul(1_000_000_000))
    }
    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The duration in (fractional) milliseconds, for display.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    /// `self × factor`, saturating.
    pub fn mul_f64(self, factor: f64) -> Self {
        SimDuration((self.0 as f64 * factor).round().clamp(0.0, u64::MAX as f64) as u64)
    }
    /// `self - other`, or zero when `other` is longer.
    pub const fn saturating_sub(self, other: SimDuration) -> Self {
        SimDuration(self.0.saturating_sub(other.0))
    }
    /// `self × n`, saturating.
    pub const fn saturating_mul(self, n: u64) -> Self {
        SimDuration(self.0.saturating_mul(n))
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, rhs: SimDuration) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl From<std::time::Duration> for SimDuration {
    fn from(d: std::time::Duration) -> Self {
        SimDuration(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl From<SimDuration> for std::time::Duration {
    fn from(d: SimDuration) -> Self {
        std::time::Duration::from_nanos(d.0)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns >= 1_000_000_000 {
            write!(f, "{:.3} s", ns as f64 / 1e9)
        } else if ns >= 1_000_000 {
            write!(f, "{:.3} ms", ns as f64 / 1e6)
        } else if ns >= 1_000 {
            write!(f, "{:.1} µs", ns as f64 / 1e3)
        } else {
            write!(f, "{ns} ns")
        }
    }
}

/// An instant of simulated time: nanoseconds since the simulated world began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct SimTime(u64);

impl SimTime {
    /// The instant the simulated world begins.
    pub const START: SimTime = SimTime(0);

    /// The instant `ns` nanoseconds after the start.
    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Time elapsed from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.since(rhs)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{}", SimDuration(self.0))
    }
}

/// Serde form of durations in profiles: a human string such as `"350ms"`, `"1.5s"` or `"800us"`.
pub(crate) mod human {
    use super::SimDuration;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SimDuration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(D::Error::custom)
    }

    pub fn serialize<S: Serializer>(v: &SimDuration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration((*v).into()).to_string())
    }

    /// Text that is not a duration.
    #[derive(Clone, Debug, PartialEq, thiserror::Error)]
    #[error("`{text}` is not a duration ({reason}); write e.g. \"350ms\", \"1.5s\" or \"800us\"")]
    pub struct NotADuration {
        /// The text.
        pub text: String,
        /// Where it breaks.
        pub reason: humantime::DurationError,
    }

    /// Parses `"350ms"`, `"1s 500ms"`, `"800us"`, `"0"`.
    pub fn parse(text: &str) -> Result<SimDuration, NotADuration> {
        let t = text.trim();
        if t == "0" {
            return Ok(SimDuration::ZERO);
        }
        humantime::parse_duration(t)
            .map(SimDuration::from)
            .map_err(|reason| NotADuration {
                text: text.to_owned(),
                reason,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_readable_units() {
        assert_eq!(SimDuration::from_nanos(999).to_string(), "999 ns");
        assert_eq!(SimDuration::from_micros(94).to_string(), "94.0 µs");
        assert_eq!(SimDuration::from_millis(350).to_string(), "350.000 ms");
        assert_eq!(SimDuration::from_secs(2).to_string(), "2.000 s");
    }

    #[test]
    fn human_durations_parse() {
        assert_eq!(
            human::parse("350ms").unwrap(),
            SimDuration::from_millis(350)
        );
        assert_eq!(
            human::parse("800us").unwrap(),
            SimDuration::from_micros(800)
        );
        assert_eq!(human::parse("0").unwrap(), SimDuration::ZERO);
        let err = human::parse("fast").unwrap_err();
        assert!(err.to_string().contains("\"350ms\""), "{err}");
    }

    #[test]
    fn time_arithmetic_saturates() {
        let t = SimTime::from_nanos(u64::MAX - 1) + SimDuration::from_secs(1);
        assert_eq!(t.as_nanos(), u64::MAX);
        assert_eq!(SimTime::START.since(t), SimDuration::ZERO);
    }
}

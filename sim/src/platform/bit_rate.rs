//! The bit rates of ISO/IEC 14443 — fc/128, fc/64, fc/32 and fc/16: 106, 212, 424 and 848
//! kbit/s —, the one list every profile check, scenario check and calibration takes its rates
//! from.

use std::fmt;

/// A bit rate ISO/IEC 14443 defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BitRate {
    /// fc/128, 106 kbit/s: every card and reader has it.
    K106,
    /// fc/64, 212 kbit/s.
    K212,
    /// fc/32, 424 kbit/s.
    K424,
    /// fc/16, 848 kbit/s.
    K848,
}

/// A number that is not one of the bit rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} kbit/s is not a bit rate of ISO/IEC 14443 (106, 212, 424 or 848)")]
pub struct NotABitRate(pub u32);

impl BitRate {
    /// Every bit rate, slowest first.
    pub const ALL: [BitRate; 4] = [BitRate::K106, BitRate::K212, BitRate::K424, BitRate::K848];

    /// kbit/s.
    pub const fn kbps(self) -> u32 {
        match self {
            BitRate::K106 => 106,
            BitRate::K212 => 212,
            BitRate::K424 => 424,
            BitRate::K848 => 848,
        }
    }

    /// The bit rate of `kbps`, if it is one.
    pub fn from_kbps(kbps: u32) -> Result<BitRate, NotABitRate> {
        BitRate::ALL
            .into_iter()
            .find(|r| r.kbps() == kbps)
            .ok_or(NotABitRate(kbps))
    }

    /// The bit rate nearest to an effective rate (a measured one, say).
    pub fn nearest(kbps: f64) -> BitRate {
        BitRate::ALL
            .into_iter()
            .min_by(|a, b| {
                (f64::from(a.kbps()) - kbps)
                    .abs()
                    .total_cmp(&(f64::from(b.kbps()) - kbps).abs())
            })
            .unwrap_or(BitRate::K106)
    }
}

impl fmt::Display for BitRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} kbit/s", self.kbps())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_rates_and_nothing_else() {
        let kbps: Vec<u32> = BitRate::ALL.iter().map(|r| r.kbps()).collect();
        assert_eq!(kbps, [106, 212, 424, 848]);
        for r in BitRate::ALL {
            assert_eq!(BitRate::from_kbps(r.kbps()), Ok(r));
        }
        assert_eq!(BitRate::from_kbps(400), Err(NotABitRate(400)));
        assert!(NotABitRate(0).to_string().contains("106, 212, 424 or 848"));
    }

    #[test]
    fn a_measured_rate_is_taken_to_the_nearest() {
        assert_eq!(BitRate::nearest(415.0), BitRate::K424);
        assert_eq!(BitRate::nearest(0.0), BitRate::K106);
        assert_eq!(BitRate::nearest(10_000.0), BitRate::K848);
        assert_eq!(BitRate::nearest(f64::NAN), BitRate::K106);
        assert_eq!(BitRate::K212.to_string(), "212 kbit/s");
    }
}

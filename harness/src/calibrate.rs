//! Reader calibration (`kazasu calibrate`): from round trips measured through PC/SC with the
//! readertest applet on the reader, estimate the reader profile's timing values — the host and
//! driver overhead (from GET DATA `FF CA`, which the reader answers itself, so no air time) and
//! the effective bit rate (from the slope of round trip against answer length, compared with
//! kazasu's own air-time model of the same card) — and write a profile whose measured values say
//! `sure: measured`, with the device, date, ATR, sample counts and spread. Pure: the CLI does the
//! measuring.

use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, ReaderProfile};
use std::sync::Arc;

/// The readertest applet's AID (SELECT it before measuring).
pub const READERTEST_SELECT: [u8; 12] = [
    0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x18, 0xFF, 0x01,
];

/// The answer lengths of the sweep (single frames of a 256-byte reader).
pub const SWEEP: [usize; 8] = [1, 32, 64, 96, 128, 160, 192, 224];

/// The readertest case-2 command for an answer of `n` bytes (1..=255).
pub fn case2(n: usize) -> Vec<u8> {
    vec![0x80, 0x34, 0x00, n as u8, n as u8]
}

/// Middle value (the mean of the two middle ones for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Median absolute deviation from the median, relative to the median.
pub fn relative_spread(values: &[f64]) -> f64 {
    let Some(m) = median(values) else { return 0.0 };
    let dev: Vec<f64> = values.iter().map(|x| (x - m).abs()).collect();
    median(&dev).unwrap_or(0.0) / m.abs().max(f64::MIN_POSITIVE)
}

/// A least-squares line `y = intercept + slope · x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    /// y at x = 0.
    pub intercept: f64,
    /// dy/dx.
    pub slope: f64,
}

/// The least-squares line through `points` (at least two distinct x).
pub fn fit(points: &[(f64, f64)]) -> Option<Line> {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    if points.len() < 2 || sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    Some(Line {
        intercept: my - slope * mx,
        slope,
    })
}

/// Seconds per answer byte that kazasu's model gives `card` behind `reader` at its bit rate:
/// the slope of the modelled case-2 round trips over [`SWEEP`].
pub fn modelled_slope(reader: &ReaderProfile, card: &CardProfile) -> Result<f64, String> {
    let card = Card::new(
        Arc::new(card.clone()),
        Fixtures::embedded().default_subject(),
        1,
    )
    .map_err(|e| e.to_string())?;
    let mut model = Reader::new(
        Arc::new(reader.clone()),
        card,
        FaultPlan::none(rand_core::SeedableRng::seed_from_u64(1)),
    );
    model.tap().map_err(|e| e.to_string())?;
    model
        .transmit(&READERTEST_SELECT)
        .map_err(|e| e.to_string())?;
    let mut points = Vec::new();
    for n in SWEEP {
        let t = model.transmit(&case2(n)).map_err(|e| e.to_string())?;
        points.push((n as f64, t.duration.as_nanos() as f64 / 1e9));
    }
    fit(&points)
        .map(|l| l.slope)
        .ok_or_else(|| "no slope".into())
}

/// What a calibration measured (times in seconds, baseline already subtracted).
#[derive(Clone, Debug)]
pub struct Measured {
    /// Median round trip of GET DATA `FF CA 00 00 00` (answered by the reader).
    pub get_data: f64,
    /// Spread of those samples (relative).
    pub get_data_spread: f64,
    /// Round trip against answer length.
    pub answers: Line,
    /// Samples per point.
    pub samples: usize,
    /// Largest relative spread over the sweep's points.
    pub sweep_spread: f64,
    /// How the reader handled an extended-length case 2, and the largest answer it carried
    /// (`None`: not measured — a capture without the probe).
    pub extended: Option<(kazasu_sim::reader::profile::ExtendedApdus, usize)>,
    /// The device's PC/SC name.
    pub device: String,
    /// The card's ATR, hex.
    pub atr: String,
    /// When, RFC 3339 UTC.
    pub date: String,
    /// Whether a null-responder baseline was subtracted.
    pub baseline: Option<String>,
    /// What the reader's USB descriptors say, where a capture shows them.
    pub usb: Option<kazasu_sim::reader::profile::UsbCcid>,
}

/// What a capture lacks to calibrate a reader from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAReadertestSession {
    /// The reader's own answer, which tells its overhead from the card's time.
    #[error(
        "no GET DATA FF CA answered with 90 00: the reader's own overhead cannot be told from the card's time"
    )]
    NoGetData,
    /// The sweep, whose slope gives the bit rate.
    #[error(
        "fewer than two answer lengths of the readertest sweep (80 34 00 n n answered with n bytes and 90 00)"
    )]
    NoSweep,
}

/// What a capture of a readertest card's session shows of its reader — a USB capture of
/// `kazasu calibrate` (or of any program sending the same commands) through a CCID reader, or
/// any capture with each exchange's time: the GET DATA `FF CA` round trips and the readertest
/// answer-length sweep (`80 34 00 n n`), as [`Measured`] with `device`, `atr` and `date` given.
/// Fails saying what is missing.
pub fn measured_from_exchanges(
    exchanges: &[(Vec<u8>, Vec<u8>, f64)],
    device: &str,
    atr: &str,
    date: &str,
) -> Result<Measured, NotAReadertestSession> {
    let ok = |r: &[u8]| r.ends_with(&[0x90, 0x00]);
    let get_data: Vec<f64> = exchanges
        .iter()
        .filter(|(c, r, _)| c.starts_with(&[0xFF, 0xCA]) && ok(r))
        .map(|(_, _, s)| *s)
        .collect();
    let mut by_length: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for (c, r, s) in exchanges {
        if let [0x80, 0x34, 0x00, n, le] = c[..]
            && n == le
            && n > 0
            && r.len() == usize::from(n) + 2
            && ok(r)
        {
            by_length.entry(usize::from(n)).or_default().push(*s);
        }
    }
    let Some(overhead) = median(&get_data) else {
        return Err(NotAReadertestSession::NoGetData);
    };
    let points: Vec<(f64, f64)> = by_length
        .iter()
        .filter_map(|(n, v)| Some((*n as f64, median(v)?)))
        .collect();
    let answers = fit(&points).ok_or(NotAReadertestSession::NoSweep)?;
    Ok(Measured {
        get_data: overhead,
        get_data_spread: relative_spread(&get_data),
        answers,
        samples: by_length.values().map(Vec::len).min().unwrap_or(0),
        sweep_spread: by_length
            .values()
            .map(|v| relative_spread(v))
            .fold(0.0, f64::max),
        extended: None,
        device: device.to_string(),
        atr: atr.to_string(),
        date: date.to_string(),
        baseline: None,
        usb: None,
    })
}

/// The values a calibration estimates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Host, driver and reader overhead per exchange, seconds.
    pub host_overhead: f64,
    /// Effective bit rate, kbit/s.
    pub kbps: f64,
    /// The standard bit rate (106, 212, 424, 848) nearest to it.
    pub nominal_kbps: u32,
}

/// Estimates the timing values from `m`, with `card` the profile the readertest card's air
/// time is modelled from and `base` the reader profile the rest comes from.
pub fn estimate(
    m: &Measured,
    base: &ReaderProfile,
    card: &CardProfile,
) -> Result<Estimate, String> {
    // The model's slope is a + b / kbps: air time per byte scales with the bit duration, the
    // card's own work per byte does not. Two rates give a and b; the measured slope gives kbps.
    let slope_at = |kbps: u32| {
        let mut r = base.clone();
        r.bit_rates.value = vec![kbps];
        modelled_slope(&r, card)
    };
    let (s106, s848) = (slope_at(106)?, slope_at(848)?);
    let b = (s106 - s848) / (1.0 / 106.0 - 1.0 / 848.0);
    let a = s106 - b / 106.0;
    if m.answers.slope <= a || b <= 0.0 {
        return Err(format!(
            "the round trip does not grow with the answer length (slope {:.3} µs/byte): the samples are too noisy; measure with more repetitions",
            m.answers.slope * 1e6
        ));
    }
    let kbps = b / (m.answers.slope - a);
    let nominal_kbps = kazasu_sim::BitRate::nearest(kbps).kbps();
    Ok(Estimate {
        host_overhead: m.get_data.max(0.0),
        kbps,
        nominal_kbps,
    })
}

/// The reader profile `base_text` with the estimated values, each `sure: measured` with a note
/// saying how; `name` renames it.
pub fn profile_yaml(base_text: &str, name: &str, e: &Estimate, m: &Measured) -> String {
    let rates: Vec<String> = kazasu_sim::BitRate::ALL
        .into_iter()
        .map(kazasu_sim::BitRate::kbps)
        .filter(|r| *r <= e.nominal_kbps)
        .map(|r| r.to_string())
        .collect();
    let how = format!(
        "kazasu calibrate on {} ({}), card ATR {}, {} samples a point{}",
        m.device,
        m.date,
        m.atr,
        m.samples,
        m.baseline
            .as_ref()
            .map(|b| format!(", stack baseline {b} subtracted"))
            .unwrap_or_default()
    );
    let extended = m.extended.map(|(how, largest)| {
        let how = match how {
            kazasu_sim::reader::profile::ExtendedApdus::Supported => "supported",
            kazasu_sim::reader::profile::ExtendedApdus::WrongLength => "wrong-length",
            kazasu_sim::reader::profile::ExtendedApdus::TransportError => "transport-error",
        };
        (how, largest)
    });
    let header = format!(
        "# Measured by kazasu calibrate: {how}.\n# Values without `sure: measured` come from the base profile.\n"
    );
    let usb = m.usb.as_ref().map(|u| {
        format!(
            "usb: {{ value: {{ id: \"{}\", max_message: {}, max_ifsd: {} }}, sure: measured, note: \"the reader's device and CCID class descriptors; {how}\" }}",
            u.id, u.max_message, u.max_ifsd
        )
    });
    let mut text = crate::profiles::rewrite_yaml(base_text, &header, |at| {
        match (at.indent, at.key) {
        (0, "usb") => usb.clone(),
        (0, "name") => Some(format!("name: {name}")),
        (0, "description") => Some(format!(
            "description: \"{} as calibrated by kazasu ({}); timing values measured, the rest from the base profile\"",
            m.device.replace(['"', '\\'], "'"),
            m.date
        )),
        (0, "bit_rates") => Some(format!(
            "bit_rates: {{ value: [{}], sure: measured, note: \"effective {:.0} kbit/s from the round-trip slope (spread {:.1} %); {how}\" }}",
            rates.join(", "),
            e.kbps,
            m.sweep_spread * 100.0
        )),
        (0, "host_overhead") => Some(format!(
            "host_overhead: {{ value: {}us, sure: measured, note: \"median GET DATA FF CA round trip (spread {:.1} %); {how}\" }}",
            (e.host_overhead * 1e6).round() as u64,
            m.get_data_spread * 100.0
        )),
        (0, "extended_apdus") => extended.map(|(value, largest)| format!(
            "extended_apdus: {{ value: {value}, sure: measured, note: \"largest answer carried: {largest} bytes; {how}\" }}"
        )),
        _ => None,
    }
    });
    // A base profile without a `usb:` line (the built-in ones) gets one at the end.
    if let Some(line) = usb.filter(|_| !base_text.lines().any(|l| l.starts_with("usb:"))) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_spreads_and_lines() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert!(relative_spread(&[1.0, 1.0, 1.0]) == 0.0);
        let l = fit(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
        assert!((l.slope - 2.0).abs() < 1e-12 && (l.intercept - 1.0).abs() < 1e-12);
        assert!(fit(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    #[test]
    fn the_models_own_round_trips_estimate_its_profile() {
        // Feed the estimator kazasu's own modelled round trips: it must give back the profile.
        let reader = ReaderProfile::builtin("typical-424k").unwrap();
        let card = CardProfile::builtin("readertest").unwrap();
        let slope = modelled_slope(&reader, &card).unwrap();
        let m = Measured {
            get_data: reader.host_overhead.value.0.as_nanos() as f64 / 1e9,
            get_data_spread: 0.0,
            answers: Line {
                intercept: 0.002,
                slope,
            },
            samples: 1,
            sweep_spread: 0.0,
            extended: Some((kazasu_sim::reader::profile::ExtendedApdus::Supported, 65533)),
            device: "model".into(),
            atr: "3B".into(),
            date: "2026-12-03T00:00:00Z".into(),
            baseline: None,
            usb: None,
        };
        let e = estimate(&m, &reader, &card).unwrap();
        assert_eq!(e.nominal_kbps, 424);
        assert!((e.kbps - 424.0).abs() / 424.0 < 0.02, "{e:?}");
        assert!((e.host_overhead - 0.001).abs() < 1e-9, "{e:?}");
        let text = kazasu_sim::reader::profile::BUILTIN_READER_PROFILES
            .iter()
            .find(|(n, _)| *n == "typical-424k")
            .unwrap()
            .1;
        let yaml = profile_yaml(text, "acme-r10", &e, &m);
        let p = ReaderProfile::from_yaml(&yaml, "calibrated").unwrap();
        assert_eq!(p.name, "acme-r10");
        assert_eq!(p.bit_rates.value, vec![106, 212, 424]);
        assert_eq!(p.host_overhead.value.0.as_nanos(), 1_000_000);
        assert!(yaml.contains("sure: measured"), "{yaml}");
    }
}

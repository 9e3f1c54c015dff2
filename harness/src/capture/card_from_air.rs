//! A card's (or phone's) profile from what an air capture shows (`kazasu calibrate
//! --from-capture`): the activation gives its type, frame size (FSCI), frame waiting time (FWI),
//! start-up guard (SFGI), bit rates and historical bytes; each exchange gives the time the card
//! took — from the end of the reader's last command frame to the start of the card's answer,
//! the waiting-time extensions it asked for included — by command class, READ BINARY fitted
//! against its answer's length; and the frames show the largest the card sent and received and
//! how often it asked for more time. Pure: frames in, facts and a profile's text out.

use crate::calibrate::{fit, median, relative_spread};
use crate::capture::trace::AirFrame;
use kazasu_sim::iso14443::frame::{Block, BlockKind, check_crc};
use kazasu_sim::iso14443::timing::frame_air_time;
use kazasu_sim::platform::profile::NfcType;
use std::collections::BTreeMap;

/// The command classes of a card profile's processing times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// SELECT.
    Select,
    /// READ BINARY.
    Read,
    /// VERIFY.
    Verify,
    /// CHANGE REFERENCE DATA.
    ChangePin,
    /// COMPUTE DIGITAL SIGNATURE (INS 2A).
    Sign,
    /// Anything else.
    Other,
}

impl Class {
    fn of(command: &[u8]) -> Class {
        match command.get(1) {
            Some(0xA4) => Class::Select,
            Some(0xB0) => Class::Read,
            Some(0x20) => Class::Verify,
            Some(0x24) => Class::ChangePin,
            Some(0x2A) => Class::Sign,
            _ => Class::Other,
        }
    }
    /// The card profile's key under `processing:`.
    fn key(self) -> &'static str {
        match self {
            Class::Select => "select",
            Class::Read => "read",
            Class::Verify => "verify",
            Class::ChangePin => "change_pin",
            Class::Sign => "sign",
            Class::Other => "other",
        }
    }
}

/// One exchange as the air showed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// From the end of the command's last frame to the start of the card's answer, µs (`None`:
    /// the capture has no answer — the card never gave one, or the sniffer missed it).
    pub took_us: Option<f64>,
    /// The answer's data length (without SW1 SW2).
    pub data_len: usize,
    /// The WTXM of each S(WTX) the card sent meanwhile.
    pub wtx: Vec<u8>,
}

/// What an air capture shows of a card.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CardFacts {
    /// Type A or B.
    pub nfc: Option<NfcType>,
    /// FSCI (ATS T0 or ATQB protocol info).
    pub fsci: Option<u8>,
    /// FWI.
    pub fwi: Option<u8>,
    /// SFGI.
    pub sfgi: Option<u8>,
    /// Bit rates the card offers both ways.
    pub bit_rates: Option<Vec<u32>>,
    /// ATS historical bytes (Type A) or ATQB application data (Type B).
    pub historical: Option<Vec<u8>>,
    /// The bit rate the reader chose (PPS or ATTRIB), kbit/s.
    pub kbps: u32,
    /// Exchanges by command class.
    pub samples: BTreeMap<Class, Vec<Sample>>,
    /// The largest frame the card sent, CRC included.
    pub largest_from_card: usize,
    /// The largest frame the reader sent the card.
    pub largest_to_card: usize,
    /// Every exchange in the capture's order, for a replay that answers each command after its
    /// own time and an import that notes it.
    pub timeline: Vec<AirExchange>,
}

/// An air capture's card: what a replay through kazasu's air model plays.
#[derive(Clone, Debug)]
pub struct AirCard {
    /// Its radio side and processing times.
    pub profile: std::sync::Arc<kazasu_sim::CardProfile>,
    /// Each exchange as the air showed it, in the capture's order.
    pub timeline: Vec<AirExchange>,
    /// The profile in a line.
    pub summary: String,
}

impl AirCard {
    /// The card `frames` show, its profile named `name` (on the built-in base for its type) and
    /// its source given as `source`; `None` without the card's activation in the frames.
    pub fn from_frames(
        frames: &[AirFrame],
        name: &str,
        source: &str,
    ) -> Result<Option<AirCard>, crate::profiles::LoadError> {
        let facts = card_facts(frames);
        let (Some(nfc), Some(fsci), Some(fwi)) = (facts.nfc, facts.fsci, facts.fwi) else {
            return Ok(None);
        };
        let base = default_base(&facts);
        let base_text = crate::profiles::card_profile_text(base)?;
        let yaml = profile_yaml(&base_text, name, &facts, source);
        let profile = kazasu_sim::CardProfile::from_yaml(&yaml, name)?;
        let wtx: usize = facts.samples.values().flatten().map(|s| s.wtx.len()).sum();
        let summary = format!(
            "the card as its activation shows it, on {base}: Type {nfc:?}, FSCI {fsci}, FWI \
             {fwi}, {} kbit/s; {wtx} S(WTX) in the capture",
            facts.kbps
        );
        Ok(Some(AirCard {
            profile: std::sync::Arc::new(profile),
            timeline: facts.timeline,
            summary,
        }))
    }
}

/// One exchange as the air showed it, in the capture's order.
#[derive(Clone, Debug, PartialEq)]
pub struct AirExchange {
    /// The command (its I-blocks joined).
    pub command: Vec<u8>,
    /// The packet (record) of its last frame: the import's position of the exchange.
    pub packet: usize,
    /// The card's time for it, as in [`Sample::took_us`].
    pub took_us: Option<f64>,
    /// The WTXM of each S(WTX) the card sent meanwhile.
    pub wtx: Vec<u8>,
}

impl AirExchange {
    /// What the air adds to an imported step's comment: `card 183.1ms after 3 S(WTX) of WTXM 1`.
    pub fn note(&self) -> String {
        let mut s = match self.took_us {
            Some(t) => format!("card {:.1}ms", t / 1e3),
            None => "no answer on the air".to_string(),
        };
        if !self.wtx.is_empty() {
            let mut m: Vec<String> = self.wtx.iter().map(u8::to_string).collect();
            m.dedup();
            s.push_str(&format!(
                " after {} S(WTX) of WTXM {}",
                self.wtx.len(),
                m.join("/")
            ));
        }
        s
    }
}

/// A command sent, waiting for the card's answer.
struct Waiting {
    command: Vec<u8>,
    /// The packet of its last frame.
    packet: usize,
    /// When its last frame ended, µs.
    end: f64,
    /// When the card's first answer frame began, µs.
    first: Option<f64>,
    /// The WTXM of each S(WTX) so far.
    wtx: Vec<u8>,
}

impl CardFacts {
    /// Records the exchange of `w`, answered after `took_us` with `data_len` bytes of data.
    fn record(&mut self, w: Waiting, took_us: Option<f64>, data_len: usize) {
        self.samples
            .entry(Class::of(&w.command))
            .or_default()
            .push(Sample {
                took_us,
                data_len,
                wtx: w.wtx.clone(),
            });
        self.timeline.push(AirExchange {
            command: w.command,
            packet: w.packet,
            took_us,
            wtx: w.wtx,
        });
    }
}

/// Bit rates offered both ways by a TA(1) / ATQB bit-rate byte.
fn rates_of(byte: u8) -> Vec<u32> {
    let mut r = vec![106];
    for (mask, kbps) in [(0x11, 212), (0x22, 424), (0x44, 848)] {
        if byte & mask == mask {
            r.push(kbps);
        }
    }
    r
}

/// The rate of a divisor code (0: 106 … 3: 848).
fn rate(code: u8) -> u32 {
    106 << (code & 3)
}

/// What `frames` show of the card.
pub fn card_facts(frames: &[AirFrame]) -> CardFacts {
    let mut f = CardFacts {
        kbps: 106,
        ..CardFacts::default()
    };
    // The reader's frame the card's next one answers: RATS, REQB (and WUPB) or other.
    let mut asked: u8 = 0;
    let mut command: Vec<u8> = Vec::new();
    let mut answer: Vec<u8> = Vec::new();
    // The command waiting: its class, when its last frame ended, the card's first answer frame
    // time, the WTXMs.
    let mut waiting: Option<Waiting> = None;
    for frame in frames {
        let b = &frame.bytes;
        let to_card = matches!(frame.event, 0xFE | 0xFA);
        if !to_card && !matches!(frame.event, 0xFF | 0xFB) {
            continue;
        }
        if frame.event == 0xFE && b.len() == 1 && matches!(b[0], 0x26 | 0x52) {
            f.nfc = Some(NfcType::A);
            continue;
        }
        if frame.event == 0xFE && b.len() >= 2 && matches!(b[0], 0x93 | 0x95 | 0x97) && b[1] != 0x70
        {
            continue;
        }
        let body: &[u8] = if matches!(frame.event, 0xFA | 0xFB) {
            b
        } else {
            let nfcs = f.nfc.map_or(vec![NfcType::A, NfcType::B], |n| vec![n]);
            match nfcs
                .into_iter()
                .find_map(|n| check_crc(n, b).ok().map(|x| (n, x)))
            {
                Some((n, x)) => {
                    f.nfc = Some(n);
                    x
                }
                None => continue,
            }
        };
        let nfc = f.nfc.unwrap_or(NfcType::A);
        if to_card {
            asked = 0;
            match body {
                [0xE0, _] if waiting.is_none() => asked = 0xE0,
                [0x05, _, _] => {
                    f.nfc = Some(NfcType::B);
                    asked = 0x05;
                }
                [0x1D, _, _, _, _, _, p2, ..] => f.kbps = rate(p2 >> 6).min(rate(p2 >> 4)),
                [pps, 0x11, p1] if pps & 0xF0 == 0xD0 => f.kbps = rate(*p1 >> 2).min(rate(*p1)),
                _ => {
                    let Ok(block) = Block::parse(body) else {
                        continue;
                    };
                    if let BlockKind::I { chaining } = block.kind {
                        f.largest_to_card = f.largest_to_card.max(b.len());
                        command.extend_from_slice(block.inf);
                        if !chaining {
                            let air =
                                frame_air_time(nfc, f.kbps, b.len(), false).as_nanos() as f64 / 1e3;
                            let end = frame.at_us as f64 + air;
                            // A new command: the last one got no answer the capture shows.
                            if let Some(w) = waiting.take() {
                                f.record(w, None, 0);
                            }
                            waiting = Some(Waiting {
                                command: std::mem::take(&mut command),
                                packet: frame.number,
                                end,
                                first: None,
                                wtx: Vec::new(),
                            });
                            answer.clear();
                        }
                    }
                }
            }
            continue;
        }
        match asked {
            0xE0 => {
                // ATS: TL, T0 (FSCI, which of TA TB TC follow), TA bit rates, TB FWI/SFGI.
                if let Some(&t0) = body.get(1) {
                    f.fsci = Some(t0 & 0x0F);
                    let mut at = 2;
                    if t0 & 0x10 != 0 {
                        f.bit_rates = body.get(at).map(|b| rates_of(*b));
                        at += 1;
                    }
                    if t0 & 0x20 != 0 {
                        if let Some(tb) = body.get(at) {
                            f.fwi = Some(tb >> 4);
                            f.sfgi = Some(tb & 0x0F);
                        }
                        at += 1;
                    }
                    if t0 & 0x40 != 0 {
                        at += 1;
                    }
                    let end = usize::from(body[0]).min(body.len());
                    f.historical = body.get(at..end).map(<[u8]>::to_vec);
                }
                asked = 0;
                continue;
            }
            0x05 if body.len() >= 12 && body[0] == 0x50 => {
                // ATQB: 50, PUPI, application data, protocol info (rates, FSCI, FWI; SFGI in
                // a fourth byte when extended).
                f.historical = Some(body[5..9].to_vec());
                f.bit_rates = Some(rates_of(body[9]));
                f.fsci = Some(body[10] >> 4);
                f.fwi = Some(body[11] >> 4);
                f.sfgi = body.get(12).map(|b| b >> 4).or(Some(0));
                asked = 0;
                continue;
            }
            _ => {}
        }
        let Ok(block) = Block::parse(body) else {
            continue;
        };
        let Some(w) = waiting.as_mut() else {
            continue;
        };
        match block.kind {
            BlockKind::Wtx { wtxm } => w.wtx.push(wtxm),
            BlockKind::I { chaining } => {
                f.largest_from_card = f.largest_from_card.max(b.len());
                w.first.get_or_insert(frame.at_us as f64);
                answer.extend_from_slice(block.inf);
                if !chaining && let Some(w) = waiting.take() {
                    let took = w.first.map(|t| (t - w.end).max(0.0));
                    f.record(w, took, answer.len().saturating_sub(2));
                    answer.clear();
                }
            }
            _ => {}
        }
    }
    if let Some(w) = waiting {
        f.record(w, None, 0);
    }
    f
}

/// The built-in profile a capture's card is described on when none is chosen: the My Number
/// card for a Type B card, a phone for a Type A one.
pub fn default_base(f: &CardFacts) -> &'static str {
    match f.nfc {
        Some(NfcType::B) => "mynumber-card",
        _ => "iphone-jpki",
    }
}

/// Where a profile made from a capture came from: the file's name and the start of its SHA-256.
pub fn capture_source(file: &std::path::Path, bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(bytes));
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!("{name} (sha256 {}…)", &hash[..16])
}

/// One estimated processing time: value (µs), spread, samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Microseconds.
    pub us: f64,
    /// Relative spread (median absolute deviation ÷ median).
    pub spread: f64,
    /// How many exchanges.
    pub n: usize,
}

/// Processing times by profile key (`select`, `read`, `read_per_kib`, …).
pub fn processing(f: &CardFacts) -> BTreeMap<&'static str, Estimate> {
    let mut out = BTreeMap::new();
    for (class, samples) in &f.samples {
        let took: Vec<f64> = samples.iter().filter_map(|s| s.took_us).collect();
        if *class == Class::Read {
            let points: Vec<(f64, f64)> = samples
                .iter()
                .filter_map(|s| Some((s.data_len as f64 / 1024.0, s.took_us?)))
                .collect();
            if let Some(line) = fit(&points) {
                let off: Vec<f64> = points
                    .iter()
                    .map(|(x, y)| (y - (line.intercept + line.slope * x)).abs())
                    .collect();
                let spread =
                    median(&off).unwrap_or(0.0) / line.intercept.abs().max(f64::MIN_POSITIVE);
                out.insert(
                    "read",
                    Estimate {
                        us: line.intercept.max(0.0),
                        spread,
                        n: points.len(),
                    },
                );
                out.insert(
                    "read_per_kib",
                    Estimate {
                        us: line.slope.max(0.0),
                        spread: 0.0,
                        n: points.len(),
                    },
                );
                continue;
            }
        }
        if let Some(m) = median(&took) {
            out.insert(
                class.key(),
                Estimate {
                    us: m,
                    spread: relative_spread(&took),
                    n: took.len(),
                },
            );
        }
    }
    out
}

/// How often the card asked for more time, by class, in words.
pub fn wtx_use(f: &CardFacts) -> Vec<String> {
    f.samples
        .iter()
        .filter_map(|(class, samples)| {
            let asked: Vec<&Sample> = samples.iter().filter(|s| !s.wtx.is_empty()).collect();
            if asked.is_empty() {
                return None;
            }
            let mut m: Vec<u8> = asked.iter().flat_map(|s| s.wtx.iter().copied()).collect();
            m.sort_unstable();
            m.dedup();
            let requests: usize = asked.iter().map(|s| s.wtx.len()).sum();
            let unanswered = asked.iter().filter(|s| s.took_us.is_none()).count();
            Some(format!(
                "{}: {} of {} commands with S(WTX) ({requests} requests, WTXM {}{})",
                class.key(),
                asked.len(),
                samples.len(),
                m.iter().map(u8::to_string).collect::<Vec<_>>().join("/"),
                if unanswered > 0 {
                    format!("; {unanswered} with no answer in the capture")
                } else {
                    String::new()
                }
            ))
        })
        .collect()
}

/// The card profile `base_text` with what the capture shows, each value `sure: measured` with a
/// note on how; `name` renames it, `source` names the capture (file and hash).
pub fn profile_yaml(base_text: &str, name: &str, f: &CardFacts, source: &str) -> String {
    let times = processing(f);
    let exchanges: usize = f.samples.values().map(Vec::len).sum();
    let answered = f
        .samples
        .values()
        .flatten()
        .filter(|s| s.took_us.is_some())
        .count();
    let wtx = wtx_use(f);
    let header = format!(
        "# Measured by kazasu calibrate --from-capture from {source}: {exchanges} commands, \
         {answered} with their answer.\n\
         # Frames: the card sent up to {} bytes, the reader sent it up to {} (CRC included); \
         WTX: {}.\n# Values without `sure: measured` come from the base profile.\n",
        f.largest_from_card,
        f.largest_to_card,
        if wtx.is_empty() {
            "never asked".to_string()
        } else {
            wtx.join("; ")
        }
    );
    let how = format!("kazasu calibrate --from-capture, {source}");
    let hex = |b: &[u8]| kazasu_sim::hex_spaced(b);
    crate::profiles::rewrite_yaml(base_text, &header, |at| {
        let measured = |value: String, note: String| {
            Some(format!(
                "{}{}: {{ value: {value}, sure: measured, note: \"{note}; {how}\" }}",
                " ".repeat(at.indent),
                at.key
            ))
        };
        let activation = || "from the ATS / ATQB".to_string();
        match (at.group, at.key) {
            ("", "name") => Some(format!("name: {name}")),
            ("", "description") => Some(format!(
                "description: \"a card as an air capture shows it ({})\"",
                source.replace(['"', '\\'], "'")
            )),
            ("contactless", "type") => f
                .nfc
                .and_then(|n| measured(format!("{n:?}"), "from the activation".into())),
            ("contactless", "fsci") => f.fsci.and_then(|v| measured(v.to_string(), activation())),
            ("contactless", "fwi") => f.fwi.and_then(|v| measured(v.to_string(), activation())),
            ("contactless", "sfgi") => f.sfgi.and_then(|v| measured(v.to_string(), activation())),
            ("contactless", "bit_rates") => f.bit_rates.as_ref().and_then(|r| {
                let list: Vec<String> = r.iter().map(u32::to_string).collect();
                measured(format!("[{}]", list.join(", ")), activation())
            }),
            ("contactless", "historical_bytes") => f
                .historical
                .as_ref()
                .and_then(|h| measured(format!("\"{}\"", hex(h)), activation())),
            ("processing", k) => times.get(k).and_then(|e| {
                measured(
                    format!("{}us", e.us.round() as u64),
                    format!(
                        "median of {} exchange{}, spread {:.1} %",
                        e.n,
                        if e.n == 1 { "" } else { "s" },
                        e.spread * 100.0
                    ),
                )
            }),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kazasu_sim::iso14443::frame::append_crc;

    fn frame(at_us: u64, event: u8, body: &[u8]) -> AirFrame {
        let mut bytes = body.to_vec();
        append_crc(NfcType::B, &mut bytes);
        AirFrame {
            number: 0,
            at_us,
            event,
            bytes,
        }
    }

    #[test]
    fn a_type_b_activation_and_an_answer_after_wtx() {
        let frames = [
            frame(0, 0xFE, &[0x05, 0x00, 0x00]),
            // ATQB: PUPI, application data 00 00 05 E0, rates B3 (212/424 both ways), FSCI 8,
            // FWI 8.
            frame(
                1_000,
                0xFF,
                &[0x50, 1, 2, 3, 4, 0x00, 0x00, 0x05, 0xE0, 0xB3, 0x81, 0x81],
            ),
            frame(2_000, 0xFE, &[0x1D, 1, 2, 3, 4, 0x00, 0xA8, 0x01, 0x00]),
            frame(3_000, 0xFF, &[0x00]),
            frame(10_000, 0xFE, &[0x02, 0x80, 0x2A, 0x00, 0x80, 0x01, 0xAA]),
            frame(50_000, 0xFF, &[0xF2, 0x03]),
            frame(51_000, 0xFE, &[0xF2, 0x03]),
            frame(160_000, 0xFF, &[0x02, 0x12, 0x90, 0x00]),
            // A command the capture shows no answer to, after a WTX.
            frame(200_000, 0xFE, &[0x03, 0x80, 0x2A, 0x00, 0x80, 0x01, 0xAB]),
            frame(240_000, 0xFF, &[0xF2, 0x05]),
        ];
        let f = card_facts(&frames);
        assert_eq!(f.nfc, Some(NfcType::B));
        assert_eq!((f.fsci, f.fwi), (Some(8), Some(8)));
        assert_eq!(f.bit_rates, Some(vec![106, 212, 424]));
        assert_eq!(f.historical.as_deref(), Some(&[0x00, 0x00, 0x05, 0xE0][..]));
        assert_eq!(f.kbps, 424, "ATTRIB's parameter 2 chose 424 kbit/s");
        let signs = &f.samples[&Class::Sign];
        assert_eq!(signs.len(), 2);
        let took = signs[0].took_us.unwrap();
        let air = frame_air_time(NfcType::B, 424, 9, false).as_nanos() as f64 / 1e3;
        assert!((took - (150_000.0 - air)).abs() < 1.0, "{took}");
        assert_eq!(signs[1].took_us, None);
        assert_eq!(
            wtx_use(&f),
            [
                "sign: 2 of 2 commands with S(WTX) (2 requests, WTXM 3/5; 1 with no answer in the capture)"
            ]
        );
        assert_eq!(
            processing(&f)["sign"].n,
            1,
            "only answered commands time the card"
        );
    }
}

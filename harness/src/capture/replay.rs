//! Replaying a captured trace, sans IO. As the card: a [`RecordedCard`] answers a host with the
//! recorded responses (strict, skipping forward, or falling back to a virtual card's model when
//! the host deviates) and leaves the field where the recording shows it did. As the host:
//! [`replay_as_host`] sends the recorded commands to a virtual card and compares its answers with
//! the recorded ones, matching data that legitimately differs (signatures, random challenges,
//! UIDs) by class rather than by bytes.

use crate::capture::trace::{Outcome, Trace, What};
use crate::link::backend::Backend;
use crate::link::transport::{Transport, TransportError};
use crate::record::redact_secrets;
use kazasu_sim::{Card, CardReply, LinkError, SimDuration, SimTime, Subject, hex_spaced};
use std::fmt;

/// What a recorded card does when the host sends something the recording does not have next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Stop at the first divergence and report both sides (the card leaves the field).
    #[default]
    Strict,
    /// Scan forward to the next recorded exchange with the host's command.
    Skip,
    /// Answer the deviating command from a virtual card of a chosen profile.
    Model,
}

/// `true` for commands whose data is fresh each run (a digest to sign, a challenge to answer):
/// matched by header and length.
fn fresh_input_ins(ins: u8) -> bool {
    matches!(ins, 0x2A | 0x88 | 0x82 | 0x86 | 0x87)
}

/// Whether the host's command `sent` is the recorded command (by class where its data
/// legitimately differs between runs).
pub fn same_command(recorded: &[u8], redacted: bool, sent: &[u8]) -> bool {
    if recorded.len() < 4 || sent.len() < 4 {
        return recorded == sent;
    }
    // Secret-bearing commands are matched by header and length, never by value.
    let by_header =
        redacted || kazasu_sim::secret_bearing_ins(recorded[1]) || fresh_input_ins(recorded[1]);
    if by_header {
        recorded[..4] == sent[..4] && recorded.len() == sent.len()
    } else {
        recorded == sent
    }
}

/// How a response is compared with the recorded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseClass {
    /// Byte for byte.
    Exact,
    /// A signature or an authentication cryptogram: the same length and status word.
    Signature,
    /// A random challenge: the same length and status word.
    Random,
    /// The card's UID (GET DATA FF CA): the same length and status word.
    Uid,
}

impl ResponseClass {
    /// The class of the response to `command`.
    pub fn of(command: &[u8]) -> ResponseClass {
        match command {
            [0xFF, 0xCA, 0x00, ..] => ResponseClass::Uid,
            [_, 0x84, ..] => ResponseClass::Random,
            [_, ins, ..] if fresh_input_ins(*ins) => ResponseClass::Signature,
            _ => ResponseClass::Exact,
        }
    }
    fn name(self) -> &'static str {
        match self {
            ResponseClass::Exact => "exact",
            ResponseClass::Signature => "a signature: same length",
            ResponseClass::Random => "a random challenge: same length",
            ResponseClass::Uid => "a UID: same length",
        }
    }
}

/// The first point where the host left the recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// 1-based number of the recorded exchange the host should have sent.
    pub exchange: usize,
    /// Its line in the capture (0 past the end).
    pub line: usize,
    /// What the recording has next (redacted), or `None` past its end.
    pub expected: Option<String>,
    /// What the host sent (redacted).
    pub got: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expected {
            Some(e) => write!(
                f,
                "exchange {} (capture line {}): the recording has\n    > {e}\n  but the host sent\n    > {}",
                self.exchange, self.line, self.got
            ),
            None => write!(
                f,
                "after the recording's last exchange the host sent\n    > {}",
                self.got
            ),
        }
    }
}

/// One recorded exchange and what follows it.
#[derive(Clone, Debug)]
struct Recorded {
    command: Vec<u8>,
    redacted: bool,
    outcome: Outcome,
    took: SimDuration,
    line: usize,
    /// The card left the field after this exchange.
    then_removed: bool,
    /// … and came back.
    then_inserted: bool,
}

/// What the recorded card does with a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Answer with these bytes after this long.
    Respond {
        /// data ‖ SW1 SW2.
        response: Vec<u8>,
        /// The recorded (or modelled) duration.
        took: SimDuration,
    },
    /// The card leaves the field during the exchange (a recorded removal, an error the stack
    /// reported, or the end of a strict replay).
    Gone,
}

/// A card that answers with a recording.
pub struct RecordedCard {
    atr: Vec<u8>,
    script: Vec<Recorded>,
    cursor: usize,
    mode: Mode,
    model: Option<Card>,
    now: SimTime,
    /// The first divergence (strict and skip stop there).
    pub divergence: Option<Divergence>,
    /// Recorded exchanges passed over in skip mode.
    pub skipped: usize,
    /// Commands the model answered.
    pub by_model: usize,
    /// The card should leave the field after the answer just given.
    leave: bool,
    /// The card is out of the field; `true` until the recording brings it back.
    away: bool,
    stopped: bool,
}

impl RecordedCard {
    /// A recorded card for `trace`; `model` answers deviations in [`Mode::Model`].
    pub fn new(trace: &Trace, mode: Mode, model: Option<Card>) -> Result<RecordedCard, String> {
        if mode == Mode::Model && model.is_none() {
            return Err("model fallback needs a card profile to answer from (--card)".into());
        }
        let mut script: Vec<Recorded> = Vec::new();
        for e in &trace.events {
            match &e.what {
                What::Exchange {
                    command,
                    redacted,
                    outcome,
                    took_us,
                } => script.push(Recorded {
                    command: command.clone(),
                    redacted: *redacted,
                    outcome: outcome.clone(),
                    took: SimDuration::from_micros(took_us.unwrap_or(0)),
                    line: e.line,
                    then_removed: false,
                    then_inserted: false,
                }),
                What::Removed => {
                    if let Some(last) = script.last_mut() {
                        last.then_removed = true;
                    }
                }
                What::Inserted { .. } => {
                    if let Some(last) = script.last_mut().filter(|l| l.then_removed) {
                        last.then_inserted = true;
                    }
                }
            }
        }
        if script.is_empty() {
            return Err("the trace has no exchanges to replay".into());
        }
        let atr = trace
            .atr
            .clone()
            .or_else(|| model.as_ref().map(|m| m.atr().to_vec()))
            .unwrap_or_else(|| vec![0x3B, 0x80, 0x80, 0x01, 0x01]);
        let mut model = model;
        if let Some(m) = model.as_mut() {
            m.power_on();
        }
        Ok(RecordedCard {
            atr,
            script,
            cursor: 0,
            mode,
            model,
            now: SimTime::START,
            divergence: None,
            skipped: 0,
            by_model: 0,
            leave: false,
            away: false,
            stopped: false,
        })
    }

    /// The ATR to give the host.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }
    /// Recorded exchanges replayed so far (including skipped ones).
    pub fn position(&self) -> usize {
        self.cursor
    }
    /// Recorded exchanges in all.
    pub fn len(&self) -> usize {
        self.script.len()
    }
    /// Whether the recording has no exchanges (never: [`RecordedCard::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.script.is_empty()
    }
    /// Whether every recorded exchange has been replayed — or the card has left for good and
    /// the rest of the recording is the host failing to reach it (which a replay cannot make
    /// the host repeat: its stack answers those itself).
    pub fn finished(&self) -> bool {
        self.cursor >= self.script.len()
            || (self.away && !self.stopped && self.only_failures_left())
    }

    fn only_failures_left(&self) -> bool {
        self.script[self.cursor.min(self.script.len())..]
            .iter()
            .all(|r| !matches!(r.outcome, Outcome::Response(_)))
    }

    /// Recorded exchanges replayed, counting a failing tail after the card left for good.
    pub fn replayed(&self) -> usize {
        if self.finished() {
            self.script.len()
        } else {
            self.cursor
        }
    }

    /// A command sent while the card is away: when the recording has the same command failing
    /// next, that is part of the recording (the host trying a card that left).
    pub fn absorb_while_away(&mut self, command: &[u8]) {
        if let Some(r) = self.script.get(self.cursor)
            && !matches!(r.outcome, Outcome::Response(_))
            && same_command(&r.command, r.redacted, command)
        {
            self.cursor += 1;
        }
    }
    /// Whether the card is out of the field (a recorded removal, or a strict replay that stopped).
    pub fn is_away(&self) -> bool {
        self.away || self.stopped
    }
    /// Takes the "leave the field after this answer" flag.
    pub fn take_leave(&mut self) -> bool {
        std::mem::take(&mut self.leave)
    }
    /// The card is put back in the field (a tap).
    pub fn tap(&mut self) {
        if !self.stopped {
            self.away = false;
        }
    }

    fn step_past(&mut self, k: usize) {
        let r = &self.script[k];
        self.cursor = k + 1;
        if r.then_removed {
            self.leave = true;
            self.away = !r.then_inserted;
        }
    }

    fn diverge(&mut self, got: &[u8]) -> Answer {
        let expected = self.script.get(self.cursor);
        self.divergence = Some(Divergence {
            exchange: self.cursor + 1,
            line: expected.map_or(0, |r| r.line),
            expected: expected.map(|r| redact_recorded(&r.command, r.redacted)),
            got: redact_secrets(got),
        });
        self.stopped = true;
        Answer::Gone
    }

    /// Answers one command.
    pub fn answer(&mut self, command: &[u8]) -> Answer {
        if self.stopped {
            return Answer::Gone;
        }
        // The model sees every command, so that its state follows the host's.
        let modelled = self.model.as_mut().map(|m| {
            let reply = m.process(command, self.now);
            match reply {
                CardReply::Answered(a) => Some((a.response.to_vec(), a.processing)),
                _ => None,
            }
        });
        let matches = |r: &Recorded| same_command(&r.command, r.redacted, command);
        let k = match self.script.get(self.cursor) {
            Some(r) if matches(r) => Some(self.cursor),
            _ => match self.mode {
                Mode::Strict => None,
                Mode::Skip => (self.cursor..self.script.len()).find(|&k| matches(&self.script[k])),
                Mode::Model => {
                    if let Some(Some((response, took))) = modelled {
                        self.by_model += 1;
                        self.now += took;
                        return Answer::Respond { response, took };
                    }
                    None
                }
            },
        };
        let Some(k) = k else {
            return self.diverge(command);
        };
        self.skipped += k - self.cursor;
        self.step_past(k);
        let r = &self.script[k];
        self.now += r.took;
        match &r.outcome {
            Outcome::Response(response) => Answer::Respond {
                response: response.clone(),
                took: r.took,
            },
            Outcome::Nothing | Outcome::Error(_) => {
                // The card left during this exchange (unless the recording brings it back).
                self.leave = false;
                self.away = !r.then_inserted;
                Answer::Gone
            }
        }
    }
}

fn redact_recorded(command: &[u8], redacted: bool) -> String {
    if redacted {
        crate::record::redact(command, true)
    } else {
        redact_secrets(command)
    }
}

/// The recorded card as a vpcd slot's card, for `kazasu replay --as card --serve`.
impl kazasu_sim::vpcd::SlotCard for RecordedCard {
    fn connected(&mut self) -> Result<(), LinkError> {
        if self.is_away() {
            Err(LinkError::NoCard)
        } else {
            Ok(())
        }
    }
    fn disconnected(&mut self) {}
    fn handle(&mut self, request: &kazasu_sim::vpcd::Request) -> kazasu_sim::vpcd::Reply {
        use kazasu_sim::vpcd::{Reply, Request, encode};
        match request {
            Request::GetAtr => Reply::Send {
                frame: encode(&self.atr).expect("an ATR fits"),
                pace: SimDuration::ZERO,
            },
            Request::PowerOff | Request::PowerOn | Request::Reset => Reply::Nothing,
            Request::Apdu(apdu) => match self.answer(apdu) {
                Answer::Respond { response, took } => match encode(&response) {
                    Ok(frame) => Reply::Send { frame, pace: took },
                    Err(_) => Reply::Close,
                },
                Answer::Gone => Reply::Close,
            },
        }
    }
    fn stays_away(&self) -> bool {
        self.is_away()
    }
    fn leave_after_reply(&mut self) -> bool {
        self.take_leave()
    }
}

/// The recorded card as a runner backend: scenarios run against a recording in-process.
pub struct RecordedBackend {
    /// The card.
    pub card: RecordedCard,
    name: String,
    now: SimTime,
}

impl RecordedBackend {
    /// A backend around a recorded card; `name` says where the recording came from.
    pub fn new(card: RecordedCard, name: &str) -> RecordedBackend {
        RecordedBackend {
            card,
            name: name.to_string(),
            now: SimTime::START,
        }
    }
}

impl Backend for RecordedBackend {
    fn tap(&mut self) -> Result<(), LinkError> {
        self.card.tap();
        if self.card.is_away() {
            Err(LinkError::NoCard)
        } else {
            Ok(())
        }
    }
    fn remove(&mut self) {}
    fn disconnect(&mut self) -> Result<(), LinkError> {
        Ok(())
    }
    fn approve(&mut self) -> bool {
        false
    }
    fn wait(&mut self, d: SimDuration) {
        self.now += d;
    }
    fn bit_rate(&self) -> u32 {
        0
    }
    fn uid(&self) -> Vec<u8> {
        Vec::new()
    }
    fn atr(&self) -> Result<Vec<u8>, LinkError> {
        if self.card.is_away() {
            Err(LinkError::NoCard)
        } else {
            Ok(self.card.atr().to_vec())
        }
    }
    fn card_name(&self) -> String {
        self.name.clone()
    }
    fn missed_faults(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Transport for RecordedBackend {
    fn transmit(&mut self, apdu: &[u8]) -> Result<kazasu_sim::Transmitted, TransportError> {
        if self.card.is_away() {
            self.card.absorb_while_away(apdu);
            return Err(LinkError::NoCard);
        }
        match self.card.answer(apdu) {
            Answer::Respond { response, took } => {
                self.now += took;
                // The answer arrives; a recorded removal after it has already marked the card
                // as away (or back, when the recording shows it returning).
                self.card.take_leave();
                Ok(kazasu_sim::Transmitted {
                    response,
                    duration: took,
                })
            }
            Answer::Gone => Err(LinkError::CardRemoved),
        }
    }
    fn now(&self) -> SimTime {
        self.now
    }
    fn last_frames(&self) -> Vec<kazasu_sim::FrameRecord> {
        Vec::new()
    }
}

/// How one replayed exchange compares with the recording.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "why")]
pub enum Verdict {
    /// The same bytes.
    Same,
    /// Equal by class (a signature, a challenge, a UID).
    SameClass(String),
    /// Not the same: another status word, or an answer against none.
    Differs(String),
    /// The same status word, other data.
    DataDiffers(String),
    /// Not sent: the capture hid a secret the replay does not know.
    NotSent(String),
}

impl Verdict {
    /// Whether the answers differ.
    pub fn differs(&self) -> bool {
        matches!(self, Verdict::Differs(_) | Verdict::DataDiffers(_))
    }
}

/// One row of a host replay.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HostRow {
    /// 1-based exchange number.
    pub exchange: usize,
    /// Line in the capture.
    pub line: usize,
    /// The command, secrets redacted.
    pub command: String,
    /// The recorded answer.
    pub recorded: String,
    /// The virtual card's answer.
    pub replayed: String,
    /// How they compare.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The result of replaying a trace as the host.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HostReport {
    /// One row per recorded exchange.
    pub rows: Vec<HostRow>,
}

impl HostReport {
    /// The first exchange whose answer differs.
    pub fn first_difference(&self) -> Option<&HostRow> {
        self.rows.iter().find(|r| r.verdict.differs())
    }
    /// Rows that differ.
    pub fn differences(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict.differs()).count()
    }
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Response(r) if r.len() > 34 => format!(
            "{} … ({} bytes) {}",
            hex_spaced(&r[..16]),
            r.len() - 2,
            hex_spaced(&r[r.len() - 2..])
        ),
        Outcome::Response(r) => hex_spaced(r),
        Outcome::Nothing => "(nothing)".into(),
        Outcome::Error(e) => format!("({e})"),
    }
}

/// Compares a replayed outcome with the recorded one.
pub fn compare(command: &[u8], recorded: &Outcome, replayed: &Outcome) -> Verdict {
    match (recorded, replayed) {
        (Outcome::Response(a), Outcome::Response(b)) => {
            let sw = |r: &[u8]| r.len().checked_sub(2).map(|n| r[n..].to_vec());
            if a == b {
                return Verdict::Same;
            }
            if sw(a) != sw(b) {
                return Verdict::Differs(format!(
                    "status word {} ≠ recorded {}",
                    sw(b).map_or("-".into(), |s| hex_spaced(&s)),
                    sw(a).map_or("-".into(), |s| hex_spaced(&s))
                ));
            }
            let class = ResponseClass::of(command);
            if a.len() != b.len() {
                return Verdict::DataDiffers(format!(
                    "{} data bytes ≠ recorded {}",
                    b.len() - 2,
                    a.len() - 2
                ));
            }
            if class == ResponseClass::Exact {
                let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
                Verdict::DataDiffers(format!("the data differ from byte {at} on"))
            } else {
                Verdict::SameClass(class.name().into())
            }
        }
        (Outcome::Response(_), _) | (_, Outcome::Response(_)) => Verdict::Differs(format!(
            "{} ≠ recorded {}",
            outcome_text(replayed),
            outcome_text(recorded)
        )),
        // Both failed: the card was gone both times, whatever the words.
        _ => Verdict::SameClass("the card was gone both times".into()),
    }
}

/// How strictly a host replay compares answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Compare {
    /// Bytes, except data that differs by nature (signatures, challenges, UIDs): by class.
    #[default]
    Class,
    /// Status words only (and whether there was an answer): for a real device that holds
    /// another person's data than the virtual card.
    Sw,
}

/// The report with data differences forgiven where `compare` says so.
pub fn relax(report: &HostReport, compare: Compare) -> HostReport {
    let mut out = report.clone();
    if compare == Compare::Sw {
        for r in &mut out.rows {
            if let Verdict::DataDiffers(_) = &r.verdict {
                r.verdict = Verdict::SameClass("the same status word (data not compared)".into());
            }
        }
    }
    out
}

/// A row for a recorded exchange the replay did not send, and why.
fn not_sent(
    exchange: usize,
    line: usize,
    command: String,
    recorded: &Outcome,
    why: &str,
) -> HostRow {
    HostRow {
        exchange,
        line,
        command,
        recorded: outcome_text(recorded),
        replayed: String::new(),
        verdict: Verdict::NotSent(why.into()),
    }
}

/// The PIN a hidden VERIFY was for, from the EF selected before it.
fn pin_for(subject: &Subject, selected_ef: Option<u16>) -> Option<String> {
    let pins = &subject.identity.pins;
    match selected_ef? {
        kazasu_sim::applets::jpki::ef::AUTH_PIN => Some(pins.auth.expose().clone()),
        kazasu_sim::applets::jpki::ef::SIGN_PIN => Some(pins.sign.expose().clone()),
        kazasu_sim::applets::card_info::ef::PIN => Some(pins.card_info.expose().clone()),
        _ => None,
    }
}

/// The EF a SELECT by FID (`00 A4 02 0C 02 FID`) selects.
pub fn selected_ef(command: &[u8]) -> Option<u16> {
    match command {
        [_, 0xA4, 0x02, _, 0x02, hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// Sends the recorded commands to `card` (a virtual card behind a reader model) and compares
/// each answer with the recorded one. PINs a capture hid are taken from `subject` by the PIN EF
/// selected before them.
pub fn replay_as_host(trace: &Trace, card: &mut dyn Backend, subject: &Subject) -> HostReport {
    let mut report = HostReport::default();
    let mut ef: Option<u16> = None;
    let mut in_field = card.tap().is_ok();
    for e in &trace.events {
        match &e.what {
            What::Inserted { .. } => {
                if !in_field {
                    in_field = card.tap().is_ok();
                }
            }
            What::Removed => {
                card.remove();
                in_field = false;
            }
            What::Exchange {
                command,
                redacted,
                outcome,
                ..
            } => {
                let exchange = report.rows.len() + 1;
                let shown = redact_recorded(command, *redacted);
                if !matches!(outcome, Outcome::Response(_)) {
                    // The recorded card left the field here: so does the virtual one, and the
                    // command is not the card's to answer.
                    if in_field {
                        card.remove();
                        in_field = false;
                    }
                    report.rows.push(not_sent(
                        exchange,
                        e.line,
                        shown,
                        outcome,
                        "the card had left the field in the recording",
                    ));
                    continue;
                }
                let mut sent = command.clone();
                if *redacted {
                    match pin_for(subject, ef) {
                        Some(pin) if command.len() >= 5 => {
                            sent.truncate(4);
                            sent.push(pin.len() as u8);
                            sent.extend_from_slice(pin.as_bytes());
                        }
                        _ => {
                            report.rows.push(not_sent(
                                exchange,
                                e.line,
                                shown,
                                outcome,
                                "the capture hid this command's data and no PIN of the identity belongs to the EF selected before it",
                            ));
                            continue;
                        }
                    }
                }
                if let Some(f) = selected_ef(command) {
                    ef = Some(f);
                }
                if !in_field {
                    in_field = card.tap().is_ok();
                }
                let replayed = match card.transmit(&sent) {
                    Ok(t) => Outcome::Response(t.response),
                    Err(LinkError::CardRemoved) | Err(LinkError::NoCard) => {
                        in_field = false;
                        Outcome::Error(LinkError::CardRemoved.to_string())
                    }
                    Err(other) => Outcome::Error(other.to_string()),
                };
                let verdict = compare(command, outcome, &replayed);
                report.rows.push(HostRow {
                    exchange,
                    line: e.line,
                    command: shown,
                    recorded: outcome_text(outcome),
                    replayed: outcome_text(&replayed),
                    verdict,
                });
            }
        }
    }
    card.finish();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::trace::{Format, parse};

    fn trace(lines: &str) -> Trace {
        parse(Format::Apdu4j, lines, None).unwrap()
    }

    const SELECT_JPKI: &str = "00A4040C0AD392F000260100000001";

    #[test]
    fn strict_replay_answers_in_order_and_reports_the_first_divergence() {
        let t = trace(
            "# ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F\n00A4040C0AD392F000260100000001\n9000\n00B0000004\n30820365 9000\n00B0000404\n01020304 9000\n",
        );
        let mut card = RecordedCard::new(&t, Mode::Strict, None).unwrap();
        assert_eq!(card.atr().len(), 13);
        let select = kazasu_sim::parse_hex(SELECT_JPKI).unwrap();
        assert_eq!(
            card.answer(&select),
            Answer::Respond {
                response: vec![0x90, 0x00],
                took: SimDuration::ZERO
            }
        );
        // The host reads a different offset: the replay stops there and says what it expected.
        assert_eq!(card.answer(&[0x00, 0xB0, 0x00, 0x10, 0x04]), Answer::Gone);
        let d = card.divergence.clone().unwrap();
        assert_eq!((d.exchange, d.line), (2, 4));
        assert_eq!(d.expected.as_deref(), Some("00 B0 00 00 04"));
        assert_eq!(d.got, "00 B0 00 10 04");
        assert!(card.is_away());
        assert_eq!(
            card.answer(&select),
            Answer::Gone,
            "a stopped replay stays stopped"
        );
    }

    #[test]
    fn skip_mode_scans_forward() {
        let t = trace(
            "00A4040C0AD392F000260100000001\n9000\n00B0000004\n30820365 9000\n00B0000404\n01020304 9000\n",
        );
        let mut card = RecordedCard::new(&t, Mode::Skip, None).unwrap();
        let r = card.answer(&[0x00, 0xB0, 0x00, 0x04, 0x04]);
        assert_eq!(
            r,
            Answer::Respond {
                response: vec![1, 2, 3, 4, 0x90, 0x00],
                took: SimDuration::ZERO
            }
        );
        assert_eq!(card.skipped, 2);
        assert!(card.finished());
        assert_eq!(card.answer(&[0x00, 0xB0, 0x00, 0x00, 0x04]), Answer::Gone);
        assert_eq!(card.divergence.unwrap().expected, None);
    }

    #[test]
    fn secrets_and_fresh_inputs_match_by_class() {
        assert!(same_command(
            &[0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34],
            false,
            &[0x00, 0x20, 0x00, 0x80, 0x04, 0x39, 0x39, 0x39, 0x39]
        ));
        assert!(!same_command(
            &[0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34],
            false,
            &[0x00, 0x20, 0x00, 0x81, 0x04, 0x31, 0x32, 0x33, 0x34]
        ));
        assert!(same_command(
            &[0x80, 0x2A, 0x00, 0x80, 0x02, 0xAA, 0xBB],
            false,
            &[0x80, 0x2A, 0x00, 0x80, 0x02, 0x01, 0x02]
        ));
        assert!(!same_command(
            &[0x00, 0xB0, 0x00, 0x00, 0x02],
            false,
            &[0x00, 0xB0, 0x00, 0x00, 0x03]
        ));
        assert_eq!(
            compare(
                &[0x80, 0x2A, 0x00, 0x80],
                &Outcome::Response(vec![1, 2, 0x90, 0x00]),
                &Outcome::Response(vec![3, 4, 0x90, 0x00])
            ),
            Verdict::SameClass("a signature: same length".into())
        );
        assert!(matches!(
            compare(
                &[0x00, 0xB0, 0x00, 0x00],
                &Outcome::Response(vec![1, 2, 0x90, 0x00]),
                &Outcome::Response(vec![1, 3, 0x90, 0x00])
            ),
            Verdict::DataDiffers(_)
        ));
    }

    #[test]
    fn a_recorded_removal_ends_the_exchange() {
        let log = "00000003 APDU: 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01 \n00000100 SW: 90 00 \n00000003 APDU: 00 B0 00 00 04 \n00000100 SW: \n";
        let t = parse(Format::Pcscd, log, None).unwrap();
        let mut card = RecordedCard::new(&t, Mode::Strict, None).unwrap();
        let select = kazasu_sim::parse_hex(SELECT_JPKI).unwrap();
        assert!(matches!(card.answer(&select), Answer::Respond { .. }));
        assert_eq!(card.answer(&[0x00, 0xB0, 0x00, 0x00, 0x04]), Answer::Gone);
        assert!(
            card.divergence.is_none(),
            "the removal was recorded, not a divergence"
        );
        assert!(card.finished());
    }
}

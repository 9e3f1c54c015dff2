//! Replay as the card: a [`RecordedCard`] answers a host with the recorded responses (strict,
//! skipping forward, or falling back to a virtual card's model when the host deviates) and leaves
//! the field where the recording shows it did; [`RecordedBackend`] puts it behind a backend.

use super::matching::Divergence;
use super::matching::same_command;
use crate::capture::card_from_air::AirExchange;
use crate::capture::trace::{ExchangeOutcome, Trace, What};
use crate::link::backend::Backend;
use crate::link::transport::{Transport, TransportError};
use crate::record::redact_secrets;
use kazasu_sim::{Card, CardReply, LinkError, Reader, SimDuration, SimTime};

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

/// One recorded exchange and what follows it.
#[derive(Clone, Debug)]
pub(super) struct Recorded {
    command: Vec<u8>,
    redacted: bool,
    outcome: ExchangeOutcome,
    took: SimDuration,
    /// The card's own time for it, from the end of the command to the start of the answer
    /// (an air capture shows it).
    card_time: Option<SimDuration>,
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
    /// The card's own time for the answer just given, where the recording shows it.
    card_time: Option<SimDuration>,
    /// The card is out of the field; `true` until the recording brings it back.
    away: bool,
    stopped: bool,
}

/// A recording that cannot be played as a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordingError {
    /// Model fallback asked for with no card to answer from.
    #[error("model fallback needs a card profile to answer from (--card)")]
    NoModel,
    /// Nothing to play.
    #[error("the trace has no exchanges to replay")]
    NoExchanges,
}

impl RecordedCard {
    /// A recorded card for `trace`; `model` answers deviations in [`Mode::Model`].
    pub fn new(
        trace: &Trace,
        mode: Mode,
        model: Option<Card>,
    ) -> Result<RecordedCard, RecordingError> {
        if mode == Mode::Model && model.is_none() {
            return Err(RecordingError::NoModel);
        }
        let mut script: Vec<Recorded> = Vec::new();
        for e in &trace.events {
            match &e.what {
                // An answer the capture hid (it echoed a secret) is served as recorded: its
                // length, zeros for its bytes.
                What::Exchange {
                    command,
                    redacted,
                    outcome,
                    took_us,
                    ..
                } => script.push(Recorded {
                    command: command.clone(),
                    redacted: *redacted,
                    outcome: outcome.clone(),
                    took: SimDuration::from_micros(took_us.unwrap_or(0)),
                    card_time: None,
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
        // A recording of the ATR alone — a host that failed on a garbled ATR before any
        // command, an air capture of a card's wake-up — still replays: the recorded ATR, and any
        // command a divergence (or, with the model behind it, the model's answer).
        if script.is_empty() && mode != Mode::Model && trace.atr.is_none() {
            return Err(RecordingError::NoExchanges);
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
            card_time: None,
            away: false,
            stopped: false,
        })
    }

    /// Gives each recorded exchange the card's own time for it, from an air capture's exchanges
    /// in order: each recorded command takes the next one with the same bytes.
    pub fn with_card_times(mut self, timeline: &[AirExchange]) -> RecordedCard {
        let mut next = 0;
        for r in &mut self.script {
            if let Some(k) = (next..timeline.len())
                .find(|&k| same_command(&r.command, r.redacted, &timeline[k].command))
            {
                r.card_time = timeline[k]
                    .took_us
                    .map(|us| SimDuration::from_nanos((us * 1e3).round() as u64));
                next = k + 1;
            }
        }
        self
    }

    /// The card's own time for the answer just given (the model's, or the recording's where an
    /// air capture shows it).
    pub fn card_time(&self) -> Option<SimDuration> {
        self.card_time
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
            .all(|r| !matches!(r.outcome, ExchangeOutcome::Response(_)))
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
            && !matches!(r.outcome, ExchangeOutcome::Response(_))
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
        self.card_time = None;
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
                        self.card_time = Some(took);
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
        self.card_time = r.card_time;
        match &r.outcome {
            ExchangeOutcome::Response(response) => Answer::Respond {
                response: response.clone(),
                took: r.took,
            },
            ExchangeOutcome::Nothing | ExchangeOutcome::Error(_) => {
                // The card left during this exchange (unless the recording brings it back).
                self.leave = false;
                self.away = !r.then_inserted;
                Answer::Gone
            }
        }
    }
}

pub(super) fn redact_recorded(command: &[u8], redacted: bool) -> String {
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
            // A recording holds the card's answers, not the reader's.
            Request::Control { .. } | Request::Attribute(_) => Reply::Send {
                frame: kazasu_sim::vpcd::encode_reader_answer(
                    kazasu_sim::vpcd::ReaderAnswer::Unsupported,
                    &[],
                )
                .expect("one byte fits"),
                pace: SimDuration::ZERO,
            },
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

/// The recorded card as a runner backend: scenarios run against a recording in-process —
/// straight (each answer after its recorded time), or through kazasu's air model when the
/// recording is an air capture: a reader of the case's profile and a card of a profile made from
/// the capture, whose answers are the recorded ones after the card's recorded time, so frame
/// sizes, chaining and waiting-time extensions follow the real card's (and the reader's).
pub struct RecordedBackend {
    /// The card.
    pub card: RecordedCard,
    name: String,
    now: SimTime,
    air: Option<Reader>,
    /// Through the air: how long the reader model was quiet after the card's last answer frame
    /// began (the frame itself, then the reader's own turnaround), which a recorded pause
    /// between exchanges already holds.
    turnaround: SimDuration,
}

impl RecordedBackend {
    /// A backend around a recorded card; `name` says where the recording came from.
    pub fn new(card: RecordedCard, name: &str) -> RecordedBackend {
        RecordedBackend {
            card,
            name: name.to_string(),
            now: SimTime::START,
            air: None,
            turnaround: SimDuration::ZERO,
        }
    }

    /// A backend that sends the recorded answers through `reader`'s air model (its card stands
    /// for the recorded one: its profile gives the radio side, the recording the answers).
    pub fn through_air(card: RecordedCard, reader: Reader, name: &str) -> RecordedBackend {
        RecordedBackend {
            air: Some(reader),
            ..RecordedBackend::new(card, name)
        }
    }

    fn gone(&mut self) {
        if let Some(r) = self.air.as_mut() {
            r.remove();
        }
    }
}

impl Backend for RecordedBackend {
    fn tap(&mut self) -> Result<(), LinkError> {
        self.card.tap();
        if self.card.is_away() {
            return Err(LinkError::NoCard);
        }
        match self.air.as_mut() {
            Some(r) => r.tap(),
            None => Ok(()),
        }
    }
    fn remove(&mut self) {
        self.gone();
    }
    fn disconnect(&mut self) -> Result<(), LinkError> {
        match self.air.as_mut() {
            Some(r) => r.disconnect(),
            None => Ok(()),
        }
    }
    fn warm_reset(&mut self) -> Result<(), LinkError> {
        match self.air.as_mut() {
            Some(r) => r.warm_reset().map(drop),
            None => Ok(()),
        }
    }
    fn approve(&mut self) -> bool {
        false
    }
    fn wait(&mut self, d: SimDuration) {
        match self.air.as_mut() {
            // An air capture's pause runs from the start of the card's last answer frame to the
            // reader's next command: the reader model spends part of it itself.
            Some(r) => r.wait(d.saturating_sub(std::mem::take(&mut self.turnaround))),
            None => self.now += d,
        }
    }
    fn bit_rate(&self) -> u32 {
        self.air.as_ref().map_or(0, Reader::bit_rate)
    }
    fn uid(&self) -> Vec<u8> {
        self.air
            .as_ref()
            .map_or_else(Vec::new, |r| r.card().uid().to_vec())
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
    fn keep_air(&mut self) {
        if let Some(r) = self.air.as_mut() {
            r.keep_air();
        }
    }
    fn take_air(&mut self) -> Vec<kazasu_sim::reader::air::AirRecord> {
        self.air.as_mut().map_or_else(Vec::new, Reader::take_air)
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
                // The answer arrives; a recorded removal after it has already marked the card
                // as away (or back, when the recording shows it returning).
                let leave = self.card.take_leave();
                // Through the air: the card answers the recorded bytes after its own time (or
                // the whole recorded time, where the capture does not show the card's). An
                // answer shorter than a status word cannot go through; it comes straight.
                let recorded = kazasu_sim::iso7816::apdu::Response::parse(&response);
                let (Some(reader), Ok(recorded)) = (self.air.as_mut(), recorded) else {
                    self.now += took;
                    return Ok(kazasu_sim::Transmitted {
                        response,
                        duration: took,
                    });
                };
                let processing = self.card.card_time().unwrap_or(took);
                reader.card_mut().answer_next_with(recorded, processing);
                let sent = reader.transmit(apdu);
                reader.card_mut().clear_scripted();
                let last_answer = reader
                    .last_frames()
                    .iter()
                    .rev()
                    .find(|f| f.dir == kazasu_sim::reader::log::Direction::ToReader)
                    .map(|f| f.start);
                self.turnaround = last_answer.map_or(SimDuration::ZERO, |start| {
                    reader.now().since(start) + reader.profile().host_overhead.value.0.mul_f64(0.5)
                });
                if leave && self.card.is_away() {
                    reader.remove();
                }
                sent
            }
            Answer::Gone => {
                self.gone();
                Err(LinkError::CardRemoved)
            }
        }
    }
    fn now(&self) -> SimTime {
        self.air.as_ref().map_or(self.now, Reader::now)
    }
    fn last_frames(&self) -> Vec<kazasu_sim::FrameRecord> {
        self.air
            .as_ref()
            .map_or_else(Vec::new, |r| r.last_frames().to_vec())
    }
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
    fn card_times_go_to_the_exchanges_with_the_same_command_in_order() {
        let t = trace(&format!(
            "{SELECT_JPKI}\n9000\n00B0000004\n01020304 9000\n00B0000004\n05060708 9000\n"
        ));
        let select = kazasu_sim::parse_hex(SELECT_JPKI).unwrap();
        let read = vec![0x00, 0xB0, 0x00, 0x00, 0x04];
        // The air shows a command the trace lacks (a probe) and the reads' times in order.
        let air = |command: &[u8], took_us| AirExchange {
            command: command.to_vec(),
            packet: 0,
            took_us,
            wtx: Vec::new(),
        };
        let timeline = vec![
            air(&select, Some(700.0)),
            air(&[0x00, 0xCA, 0x00, 0x00, 0x00], Some(9.0)),
            air(&read, Some(1500.0)),
            air(&read, None),
        ];
        let mut card = RecordedCard::new(&t, Mode::Strict, None)
            .unwrap()
            .with_card_times(&timeline);
        card.answer(&select);
        assert_eq!(card.card_time(), Some(SimDuration::from_micros(700)));
        card.answer(&read);
        assert_eq!(card.card_time(), Some(SimDuration::from_micros(1500)));
        card.answer(&read);
        assert_eq!(card.card_time(), None, "the capture has no time for it");
    }

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

    /// A fuzz-host finding of a garbled ATR holds no exchange: it replays — the recorded ATR,
    /// a command a divergence, or with the model behind it the model answering — instead of
    /// "no exchanges to replay". A recording with neither exchange nor ATR has nothing to play.
    #[test]
    fn an_atr_only_recording_replays_with_the_model() {
        let text = "{\"t_ms\":0.0,\"slot\":0,\"event\":\"card_inserted\"}\n{\"t_ms\":0.1,\"slot\":0,\"event\":\"getatr\",\"atr\":\"3B 02 14 50\"}\n";
        let t = parse(Format::Kazasu, text, None).unwrap();
        let mut strict = RecordedCard::new(&t, Mode::Strict, None).unwrap();
        assert_eq!(strict.atr(), [0x3B, 0x02, 0x14, 0x50]);
        strict.answer(&kazasu_sim::parse_hex(SELECT_JPKI).unwrap());
        assert!(strict.divergence.is_some(), "a command the recording lacks");
        let nothing = Trace::default();
        assert!(matches!(
            RecordedCard::new(&nothing, Mode::Strict, None),
            Err(RecordingError::NoExchanges)
        ));
        let model = crate::serve::CardSpec {
            profile: "mynumber-card".into(),
            identity: None,
        }
        .card(1)
        .unwrap();
        let mut card = RecordedCard::new(&t, Mode::Model, Some(model)).unwrap();
        assert_eq!(card.atr(), [0x3B, 0x02, 0x14, 0x50]);
        let select = kazasu_sim::parse_hex(SELECT_JPKI).unwrap();
        assert!(
            matches!(card.answer(&select), Answer::Respond { ref response, .. } if response.ends_with(&[0x90, 0x00]))
        );
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

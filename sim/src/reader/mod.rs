//! The virtual reader: a PC/SC-like face over the PCD and the card's PICC — tap (field on,
//! anticollision, activation), remove, connect (the PC/SC part 3 ATR), transmit (the response,
//! the simulated time it took and a per-frame log), disconnect (DESELECT), presence events —
//! with the reader profile's timing and the fault plan applied frame by frame.
//!
//! The reader owns the medium between the two protocol machines: it moves frames, charges
//! their air time and the waiting times to the clock, and never sleeps.

pub mod air;
mod error;
pub mod fault;
pub mod log;
pub mod pcsc;
pub mod profile;

pub use error::LinkError;
pub use log::{Direction, Fate, FrameRecord, FrameWhat};

use crate::card::Card;
use crate::iso7816::apdu::Command;
use crate::iso7816::status::StatusWord;
use crate::iso14443::frame::{Block, append_crc};
use crate::iso14443::pcd::{Pcd, PcdAction, PcdError};
use crate::iso14443::picc::{Phase, Picc};
use crate::iso14443::timing;
use crate::platform::profile::NfcType;
use crate::time::{SimDuration, SimTime};
use fault::{Action, FaultPlan, FrameFault};
use profile::{CollisionHandling, ExtendedApdus, ReaderProfile};
use serde::Serialize;
use std::sync::Arc;

/// A presence change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// When.
    pub at: SimTime,
    /// What.
    pub kind: EventKind,
}

/// Card presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A card entered the field and was activated.
    CardPresent,
    /// The card left the field.
    CardRemoved,
}

/// A completed transmit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmitted {
    /// The response APDU (data ‖ SW1 SW2).
    pub response: Vec<u8>,
    /// Simulated time from the host's command to the host receiving the answer.
    pub duration: SimDuration,
}

/// The reader as its PIN pad sees it: time passing, and a command sent whose PIN is masked in
/// the air kept.
impl pcsc::PadHost for Reader {
    fn wait(&mut self, d: SimDuration) {
        Reader::wait(self, d)
    }
    fn send(&mut self, apdu: &[u8], secrets: &[Vec<u8>]) -> Result<Vec<u8>, LinkError> {
        let kept_from = self.air.as_ref().map_or(0, Vec::len);
        let result = self.transmit(apdu);
        if let Some(air) = self.air.as_mut() {
            pcsc::mask_in_air(&mut air[kept_from..], secrets);
        }
        result.map(|t| t.response)
    }
}

/// A virtual PC/SC contactless reader with one card that can be tapped and removed.
pub struct Reader {
    profile: Arc<ReaderProfile>,
    card: Card,
    picc: Picc,
    pcd: Option<Pcd>,
    in_field: bool,
    nfc: NfcType,
    kbps: u32,
    max_kbps: Option<u32>,
    now: SimTime,
    faults: FaultPlan,
    exchanges: u32,
    taps: u32,
    frames: Vec<FrameRecord>,
    events: Vec<Event>,
    /// The air with its bytes, when kept ([`Reader::keep_air`]).
    air: Option<Vec<air::AirRecord>>,
    /// The person at the PIN pad ([`pcsc`]).
    operator: pcsc::Operator,
    /// The card in the field never answered its activation.
    mute: bool,
}

impl Reader {
    /// A reader of `profile` with `card` out of the field.
    pub fn new(profile: Arc<ReaderProfile>, card: Card, faults: FaultPlan) -> Reader {
        let picc = Picc::new(&card);
        let nfc = card.profile().contactless.nfc_type.value;
        Reader {
            profile,
            card,
            picc,
            pcd: None,
            in_field: false,
            nfc,
            kbps: 106,
            max_kbps: None,
            now: SimTime::START,
            faults,
            exchanges: 0,
            taps: 0,
            frames: Vec::new(),
            events: Vec::new(),
            air: None,
            operator: pcsc::Operator::Away,
            mute: false,
        }
    }

    /// From now on, keeps every frame's bytes and the field switching ([`Reader::take_air`]).
    pub fn keep_air(&mut self) {
        self.air.get_or_insert_with(Vec::new);
    }

    /// The air kept since the last call (empty unless [`Reader::keep_air`] was called).
    pub fn take_air(&mut self) -> Vec<air::AirRecord> {
        self.air.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn air_record(&mut self, at: SimTime, end: SimTime, kind: air::AirKind) {
        if let Some(air) = self.air.as_mut() {
            air.push(air::AirRecord { at, end, kind });
        }
    }

    fn field(&mut self, on: bool) {
        let kind = if on {
            air::AirKind::FieldOn
        } else {
            air::AirKind::FieldOff
        };
        self.air_record(self.now, self.now, kind);
    }

    /// The reader's profile.
    pub fn profile(&self) -> &ReaderProfile {
        &self.profile
    }
    /// The card (in or out of the field).
    pub fn card(&self) -> &Card {
        &self.card
    }

    /// The reader's own answer to the part-3 pseudo-APDU GET DATA: `FF CA 00 00 Le` the UID
    /// (Type A) or PUPI (Type B), `FF CA 01 00 Le` the historical bytes of the ATS (Type A) or
    /// the higher-layer response of ATTRIB (Type B: empty for the JPKI cards, modelled); another
    /// P1 or a P2 other than 00: 6A 81; an Le that is not 00 and not the length: 6C xx.
    fn get_data(&self, apdu: &[u8]) -> Vec<u8> {
        let answer = |sw: StatusWord| sw.to_bytes().to_vec();
        let Ok(cmd) = Command::parse(apdu) else {
            return answer(StatusWord::WRONG_LENGTH);
        };
        if !cmd.data.is_empty() {
            return answer(StatusWord::WRONG_LENGTH);
        }
        let card = self.card();
        let contactless = &card.profile().contactless;
        let data = match (cmd.p1, cmd.p2) {
            (0x00, 0x00) => card.uid().to_vec(),
            (0x01, 0x00) if contactless.nfc_type.value == NfcType::A => {
                contactless.historical_bytes.value.0.clone()
            }
            (0x01, 0x00) => Vec::new(),
            _ => return answer(StatusWord::FUNCTION_NOT_SUPPORTED),
        };
        match cmd.le {
            Some(le) if le != 256 && le as usize != data.len() => {
                answer(StatusWord(0x6C00 | data.len() as u16))
            }
            _ => {
                let mut r = data;
                r.extend_from_slice(&StatusWord::OK.to_bytes());
                r
            }
        }
    }

    /// The card, to inspect or change its state between operations.
    pub fn card_mut(&mut self) -> &mut Card {
        &mut self.card
    }
    /// Simulated now.
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// Lets simulated time pass.
    pub fn wait(&mut self, d: SimDuration) {
        self.now += d;
    }
    /// Caps the bit rate negotiated at the next activation (a matrix dimension of scenarios).
    pub fn set_max_bit_rate(&mut self, kbps: Option<u32>) {
        self.max_kbps = kbps;
    }
    /// The bit rate in use.
    pub fn bit_rate(&self) -> u32 {
        self.kbps
    }
    /// Whether the card is in the field and activated.
    pub fn is_present(&self) -> bool {
        self.in_field
    }
    /// Exchanges (transmits) so far.
    pub fn exchanges(&self) -> u32 {
        self.exchanges
    }
    /// The frames of the last tap, transmit or disconnect.
    pub fn last_frames(&self) -> &[FrameRecord] {
        &self.frames
    }
    /// The fault plan (to ask which faults struck).
    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }
    /// The fault plan, to add a fault while the card is in the field (`kazasu fuzz-host`).
    pub fn faults_mut(&mut self) -> &mut FaultPlan {
        &mut self.faults
    }

    /// Presence changes since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
    /// The ATR this reader reports for the card in the field (its profile's ATR form).
    pub fn atr(&self) -> Option<Vec<u8>> {
        (self.in_field && !self.mute).then(|| self.reported_atr())
    }
    /// Whether the card in the field never answered its activation.
    pub fn is_mute(&self) -> bool {
        self.mute
    }
    /// The ATR this reader reports for its card, in the field or not.
    pub fn reported_atr(&self) -> Vec<u8> {
        self.profile.atr_for(&self.card)
    }
    /// Approves on the phone (iPhone) now.
    pub fn approve(&mut self) -> bool {
        self.card.approve(self.now)
    }

    fn log(
        &mut self,
        start: SimTime,
        dir: Direction,
        what: FrameWhat,
        len: usize,
        bytes: &[u8],
        fate: Fate,
    ) -> SimTime {
        let air = timing::frame_air_time(self.nfc, self.kbps, len, dir == Direction::ToReader);
        if self.air.is_some() {
            let bytes = bytes.to_vec();
            self.air_record(start, start + air, air::AirKind::Frame { dir, bytes, fate });
        }
        self.frames.push(FrameRecord {
            start,
            end: start + air,
            dir,
            what,
            len: len as u16,
            kbps: self.kbps as u16,
            fate,
        });
        start + air
    }

    /// Logs a reader frame then the card's answer, advancing the clock.
    fn activation_step(
        &mut self,
        cmd: (FrameWhat, Vec<u8>),
        answer: Option<(FrameWhat, Vec<u8>)>,
    ) -> bool {
        let (what, bytes) = cmd;
        let end = self.log(
            self.now,
            Direction::ToCard,
            what,
            bytes.len(),
            &bytes,
            Fate::Delivered,
        );
        self.now = end;
        match answer {
            Some((what, bytes)) => {
                let start = self.now + timing::picc_min_delay(self.nfc);
                let (dir, len) = (Direction::ToReader, bytes.len());
                self.now = self.log(start, dir, what, len, &bytes, Fate::Delivered)
                    + timing::pcd_min_delay();
                true
            }
            None => {
                let wait = timing::fwt(4);
                self.frames.push(FrameRecord {
                    start: self.now,
                    end: self.now + wait,
                    dir: Direction::ToReader,
                    what: FrameWhat::Timeout,
                    len: 0,
                    kbps: self.kbps as u16,
                    fate: Fate::Lost,
                });
                self.now += wait;
                false
            }
        }
    }

    /// The card enters the field: the reader notices it at its next poll, switches it on,
    /// runs anticollision and activation, and negotiates the bit rate.
    pub fn tap(&mut self) -> Result<(), LinkError> {
        if self.in_field {
            // A mute card stays mute until it leaves the field.
            return if self.mute {
                Err(LinkError::Unresponsive)
            } else {
                Ok(())
            };
        }
        self.frames.clear();
        self.taps += 1;
        let actions = self.faults.at_tap(self.taps);
        self.now += self.profile.card_detect.value.0;
        if actions.contains(&Action::PowerUpFails) {
            // Detected, then silent: REQA goes unanswered, and the card stays in the field.
            self.picc.field_on(&mut self.card);
            self.field(true);
            self.activation_step((FrameWhat::Reqa, air::reqa()), None);
            self.in_field = true;
            self.mute = true;
            return Err(LinkError::Unresponsive);
        }
        let result = self.activate(&actions, Power::Cold);
        match result {
            Ok(()) => {
                self.in_field = true;
                self.events.push(Event {
                    at: self.now,
                    kind: EventKind::CardPresent,
                });
                Ok(())
            }
            Err(e) => {
                self.picc.field_off(&mut self.card);
                self.field(false);
                Err(e)
            }
        }
    }

    fn activate(&mut self, actions: &[Action], power: Power) -> Result<(), LinkError> {
        self.kbps = 106;
        self.pcd = None;
        match power {
            Power::Cold => {
                self.picc.field_on(&mut self.card);
                self.field(true);
                if actions.contains(&Action::NewUid) {
                    self.card.randomize_uid();
                }
                self.now += timing::field_on_guard();
            }
            Power::Warm => self.picc.wake(&mut self.card),
        }
        if actions.contains(&Action::FieldOff) {
            self.picc.field_off(&mut self.card);
            self.activation_step((FrameWhat::Reqa, air::reqa()), None);
            return Err(LinkError::CardRemoved);
        }
        let collision = actions.contains(&Action::Collision);
        let fsdi = self.profile.fsdi.value;
        let c = self.card.profile().contactless.clone();
        let common: Vec<u32> = c
            .bit_rates
            .value
            .iter()
            .copied()
            .filter(|r| {
                self.profile.bit_rates.value.contains(r) && self.max_kbps.is_none_or(|m| *r <= m)
            })
            .collect();
        let target = common.into_iter().max().unwrap_or(106);
        match self.nfc {
            NfcType::A => {
                // REQA is a 7-bit short frame; log it as one byte.
                let atqa = self.picc.reqa(&self.card);
                self.activation_step(
                    (FrameWhat::Reqa, air::reqa()),
                    atqa.map(|a| (FrameWhat::Atqa, a.to_vec())),
                );
                let levels = match self.card.uid().len() {
                    4 => 1,
                    7 => 2,
                    _ => 3,
                };
                for level in 1..=levels {
                    let uid = self
                        .picc
                        .anticollision(&self.card, level)
                        .unwrap_or_default();
                    self.activation_step(
                        (FrameWhat::Anticollision(level), air::anticollision(level)),
                        Some((FrameWhat::Uid(level), uid.to_vec())),
                    );
                    if collision && level == 1 {
                        if self.profile.collision.value == CollisionHandling::Refuse {
                            return Err(LinkError::Collision);
                        }
                        // Another round with more known bits singles our card out.
                        let known = air::anticollision_known(level, [uid[0], uid[1]]);
                        self.activation_step(
                            (FrameWhat::Anticollision(level), known),
                            Some((FrameWhat::Uid(level), uid[2..].to_vec())),
                        );
                    }
                    let sak = self.picc.select(&self.card, level);
                    self.activation_step(
                        (FrameWhat::Select(level), air::select(level, uid)),
                        Some((FrameWhat::Sak, air::sak(sak))),
                    );
                }
                let ats = self.picc.rats(&self.card, fsdi).unwrap_or_default();
                self.activation_step(
                    (FrameWhat::Rats, air::rats(fsdi)),
                    Some((FrameWhat::Ats, air::answer(NfcType::A, &ats))),
                );
                self.now += timing::sfgt(c.sfgi.value);
                if target > 106 {
                    self.activation_step(
                        (FrameWhat::Pps, air::pps(target)),
                        Some((FrameWhat::PpsResponse, air::pps_response())),
                    );
                }
            }
            NfcType::B => {
                let atqb = self.picc.reqb(&self.card).unwrap_or_default();
                let atqb_frame = air::answer(NfcType::B, &atqb);
                self.activation_step(
                    (FrameWhat::Reqb, air::reqb()),
                    Some((FrameWhat::Atqb, atqb_frame.clone())),
                );
                if collision {
                    if self.profile.collision.value == CollisionHandling::Refuse {
                        return Err(LinkError::Collision);
                    }
                    // Slot-MARKER round of the Type B anticollision.
                    self.activation_step(
                        (FrameWhat::Reqb, air::reqb()),
                        Some((FrameWhat::Atqb, atqb_frame)),
                    );
                }
                let answer = self.picc.attrib(fsdi).unwrap_or(0);
                let pupi = atqb.get(1..5).unwrap_or_default();
                self.activation_step(
                    (FrameWhat::Attrib, air::attrib(pupi, fsdi, target)),
                    Some((FrameWhat::AttribAnswer, air::answer(NfcType::B, &[answer]))),
                );
                self.now += timing::sfgt(c.sfgi.value);
            }
        }
        self.kbps = target;
        self.pcd = Some(Pcd::new(
            self.nfc,
            crate::iso14443::atr::frame_size(c.fsci.value),
            c.fwi.value,
            self.profile.retries.value,
            self.profile.max_wtx.as_ref().map(|m| m.value),
        ));
        Ok(())
    }

    /// The card leaves the field.
    pub fn remove(&mut self) {
        self.mute = false;
        if self.in_field {
            self.picc.field_off(&mut self.card);
            self.field(false);
            self.in_field = false;
            self.pcd = None;
            self.events.push(Event {
                at: self.now,
                kind: EventKind::CardRemoved,
            });
        }
    }

    /// PC/SC connect: the ATR of the card in the field (re-activating it after a DESELECT).
    pub fn connect(&mut self) -> Result<Vec<u8>, LinkError> {
        if !self.in_field {
            return Err(LinkError::NoCard);
        }
        if self.mute {
            return Err(LinkError::Unresponsive);
        }
        if self.pcd.is_none() || self.picc.phase() == Phase::Halted {
            self.frames.clear();
            self.activate(&[], Power::Cold)?;
        }
        Ok(self.reported_atr())
    }

    /// PC/SC reconnect with a reset (`SCardReconnect(…, SCARD_RESET_CARD)`): S(DESELECT), then
    /// the card is activated again with the field left on — a warm reset: it keeps its power, its
    /// PUPI and what its profile keeps (by default the verified PINs) — and the reader reports
    /// its ATR.
    pub fn warm_reset(&mut self) -> Result<Vec<u8>, LinkError> {
        if !self.in_field {
            return Err(LinkError::NoCard);
        }
        self.disconnect()?;
        let deselect = std::mem::take(&mut self.frames);
        let result = self.activate(&[], Power::Warm);
        let activation = std::mem::replace(&mut self.frames, deselect);
        self.frames.extend(activation);
        result.map(|()| self.reported_atr())
    }

    /// PC/SC disconnect: S(DESELECT), retried by the reader's policy.
    pub fn disconnect(&mut self) -> Result<(), LinkError> {
        self.frames.clear();
        let Some(pcd) = self.pcd.as_mut() else {
            return Ok(());
        };
        let first = pcd.deselect();
        let result = self.run_exchange(first).map(drop);
        self.pcd = None;
        result
    }

    /// What the person at the PIN pad will do from now on.
    pub fn set_operator(&mut self, operator: pcsc::Operator) {
        self.operator = operator;
    }

    /// An attribute as `SCardGetAttrib` gives it ([`pcsc::attribute`]).
    pub fn attribute(&self, tag: u32) -> Option<Vec<u8>> {
        let fsci = self
            .is_present()
            .then(|| self.card.profile().contactless.fsci.value);
        pcsc::attribute(&self.profile, fsci, tag)
    }

    /// Answers an `SCardControl` request ([`pcsc::control`]): a PIN pad's command goes to the
    /// card through this reader, its PIN masked in the air kept.
    pub fn control(
        &mut self,
        control_code: u32,
        data: &[u8],
    ) -> Result<Vec<u8>, pcsc::ControlError> {
        // The frames of this request only: those of a PIN pad's command, or none.
        self.frames.clear();
        let profile = self.profile.clone();
        let operator = self.operator.clone();
        pcsc::control(&profile, &operator, control_code, data, self)
    }

    /// Sends a command APDU to the card and returns its response.
    pub fn transmit(&mut self, apdu: &[u8]) -> Result<Transmitted, LinkError> {
        self.frames.clear();
        if !self.in_field {
            return Err(LinkError::NoCard);
        }
        if self.pcd.is_none() {
            self.connect()?;
        }
        self.exchanges += 1;
        let started = self.now;
        let overhead = self.profile.host_overhead.value.0;
        // PC/SC part 3: the reader itself answers GET DATA `FF CA`; it never reaches the card.
        if apdu.starts_with(&[0xFF, 0xCA]) {
            self.now += overhead;
            return Ok(Transmitted {
                response: self.get_data(apdu),
                duration: self.now.since(started),
            });
        }
        if Command::parse(apdu).is_ok_and(|c| c.extended) {
            match self.profile.extended_apdus.value {
                ExtendedApdus::Supported => {}
                ExtendedApdus::WrongLength => {
                    self.now += overhead;
                    return Ok(Transmitted {
                        response: StatusWord::WRONG_LENGTH.to_bytes().to_vec(),
                        duration: self.now.since(started),
                    });
                }
                ExtendedApdus::TransportError => {
                    self.now += overhead;
                    return Err(LinkError::ExtendedApduUnsupported);
                }
            }
        }
        for action in self.faults.at_exchange(self.exchanges) {
            match action {
                Action::SlowCard(f) => self.picc.slow_factor = f,
                Action::WtxStorm(n) => self.picc.wtx_storm = n,
                Action::ReaderUnplugged => {
                    // Gone with the command on its way: the field with it.
                    self.now += overhead.mul_f64(0.5);
                    self.remove();
                    return Err(LinkError::ReaderUnplugged);
                }
                _ => {}
            }
        }
        self.now += overhead.mul_f64(0.5);
        let first = self.pcd.as_mut().expect("connected above").start(apdu);
        let result = self.run_exchange(first);
        self.now += overhead.mul_f64(0.5);
        match result {
            Ok(response) => Ok(Transmitted {
                response,
                duration: self.now.since(started),
            }),
            Err(e) => {
                self.recover_after_failure();
                Err(e)
            }
        }
    }

    /// After a failed exchange a reader resets the field; the card, if still there, starts
    /// afresh (its security state is gone) and is activated again.
    fn recover_after_failure(&mut self) {
        self.picc.field_off(&mut self.card);
        self.field(false);
        self.pcd = None;
        if self.in_field {
            let keep = std::mem::take(&mut self.frames);
            if self.activate(&[], Power::Cold).is_err() {
                self.field(false);
                self.in_field = false;
                self.events.push(Event {
                    at: self.now,
                    kind: EventKind::CardRemoved,
                });
            }
            let mut frames = keep;
            frames.append(&mut self.frames);
            self.frames = frames;
        }
    }

    fn classify(frame: &[u8], nfc: NfcType) -> FrameWhat {
        match crate::iso14443::frame::check_crc(nfc, frame)
            .ok()
            .and_then(|b| Block::parse(b).ok())
        {
            Some(b) => FrameWhat::Block {
                kind: b.kind,
                number: b.number,
            },
            None => FrameWhat::Invalid,
        }
    }

    fn card_leaves(&mut self) {
        self.picc.field_off(&mut self.card);
        if self.in_field {
            self.field(false);
            self.in_field = false;
            self.events.push(Event {
                at: self.now,
                kind: EventKind::CardRemoved,
            });
        }
    }

    /// Moves frames between the PCD and the PICC until the PCD is done or gives up.
    fn run_exchange(&mut self, first: PcdAction) -> Result<Vec<u8>, LinkError> {
        let mut action = first;
        let mut frame_no = 0u32;
        let mut first_send = true;
        loop {
            let (frame, wait) = match action {
                PcdAction::Done(response) => return Ok(response),
                PcdAction::Fail(e) => {
                    return Err(match e {
                        _ if !self.in_field => LinkError::CardRemoved,
                        PcdError::TooManyWtx(_) => LinkError::TooManyWtx,
                        PcdError::RetriesExhausted(_) => LinkError::NoAnswer,
                    });
                }
                PcdAction::Send { frame, wait } => (frame, wait),
            };
            if !first_send {
                self.now += timing::pcd_min_delay();
            }
            first_send = false;
            frame_no += 1;
            let what = Self::classify(&frame, self.nfc);
            let fault = self.faults.at_frame(self.exchanges, frame_no, frame.len());
            let (delivered, fate) = match fault {
                None => (Some(frame.clone()), Fate::Delivered),
                Some(FrameFault::Lost) => (None, Fate::Lost),
                Some(FrameFault::Corrupt(i)) => {
                    let mut f = frame.clone();
                    f[i] ^= 0x5A;
                    (Some(f), Fate::Corrupted)
                }
                Some(FrameFault::FieldOff(_)) => (None, Fate::FieldOff),
            };
            let len = delivered.as_ref().map_or(0, Vec::len).max(1);
            let on_air = delivered.as_deref().unwrap_or(&frame);
            let end = self.log(self.now, Direction::ToCard, what, len, on_air, fate);
            if fate == Fate::FieldOff {
                self.card_leaves();
            }
            self.now = end;
            let reply = match delivered {
                Some(f) if self.in_field => self.picc.on_frame(&mut self.card, &f, end).0,
                _ => None,
            };
            match reply {
                Some(r) if r.delay <= wait => {
                    frame_no += 1;
                    let start = end + r.delay;
                    let what = Self::classify(&r.frame, self.nfc);
                    match self
                        .faults
                        .at_frame(self.exchanges, frame_no, r.frame.len())
                    {
                        None => {
                            self.now = self.log(
                                start,
                                Direction::ToReader,
                                what,
                                r.frame.len(),
                                &r.frame,
                                Fate::Delivered,
                            );
                            action = self.pcd.as_mut().expect("activated").on_frame(&r.frame);
                        }
                        Some(FrameFault::Corrupt(i)) => {
                            let mut f = r.frame;
                            f[i] ^= 0x5A;
                            self.now = self.log(
                                start,
                                Direction::ToReader,
                                what,
                                f.len(),
                                &f,
                                Fate::Corrupted,
                            );
                            action = self.pcd.as_mut().expect("activated").on_frame(&f);
                        }
                        Some(FrameFault::FieldOff(b)) if b > 0 => {
                            // The card leaves mid-frame: the reader gets a truncated, broken frame.
                            self.now = start;
                            let truncated = &r.frame[..b.min(r.frame.len())];
                            self.now = self.log(
                                start,
                                Direction::ToReader,
                                what,
                                b,
                                truncated,
                                Fate::FieldOff,
                            );
                            self.card_leaves();
                            action = self.pcd.as_mut().expect("activated").on_frame(truncated);
                        }
                        Some(fault) => {
                            self.log(
                                start,
                                Direction::ToReader,
                                what,
                                r.frame.len(),
                                &r.frame,
                                if fault == FrameFault::Lost {
                                    Fate::Lost
                                } else {
                                    Fate::FieldOff
                                },
                            );
                            if matches!(fault, FrameFault::FieldOff(_)) {
                                self.card_leaves();
                            }
                            self.timeout(end, wait);
                            action = self.pcd.as_mut().expect("activated").on_error();
                        }
                    }
                }
                _ => {
                    self.timeout(end, wait);
                    action = self.pcd.as_mut().expect("activated").on_error();
                }
            }
        }
    }

    fn timeout(&mut self, from: SimTime, wait: SimDuration) {
        self.frames.push(FrameRecord {
            start: from,
            end: from + wait,
            dir: Direction::ToReader,
            what: FrameWhat::Timeout,
            len: 0,
            kbps: self.kbps as u16,
            fate: Fate::Lost,
        });
        self.now = from + wait;
    }
}

/// How the reader activates a card: after switching the field on, or with the field left on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Power {
    /// Field on: the card powers up afresh.
    Cold,
    /// Field left on (a warm reset).
    Warm,
}

/// Builds a frame with CRC for tests and tools: `block` on `nfc`.
pub fn frame_with_crc(nfc: NfcType, block: &Block<'_>) -> Vec<u8> {
    let mut f = Vec::new();
    block.emit(&mut f);
    append_crc(nfc, &mut f);
    f
}

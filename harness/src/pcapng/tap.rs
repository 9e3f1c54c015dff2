//! A listening post on a case's backend: every APDU (command and response, whole) and, where
//! the backend models the air, every frame with its bytes and the field switching, as packets
//! ready for a pcapng file — with secrets out. The data of VERIFY, CHANGE REFERENCE DATA and
//! RESET RETRY COUNTER, and any of the case's secrets wherever they appear (a card that echoes
//! a PIN), become `*` bytes of the same length, in the APDU and in the air frames that carry it
//! (their CRC recomputed), so the capture decodes as the exchange did and holds no secret.

use super::block::Way;
use super::pdu::{self, AirEvent, ApduWay};
use crate::link::backend::Backend;
use crate::link::transport::{Exchange, Transport, TransportError};
use kazasu_sim::iso14443::frame::{Block, BlockKind, append_crc, check_crc};
use kazasu_sim::platform::profile::NfcType;
use kazasu_sim::reader::air::{AirKind, AirRecord};
use kazasu_sim::reader::pcsc::{ControlError, Operator};
use kazasu_sim::reader::{Direction, Fate};
use kazasu_sim::{FrameRecord, LinkError, SimDuration, SimTime, carries_secret};
use std::sync::{Arc, Mutex};

/// The byte a secret's bytes become.
pub const MASK: u8 = b'*';

/// Which interface of a case a packet belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The air (link type 264).
    Air,
    /// APDUs (link type 252).
    Apdu,
}

/// One packet of a case, its link-layer bytes ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// Simulated time since the case's start, nanoseconds.
    pub at_ns: u64,
    /// Its interface.
    pub link: Link,
    /// The packet's bytes (pseudo-header or exported-PDU tags included).
    pub data: Vec<u8>,
    /// Its direction.
    pub way: Option<Way>,
    /// A note: the step that sent it, or what happened to a frame.
    pub comment: Option<String>,
}

/// The card's arrivals (with the ATR the reader reported) and departures, for views of the
/// exchanges without the air (a USB reader's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// The card arrived and the reader reported this ATR.
    Arrived(Vec<u8>),
    /// The card left.
    Left,
}

/// What a case put on its links, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseCapture {
    /// The packets.
    pub packets: Vec<Captured>,
    /// The card's arrivals and departures: how many packets came before each, its time in
    /// nanoseconds since the case's start, what it was.
    pub presence: Vec<(usize, u64, Presence)>,
    /// The step the next packet belongs to, not yet written on a packet.
    pending: Option<String>,
    /// APDUs exchanged (a command without an answer counts: it went out).
    pub commands: usize,
}

impl CaseCapture {
    /// The next packet is the first of `step`.
    pub fn mark(&mut self, step: String) {
        self.pending = Some(step);
    }

    fn push(
        &mut self,
        at: SimTime,
        link: Link,
        data: Vec<u8>,
        way: Option<Way>,
        note: Option<String>,
    ) {
        let comment = match (self.pending.take(), note) {
            (Some(s), Some(n)) => Some(format!("{s}; {n}")),
            (s, n) => s.or(n),
        };
        self.packets.push(Captured {
            at_ns: at.as_nanos(),
            link,
            data,
            way,
            comment,
        });
    }
}

/// A capture shared between the tap and whoever reads it when the case ends.
pub type SharedCapture = Arc<Mutex<CaseCapture>>;

/// A backend with a listening post.
pub struct Tap {
    inner: Box<dyn Backend>,
    capture: SharedCapture,
    secrets: Vec<Vec<u8>>,
    /// A card is in the field as far as the capture knows.
    present: bool,
}

impl Tap {
    /// Listens on `inner`, writing into `capture`; `secrets` (the case's PINs and keys) never
    /// appear in it. Turns the backend's air record on.
    pub fn new(mut inner: Box<dyn Backend>, capture: SharedCapture, secrets: Vec<Vec<u8>>) -> Tap {
        inner.keep_air();
        Tap {
            inner,
            capture,
            secrets,
            present: false,
        }
    }

    /// Writes what the backend put on the air since the last call; frames of `Direction` that
    /// carried a message are patched with its redacted bytes.
    fn air(&mut self, patches: &[(Direction, &[u8], &[u8])]) {
        let air = self.inner.take_air();
        let mut c = self.capture.lock().expect("capture lock");
        for (at, data, way, note) in air_packets(air, patches) {
            c.push(at, Link::Air, data, way, note);
        }
    }

    fn apdu(&self, at: SimTime, way: ApduWay, bytes: &[u8]) {
        let mut c = self.capture.lock().expect("capture lock");
        if way == ApduWay::Command {
            c.commands += 1;
        }
        let direction = match way {
            ApduWay::Command => Way::Outbound,
            ApduWay::Response => Way::Inbound,
        };
        c.push(at, Link::Apdu, pdu::apdu(way, bytes), Some(direction), None);
    }
}

/// One air packet: when, its link type 264 bytes, its direction, a note on its fate.
pub type AirPacket = (SimTime, Vec<u8>, Option<Way>, Option<String>);

/// The air as link type 264 packets; frames of a direction that carried a message are patched
/// with its redacted bytes first (`(direction, plain, redacted)`).
pub fn air_packets(
    mut air: Vec<AirRecord>,
    patches: &[(Direction, &[u8], &[u8])],
) -> Vec<AirPacket> {
    for (dir, plain, redacted) in patches {
        if plain != redacted {
            patch_frames(&mut air, *dir, plain, redacted);
        }
    }
    air.into_iter()
        .map(|r| {
            let (event, bytes, way, note) = match r.kind {
                AirKind::FieldOn => (AirEvent::FieldOn, Vec::new(), None, None),
                AirKind::FieldOff => (AirEvent::FieldOff, Vec::new(), None, None),
                AirKind::Frame { dir, bytes, fate } => {
                    let (event, way) = match dir {
                        Direction::ToCard => (AirEvent::ToCard, Way::Outbound),
                        Direction::ToReader => (AirEvent::FromCard, Way::Inbound),
                    };
                    let note = match fate {
                        Fate::Delivered => None,
                        Fate::Lost => Some("lost on the way (a fault of the case)".to_string()),
                        Fate::Corrupted => {
                            Some("received with a CRC error (a fault of the case)".to_string())
                        }
                        Fate::FieldOff => Some(
                            "cut off: the card left the field (a fault of the case)".to_string(),
                        ),
                    };
                    (event, bytes, Some(way), note)
                }
            };
            (r.at, pdu::air(event, &bytes), way, note)
        })
        .collect()
}

/// `bytes` with every occurrence of a secret (3 bytes or longer) masked.
fn mask_known(bytes: &mut [u8], secrets: &[Vec<u8>]) {
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        let mut i = 0;
        while i + s.len() <= bytes.len() {
            if bytes[i..i + s.len()] == s[..] {
                bytes[i..i + s.len()].fill(MASK);
                i += s.len();
            } else {
                i += 1;
            }
        }
    }
}

/// A command as a capture may hold it: a secret-bearing command's data masked, and any known
/// secret anywhere.
pub fn redact_command(apdu: &[u8], secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = apdu.to_vec();
    if carries_secret(apdu) {
        // The data field only (an Le after it stays): extended length has 00 Lc1 Lc2 after the
        // header, short length Lc; a length that overruns the command masks to its end.
        let (from, len): (usize, usize) = if apdu.len() > 7 && apdu[4] == 0 {
            (7, usize::from(u16::from_be_bytes([apdu[5], apdu[6]])))
        } else {
            (5, usize::from(apdu[4]))
        };
        let end = from.saturating_add(len).min(out.len());
        out[from.min(end)..end].fill(MASK);
    }
    mask_known(&mut out, secrets);
    out
}

/// A response as a capture may hold it: any known secret in its data masked.
pub fn redact_response(response: &[u8], secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = response.to_vec();
    let data = out.len().saturating_sub(2);
    mask_known(&mut out[..data], secrets);
    out
}

/// Which CRC a frame carries, if either holds.
fn nfc_of(frame: &[u8]) -> Option<NfcType> {
    [NfcType::A, NfcType::B]
        .into_iter()
        .find(|n| check_crc(*n, frame).is_ok())
}

/// Puts `redacted` in place of `plain` in the I-blocks of `dir` that carried the message
/// (chained, retransmitted or not), recomputing their CRC; a broken frame of that direction
/// keeps only its first byte.
fn patch_frames(air: &mut [AirRecord], dir: Direction, plain: &[u8], redacted: &[u8]) {
    let mut next = 0usize;
    let mut last: Option<(bool, Vec<u8>, usize)> = None;
    for r in air.iter_mut() {
        let AirKind::Frame { dir: d, bytes, .. } = &mut r.kind else {
            continue;
        };
        if *d != dir {
            continue;
        }
        let Some(nfc) = nfc_of(bytes) else {
            if bytes.len() > 1 {
                bytes[1..].fill(MASK);
            }
            continue;
        };
        let body_len = bytes.len() - 2;
        let (start, prologue, inf) = match Block::parse(&bytes[..body_len]) {
            Ok(b) if matches!(b.kind, BlockKind::I { .. }) => {
                let inf = b.inf.to_vec();
                let start = match &last {
                    // A retransmission carries the same piece again.
                    Some((n, prev, at)) if *n == b.number && *prev == inf => *at,
                    _ => next,
                };
                last = Some((b.number, inf.clone(), start));
                (start, b.prologue_len(), inf)
            }
            _ => continue,
        };
        for (i, _) in inf.iter().enumerate() {
            if let (Some(p), Some(r)) = (plain.get(start + i), redacted.get(start + i))
                && p != r
            {
                bytes[prologue + i] = *r;
            }
        }
        next = start + inf.len();
        bytes.truncate(body_len);
        append_crc(nfc, bytes);
    }
}

impl Transport for Tap {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Exchange, TransportError> {
        let command = redact_command(apdu, &self.secrets);
        let sent = self.inner.now();
        self.apdu(sent, ApduWay::Command, &command);
        let result = self.inner.transmit(apdu);
        let response = match &result {
            Ok(x) => redact_response(&x.response, &self.secrets),
            Err(_) => Vec::new(),
        };
        let plain_response = result
            .as_ref()
            .map(|x| x.response.clone())
            .unwrap_or_default();
        self.air(&[
            (Direction::ToCard, apdu, &command),
            (Direction::ToReader, &plain_response, &response),
        ]);
        if result.is_ok() {
            self.apdu(self.inner.now(), ApduWay::Response, &response);
        }
        result
    }
    fn now(&self) -> SimTime {
        self.inner.now()
    }
    fn last_frames(&self) -> Vec<FrameRecord> {
        self.inner.last_frames()
    }
}

impl Backend for Tap {
    fn tap(&mut self) -> Result<(), LinkError> {
        let r = self.inner.tap();
        self.air(&[]);
        if r.is_ok() && !self.present {
            self.present = true;
            let atr = self.inner.atr().unwrap_or_default();
            let at = self.inner.now().as_nanos();
            let mut c = self.capture.lock().expect("capture lock");
            let before = c.packets.len();
            c.presence.push((before, at, Presence::Arrived(atr)));
        }
        r
    }
    fn remove(&mut self) {
        self.inner.remove();
        self.air(&[]);
        if std::mem::take(&mut self.present) {
            let at = self.inner.now().as_nanos();
            let mut c = self.capture.lock().expect("capture lock");
            let before = c.packets.len();
            c.presence.push((before, at, Presence::Left));
        }
    }
    fn disconnect(&mut self) -> Result<(), LinkError> {
        let r = self.inner.disconnect();
        self.air(&[]);
        r
    }
    fn warm_reset(&mut self) -> Result<(), LinkError> {
        let r = self.inner.warm_reset();
        self.air(&[]);
        r
    }
    fn approve(&mut self) -> bool {
        self.inner.approve()
    }
    fn wait(&mut self, d: SimDuration) {
        self.inner.wait(d)
    }
    fn bit_rate(&self) -> u32 {
        self.inner.bit_rate()
    }
    fn uid(&self) -> Vec<u8> {
        self.inner.uid()
    }
    fn atr(&self) -> Result<Vec<u8>, LinkError> {
        self.inner.atr()
    }
    fn card_name(&self) -> String {
        self.inner.card_name()
    }
    fn finish(&mut self) {
        self.inner.finish();
        self.air(&[]);
    }
    fn missed_faults(&self) -> Vec<String> {
        self.inner.missed_faults()
    }
    fn injects_faults(&self) -> bool {
        self.inner.injects_faults()
    }
    fn control(&mut self, code: u32, data: &[u8]) -> Result<Vec<u8>, ControlError> {
        // A PIN pad's exchange with the card is on the air (its PIN masked by the reader).
        let r = self.inner.control(code, data);
        self.air(&[]);
        r
    }
    fn attribute(&mut self, tag: u32) -> Result<Vec<u8>, ControlError> {
        self.inner.attribute(tag)
    }
    fn set_operator(&mut self, operator: Operator) {
        self.inner.set_operator(operator)
    }
    fn reader_unreachable(&self) -> Option<String> {
        self.inner.reader_unreachable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, ReaderProfile};
    use rand_core::SeedableRng;

    fn tapped(card: &str) -> (Tap, SharedCapture, Vec<u8>) {
        let subject = Fixtures::embedded().default_subject();
        let pin = subject.identity.pins.auth.expose().as_bytes().to_vec();
        let card = Card::new(Arc::new(CardProfile::builtin(card).unwrap()), subject, 1).unwrap();
        let reader = Arc::new(ReaderProfile::builtin("basic-106k").unwrap());
        let faults = FaultPlan::new(Vec::new(), rand_chacha::ChaCha8Rng::seed_from_u64(1));
        let capture = SharedCapture::default();
        let tap = Tap::new(
            Box::new(Reader::new(reader, card, faults)),
            capture.clone(),
            vec![pin.clone()],
        );
        (tap, capture, pin)
    }

    #[test]
    fn a_pin_never_reaches_the_capture_and_the_frames_that_carried_it_keep_good_crcs() {
        let (mut t, capture, pin) = tapped("mynumber-card");
        t.tap().unwrap();
        let select = hex::decode("00A4040C0AD392F000260100000001").unwrap();
        assert_eq!(t.transmit(&select).unwrap().response, [0x90, 0x00]);
        t.transmit(&hex::decode("00A4020C020018").unwrap()).unwrap();
        let mut verify = vec![0x00, 0x20, 0x00, 0x80, pin.len() as u8];
        verify.extend_from_slice(&pin);
        assert_eq!(t.transmit(&verify).unwrap().response, [0x90, 0x00]);
        t.remove();
        let c = capture.lock().unwrap().clone();
        assert_eq!(c.commands, 3);
        for p in &c.packets {
            assert!(
                !p.data.windows(pin.len()).any(|w| w == pin),
                "a PIN in {:02X?}",
                p.data
            );
        }
        // The VERIFY as captured: header, Lc, then masks; its I-block's CRC good.
        let apdus: Vec<_> = c
            .packets
            .iter()
            .filter_map(|p| pdu::read_apdu(&p.data))
            .collect();
        let (_, v) = apdus
            .iter()
            .find(|(w, a)| *w == ApduWay::Command && a[1] == 0x20)
            .unwrap();
        assert_eq!(v[..5], verify[..5]);
        assert!(v[5..].iter().all(|b| *b == MASK));
        let frames: Vec<&[u8]> = c
            .packets
            .iter()
            .filter(|p| p.link == Link::Air && p.data[1] == 0xFE && p.data.len() > 7)
            .map(|p| &p.data[4..])
            .collect();
        let verify_frame = frames
            .iter()
            .find(|f| f[1..3] == [0x00, 0x20])
            .expect("the VERIFY's I-block");
        assert!(
            check_crc(NfcType::B, verify_frame).is_ok(),
            "{verify_frame:02X?}"
        );
        assert!(
            matches!(c.packets.first().map(|p| p.data[1]), Some(0xFC)),
            "field on first"
        );
        assert!(
            matches!(c.packets.last().map(|p| p.data[1]), Some(0xFD)),
            "field off last"
        );
    }

    #[test]
    fn a_chained_message_is_masked_piece_by_piece() {
        // Three pieces; a retransmission of the second.
        let plain: Vec<u8> = (0..30).collect();
        let mut redacted = plain.clone();
        redacted[8..14].fill(MASK);
        let piece = |n: bool, chain: bool, inf: &[u8]| {
            kazasu_sim::reader::frame_with_crc(NfcType::A, &Block::i(n, chain, inf))
        };
        let frame = |bytes| AirRecord {
            at: SimTime::START,
            end: SimTime::START,
            kind: AirKind::Frame {
                dir: Direction::ToCard,
                bytes,
                fate: Fate::Delivered,
            },
        };
        let mut air = vec![
            frame(piece(false, true, &plain[..10])),
            frame(piece(true, true, &plain[10..20])),
            frame(piece(true, true, &plain[10..20])),
            frame(piece(false, false, &plain[20..])),
        ];
        patch_frames(&mut air, Direction::ToCard, &plain, &redacted);
        let infs: Vec<Vec<u8>> = air
            .iter()
            .map(|r| match &r.kind {
                AirKind::Frame { bytes, .. } => {
                    let body = check_crc(NfcType::A, bytes).expect("CRC recomputed");
                    Block::parse(body).unwrap().inf.to_vec()
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(infs[0], redacted[..10]);
        assert_eq!(infs[1], redacted[10..20]);
        assert_eq!(infs[2], redacted[10..20], "the retransmission too");
        assert_eq!(infs[3], redacted[20..]);
    }

    #[test]
    fn secret_bearing_commands_lose_their_data_and_echoes_are_masked() {
        let secrets = vec![b"4321".to_vec()];
        assert_eq!(
            redact_command(&[0, 0x20, 0, 0x80, 4, 1, 2, 3, 4], &[]),
            [0, 0x20, 0, 0x80, 4, b'*', b'*', b'*', b'*']
        );
        assert_eq!(
            redact_command(&[0, 0x20, 0, 0x80, 0, 0, 4, 1, 2, 3, 4], &[]),
            [0, 0x20, 0, 0x80, 0, 0, 4, b'*', b'*', b'*', b'*'],
            "extended length keeps its length bytes"
        );
        assert_eq!(
            redact_command(b"\x80\x20\x00\x00\x044321", &secrets),
            b"\x80\x20\x00\x00\x04****"
        );
        assert_eq!(
            redact_response(b"xx4321\x90\x00", &secrets),
            b"xx****\x90\x00"
        );
        assert_eq!(redact_response(b"43\x90\x00", &secrets), b"43\x90\x00");
        assert_eq!(
            redact_command(&[0, 0x20, 0, 0x80, 2, 1, 2, 0x00], &[]),
            [0, 0x20, 0, 0x80, 2, b'*', b'*', 0x00],
            "an Le after the data stays"
        );
    }
}

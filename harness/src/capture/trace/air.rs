//! ISO 14443 air frames (link type 264: Proxmark3 sniffs through text2pcap, NFCGate, Flipper
//! Zero, kazasu's own `--pcap`) read into a trace's events. Activation (REQA/WUPA, anticollision,
//! SELECT, RATS/ATS; REQB/WUPB, ATTRIB) gives the card's arrival and the ATR a PC/SC reader
//! builds for it (PC/SC part 3); I-blocks, chained or not, with or without CID and NAD, are joined
//! into APDUs; retransmitted blocks count once; S(WTX), R-blocks, PPS and polling that wakes no
//! card are the link's business, not the trace's. The field switching off ends the card's visit.
//! A frame whose CRC fails was not received: it is left out, as the reader left it out.

use super::model::{ExchangeOutcome, RawTrace, What};
use kazasu_sim::iso14443::frame::{Block, BlockKind, check_crc};
use kazasu_sim::platform::profile::NfcType;

/// One frame as captured: its packet number, time, pseudo-header event and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AirFrame {
    /// Packet (or record) number in the file.
    pub number: usize,
    /// µs since the capture's first packet.
    pub at_us: u64,
    /// `FF`/`FB` from the card, `FE`/`FA` to it (`FB`/`FA`: CRC dropped), `FC`/`FD` the field.
    pub event: u8,
    /// The frame.
    pub bytes: Vec<u8>,
}

/// What the card's next frame answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Awaits {
    Nothing,
    Atqa,
    Uid,
    Sak,
    Ats,
    Atqb,
    AttribAnswer,
    PpsResponse,
}

/// A message being put together from I-blocks: its bytes, the last piece and its number.
#[derive(Default)]
struct Pieces {
    bytes: Vec<u8>,
    last: Option<(bool, Vec<u8>)>,
    first_at: u64,
}

impl Pieces {
    /// Adds a piece unless it repeats the last one (a retransmission); `true` when it was new.
    fn add(&mut self, number: bool, inf: &[u8], at: u64) -> bool {
        if self
            .last
            .as_ref()
            .is_some_and(|(n, p)| *n == number && p == inf)
        {
            return false;
        }
        if self.bytes.is_empty() {
            self.first_at = at;
        }
        self.bytes.extend_from_slice(inf);
        self.last = Some((number, inf.to_vec()));
        true
    }
}

/// The PC/SC part 3 ATR of a contactless card with these historical bytes.
pub(super) fn pcsc_atr(historical: &[u8]) -> Vec<u8> {
    let mut atr = vec![0x3B, 0x80 | historical.len().min(15) as u8, 0x80, 0x01];
    atr.extend_from_slice(&historical[..historical.len().min(15)]);
    let tck = atr[1..].iter().fold(0, |a, b| a ^ b);
    atr.push(tck);
    atr
}

/// The historical bytes of an ATS (after TL, T0 and the interface bytes T0 announces).
fn ats_historical(ats: &[u8]) -> &[u8] {
    let Some(t0) = ats.get(1) else {
        return &[];
    };
    let interface = [0x10, 0x20, 0x40].iter().filter(|b| t0 & **b != 0).count();
    let end = usize::from(ats[0]).min(ats.len());
    ats.get(2 + interface..end).unwrap_or(&[])
}

/// Reads one interface's frames into `raw` as events of `reader`.
pub(super) fn read_air(frames: &[AirFrame], reader: Option<&str>, raw: &mut RawTrace) {
    let mut s = Air::default();
    for f in frames {
        s.frame(f, reader, raw);
    }
    s.end_of_command(reader, raw, None);
}

#[derive(Default)]
struct Air {
    nfc: Option<NfcType>,
    awaits: Option<Awaits>,
    /// The card's arrival is in the trace.
    present: bool,
    command: Pieces,
    response: Pieces,
    /// A whole command waiting for its answer: bytes, time, packet number.
    waiting: Option<(Vec<u8>, u64, usize)>,
}

impl Air {
    /// A command that ends without an answer (the field went off, the capture ended) is an
    /// exchange that got nothing.
    fn end_of_command(&mut self, reader: Option<&str>, raw: &mut RawTrace, at: Option<u64>) {
        if let Some((command, started, number)) = self.waiting.take() {
            let took = at.map(|a| a.saturating_sub(started));
            raw.exchange(
                reader,
                number,
                Some(started),
                command,
                ExchangeOutcome::Nothing,
                took,
            );
        }
        self.command = Pieces::default();
        self.response = Pieces::default();
    }

    fn arrived(
        &mut self,
        reader: Option<&str>,
        raw: &mut RawTrace,
        f: &AirFrame,
        atr: Option<Vec<u8>>,
    ) {
        if !self.present {
            if let Some(a) = &atr {
                raw.atrs.push((reader.map(str::to_string), a.clone()));
            }
            raw.push(reader, f.number, Some(f.at_us), What::Inserted { atr });
            self.present = true;
        }
    }

    fn field_off(&mut self, reader: Option<&str>, raw: &mut RawTrace, f: &AirFrame) {
        self.end_of_command(reader, raw, Some(f.at_us));
        if self.present {
            raw.push(reader, f.number, Some(f.at_us), What::Removed);
        }
        *self = Air::default();
    }

    /// The frame without its CRC; `None` when the CRC fails (the frame was not received).
    fn body<'f>(&mut self, f: &'f AirFrame) -> Option<&'f [u8]> {
        if matches!(f.event, 0xFA | 0xFB) {
            return Some(&f.bytes);
        }
        let candidates = match self.nfc {
            Some(n) => vec![n],
            None => vec![NfcType::A, NfcType::B],
        };
        let (nfc, body) = candidates
            .into_iter()
            .find_map(|n| check_crc(n, &f.bytes).ok().map(|b| (n, b)))?;
        self.nfc = Some(nfc);
        Some(body)
    }

    fn frame(&mut self, f: &AirFrame, reader: Option<&str>, raw: &mut RawTrace) {
        match f.event {
            0xFC => self.field_off(reader, raw, f),
            0xFD => self.field_off(reader, raw, f),
            0xFE | 0xFA => self.reader_frame(f, reader, raw),
            0xFF | 0xFB => self.card_frame(f, reader, raw),
            _ => {}
        }
    }

    fn reader_frame(&mut self, f: &AirFrame, reader: Option<&str>, raw: &mut RawTrace) {
        let b = &f.bytes;
        // Frames without a CRC by nature: REQA/WUPA and anticollision.
        if f.event == 0xFE {
            if b.len() == 1 && matches!(b[0], 0x26 | 0x52) {
                self.nfc = Some(NfcType::A);
                self.awaits = Some(Awaits::Atqa);
                return;
            }
            if b.len() >= 2 && matches!(b[0], 0x93 | 0x95 | 0x97) && b[1] != 0x70 {
                self.awaits = Some(Awaits::Uid);
                return;
            }
        }
        let Some(body) = self.body(f) else {
            self.awaits = None;
            return;
        };
        let inactive = self.waiting.is_none() && self.command.bytes.is_empty();
        self.awaits = match body {
            [0x93 | 0x95 | 0x97, 0x70, ..] => Some(Awaits::Sak),
            [0xE0, _] if inactive => Some(Awaits::Ats),
            [0x05, _, _] => {
                self.nfc = Some(NfcType::B);
                Some(Awaits::Atqb)
            }
            [0x1D, ..] if body.len() >= 9 => Some(Awaits::AttribAnswer),
            [0x50, 0x00] => None,
            [pps, p0, ..] if pps & 0xF0 == 0xD0 && body.len() <= 3 && p0 & 0xEF == 0x01 => {
                Some(Awaits::PpsResponse)
            }
            _ => {
                self.block_to_card(body, f, reader, raw);
                Some(Awaits::Nothing)
            }
        };
    }

    fn block_to_card(
        &mut self,
        body: &[u8],
        f: &AirFrame,
        reader: Option<&str>,
        raw: &mut RawTrace,
    ) {
        let Ok(block) = Block::parse(body) else {
            return;
        };
        match block.kind {
            BlockKind::I { chaining } => {
                if self.waiting.is_some() {
                    // The reader sent its last piece again: the answer was lost on the way.
                    let again = self.command.last.as_ref();
                    if again.is_some_and(|(n, p)| *n == block.number && p == block.inf) {
                        return;
                    }
                    // A new command while one waits: the card never answered that one.
                    self.end_of_command(reader, raw, Some(f.at_us));
                }
                self.arrived(reader, raw, f, None);
                if self.command.add(block.number, block.inf, f.at_us) && !chaining {
                    let command = std::mem::take(&mut self.command.bytes);
                    self.waiting = Some((command, self.command.first_at, f.number));
                    self.response = Pieces::default();
                }
            }
            BlockKind::Deselect => self.end_of_command(reader, raw, Some(f.at_us)),
            _ => {}
        }
    }

    fn card_frame(&mut self, f: &AirFrame, reader: Option<&str>, raw: &mut RawTrace) {
        let awaits = self.awaits.take().unwrap_or(Awaits::Nothing);
        match awaits {
            Awaits::Atqa | Awaits::Uid => return,
            _ => {}
        }
        let Some(body) = self.body(f) else {
            return;
        };
        match awaits {
            Awaits::Ats => {
                let atr = pcsc_atr(ats_historical(body));
                self.arrived(reader, raw, f, Some(atr));
            }
            // A Type B card is in the field once it answers REQB; its ATR is the ATQB's
            // application data and protocol info, then MBLI (0 until ATTRIB's answer says).
            Awaits::Atqb if body.len() >= 12 && body[0] == 0x50 => {
                let mut historical = body[5..12].to_vec();
                historical.push(0);
                self.arrived(reader, raw, f, Some(pcsc_atr(&historical)));
            }
            Awaits::Atqb | Awaits::AttribAnswer => {}
            Awaits::Sak | Awaits::PpsResponse | Awaits::Atqa | Awaits::Uid => {}
            Awaits::Nothing => self.block_from_card(body, f, reader, raw),
        }
    }

    fn block_from_card(
        &mut self,
        body: &[u8],
        f: &AirFrame,
        reader: Option<&str>,
        raw: &mut RawTrace,
    ) {
        let Ok(block) = Block::parse(body) else {
            return;
        };
        let BlockKind::I { chaining } = block.kind else {
            return;
        };
        if self.waiting.is_none() {
            // An answer to a command the capture missed, or a retransmitted last answer.
            return;
        }
        if self.response.add(block.number, block.inf, f.at_us) && !chaining {
            let (command, started, number) = self.waiting.take().expect("checked above");
            let response = std::mem::take(&mut self.response.bytes);
            let took = f.at_us.saturating_sub(started);
            raw.exchange(
                reader,
                number,
                Some(started),
                command,
                ExchangeOutcome::Response(response),
                Some(took),
            );
            // The next command starts afresh; a repeat of this answer is a retransmission.
            self.command = Pieces::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kazasu_sim::iso14443::frame::append_crc;

    fn with_crc(nfc: NfcType, b: &[u8]) -> Vec<u8> {
        let mut v = b.to_vec();
        append_crc(nfc, &mut v);
        v
    }

    fn frames(list: Vec<(u8, Vec<u8>)>) -> Vec<AirFrame> {
        list.into_iter()
            .enumerate()
            .map(|(i, (event, bytes))| AirFrame {
                number: i + 1,
                at_us: i as u64 * 100,
                event,
                bytes,
            })
            .collect()
    }

    fn trace(list: Vec<(u8, Vec<u8>)>) -> Vec<What> {
        let mut raw = RawTrace::default();
        read_air(&frames(list), None, &mut raw);
        raw.events.into_iter().map(|(_, e)| e.what).collect()
    }

    fn exchange(command: &[u8], response: &[u8]) -> What {
        What::Exchange {
            command: command.to_vec(),
            redacted: false,
            answer_hidden: false,
            outcome: ExchangeOutcome::Response(response.to_vec()),
            took_us: None,
        }
    }

    fn without_times(w: Vec<What>) -> Vec<What> {
        w.into_iter()
            .map(|w| match w {
                What::Exchange {
                    command,
                    redacted,
                    answer_hidden,
                    outcome,
                    ..
                } => What::Exchange {
                    command,
                    redacted,
                    answer_hidden,
                    outcome,
                    took_us: None,
                },
                w => w,
            })
            .collect()
    }

    #[test]
    fn a_type_b_card_arrives_with_its_atr_and_chained_answers_are_joined() {
        let b = |x: &[u8]| with_crc(NfcType::B, x);
        let select = [0x00, 0xA4, 0x04, 0x0C, 0x02, 0xD3, 0x92];
        let events = trace(vec![
            (0xFC, vec![]),
            (0xFE, b(&[0x05, 0x00, 0x00])),
            (
                0xFF,
                b(&[0x50, 1, 2, 3, 4, 0x00, 0x00, 0x05, 0xE0, 0xB3, 0x81, 0xA1]),
            ),
            (0xFE, b(&[0x1D, 1, 2, 3, 4, 0x00, 0x08, 0x01, 0x00])),
            (0xFF, b(&[0x00])),
            (0xFE, b(&[&[0x02][..], &select].concat())),
            (0xFF, b(&[0xF2, 0x01])), // S(WTX)
            (0xFE, b(&[0xF2, 0x01])),
            (0xFF, b(&[0x12, 0xAA, 0xBB])), // I(0) chaining
            (0xFE, b(&[0xA3])),             // R(ACK 1)
            (0xFF, b(&[0x03, 0xCC, 0x90, 0x00])),
            (0xFD, vec![]),
        ]);
        let atr = kazasu_sim::parse_hex("3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F").unwrap();
        assert_eq!(
            without_times(events),
            [
                What::Inserted { atr: Some(atr) },
                exchange(&select, &[0xAA, 0xBB, 0xCC, 0x90, 0x00]),
                What::Removed
            ]
        );
    }

    #[test]
    fn a_type_a_card_with_cid_a_retransmission_and_a_lost_answer() {
        let a = |x: &[u8]| with_crc(NfcType::A, x);
        let events = trace(vec![
            (0xFE, vec![0x52]),
            (0xFF, vec![0x44, 0x03]),
            (0xFE, vec![0x93, 0x20]),
            (0xFF, vec![0x88, 1, 2, 3, 0x88]),
            (0xFE, a(&[0x93, 0x70, 0x88, 1, 2, 3, 0x88])),
            (0xFF, a(&[0x04])),
            (0xFE, a(&[0xE0, 0x80])),
            (0xFF, a(&[0x06, 0x75, 0x77, 0x81, 0x02, 0x80])),
            (0xFE, a(&[0xD0, 0x11, 0x00])), // PPS
            (0xFF, a(&[0xD0])),
            (0xFE, a(&[0x0A, 0x00, 0x90, 0x60, 0x00, 0x00, 0x00])), // I(0) with CID 0
            (0xFE, a(&[0x0A, 0x00, 0x90, 0x60, 0x00, 0x00, 0x00])), // sent again
            (0xFF, a(&[0x0A, 0x00, 0x91, 0x00])),
            (0xFE, a(&[0x0B, 0x00, 0x90, 0xAF, 0x00, 0x00, 0x00])),
            (0xFF, vec![0x0B, 0x00, 0x91, 0x00, 0x12, 0x34]), // CRC broken: not received
            (0xFE, vec![0xC2]),
        ]);
        assert_eq!(events.len(), 3, "{events:?}");
        let atr = pcsc_atr(&[0x80]);
        assert_eq!(events[0], What::Inserted { atr: Some(atr) });
        assert_eq!(
            without_times(vec![events[1].clone()])[0],
            exchange(&[0x90, 0x60, 0, 0, 0], &[0x91, 0x00])
        );
        assert!(
            matches!(&events[2], What::Exchange { outcome: ExchangeOutcome::Nothing, command, .. } if command[1] == 0xAF),
            "{:?}",
            events[2]
        );
    }

    #[test]
    fn nfcgate_frames_without_crc_and_two_equal_commands_in_a_row() {
        let cmd = [0x00, 0xB0, 0x00, 0x00, 0x02];
        let i = |x: &[u8]| [&[0x02][..], x].concat();
        let events = trace(vec![
            (0xFA, i(&cmd)),
            (0xFB, i(&[0x30, 0x82, 0x90, 0x00])),
            (0xFA, i(&cmd)),
            (0xFB, i(&[0x30, 0x82, 0x90, 0x00])),
        ]);
        assert_eq!(
            without_times(events),
            [
                What::Inserted { atr: None },
                exchange(&cmd, &[0x30, 0x82, 0x90, 0x00]),
                exchange(&cmd, &[0x30, 0x82, 0x90, 0x00])
            ]
        );
    }
}

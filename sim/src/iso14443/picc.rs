//! The card side of ISO/IEC 14443-4 (the PICC): activation answers (ATQA/UID/SAK/ATS/PPS for
//! Type A, ATQB/ATTRIB for Type B) and the half-duplex block protocol over the card OS —
//! chaining both ways, R(ACK)/R(NAK) recovery, S(WTX) whenever the card needs longer than the
//! frame waiting time, S(DESELECT) — with the block-numbering rules C, D, E, 10–13 of the
//! reference. Sans-IO: a frame and the time it ended in; a reply frame and its delay out.

use crate::card::{Card, CardReply};
use crate::iso14443::atr;
use crate::iso14443::frame::{Block, BlockKind, append_crc, check_crc, inf_room, next_segment};
use crate::iso14443::timing;
use crate::platform::profile::NfcType;
use crate::time::{SimDuration, SimTime};

/// Where the card is in its life in the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not powered (out of the field).
    Off,
    /// Powered, waiting for REQA/REQB.
    Idle,
    /// ISO/IEC 14443-3 done (selected / ATQB sent), waiting for RATS / ATTRIB.
    Ready,
    /// ISO/IEC 14443-4 active: blocks carry APDUs.
    Active,
    /// Deselected.
    Halted,
}

/// A frame the card sends back, and how long after the end of the reader's frame it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The frame, CRC included.
    pub frame: Vec<u8>,
    /// Delay from the end of the received frame to the start of this one.
    pub delay: SimDuration,
}

/// What happened inside the card while it handled a frame, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardActivity {
    /// The card executed a complete command APDU.
    pub executed: bool,
    /// The card lost power while executing it.
    pub power_lost: bool,
}

struct Busy {
    ready_at: SimTime,
    response: Vec<u8>,
}

/// The card's ISO/IEC 14443-4 state.
pub struct Picc {
    nfc: NfcType,
    phase: Phase,
    /// Current block number (rule C: starts at 1).
    block_number: bool,
    /// The reader's frame size (from RATS / ATTRIB): the largest frame the card may send.
    fsd: usize,
    fwt: SimDuration,
    min_delay: SimDuration,
    rx: Vec<u8>,
    tx: Vec<u8>,
    tx_offset: usize,
    last_sent: Vec<u8>,
    busy: Option<Busy>,
    /// Fault: processing time multiplier for the next command.
    pub slow_factor: f64,
    /// Fault: extra S(WTX) requests to send before the next answer.
    pub wtx_storm: u32,
}

impl Picc {
    /// The protocol state of `card`, out of the field.
    pub fn new(card: &Card) -> Picc {
        let c = &card.profile().contactless;
        let nfc = c.nfc_type.value;
        Picc {
            nfc,
            phase: Phase::Off,
            block_number: true,
            fsd: 32,
            fwt: timing::fwt(c.fwi.value),
            min_delay: timing::picc_min_delay(nfc),
            rx: Vec::new(),
            tx: Vec::new(),
            tx_offset: 0,
            last_sent: Vec::new(),
            busy: None,
            slow_factor: 1.0,
            wtx_storm: 0,
        }
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The field comes on: the card powers up.
    pub fn field_on(&mut self, card: &mut Card) {
        card.power_on();
        *self = Picc {
            phase: Phase::Idle,
            ..Picc::new(card)
        };
    }

    /// A re-activation without the field going off (a warm reset): the card keeps its power
    /// and what its profile keeps across a warm reset; the protocol state starts afresh.
    pub fn wake(&mut self, card: &mut Card) {
        card.warm_reset();
        *self = Picc {
            phase: Phase::Idle,
            ..Picc::new(card)
        };
    }

    /// The field goes off or the card leaves: everything volatile is gone.
    pub fn field_off(&mut self, card: &mut Card) {
        card.power_off();
        self.phase = Phase::Off;
        self.busy = None;
        self.rx.clear();
        self.tx.clear();
    }

    fn framed(&self, content: &[u8]) -> Vec<u8> {
        let mut f = content.to_vec();
        append_crc(self.nfc, &mut f);
        f
    }

    // ---- activation ----------------------------------------------------------------------

    /// Type A: REQA → ATQA (bit frame anticollision supported; UID size from the profile).
    pub fn reqa(&mut self, card: &Card) -> Option<[u8; 2]> {
        if self.phase != Phase::Idle || self.nfc != NfcType::A {
            return None;
        }
        let uid_size_bits = match card.uid().len() {
            4 => 0x00,
            7 => 0x40,
            _ => 0x80,
        };
        Some([uid_size_bits | 0x04, 0x00])
    }

    /// Type A anticollision at cascade level `level` (1..=3): the UID bytes of that level + BCC.
    pub fn anticollision(&self, card: &Card, level: u8) -> Option<[u8; 5]> {
        let uid = card.uid();
        let part: [u8; 4] = match (uid.len(), level) {
            (4, 1) => [uid[0], uid[1], uid[2], uid[3]],
            (7, 1) | (10, 1) => [0x88, uid[0], uid[1], uid[2]],
            (7, 2) => [uid[3], uid[4], uid[5], uid[6]],
            (10, 2) => [0x88, uid[3], uid[4], uid[5]],
            (10, 3) => [uid[6], uid[7], uid[8], uid[9]],
            _ => return None,
        };
        let bcc = part.iter().fold(0, |a, b| a ^ b);
        Some([part[0], part[1], part[2], part[3], bcc])
    }

    /// Type A SELECT at `level`: the SAK (cascade bit while UID bytes remain; 0x20 = ISO 14443-4).
    pub fn select(&mut self, card: &Card, level: u8) -> u8 {
        let levels = match card.uid().len() {
            4 => 1,
            7 => 2,
            _ => 3,
        };
        if level < levels {
            0x04
        } else {
            self.phase = Phase::Ready;
            0x20
        }
    }

    /// Type A RATS with the reader's FSDI → the ATS.
    pub fn rats(&mut self, card: &Card, fsdi: u8) -> Option<Vec<u8>> {
        if self.phase != Phase::Ready || self.nfc != NfcType::A {
            return None;
        }
        self.fsd = atr::frame_size(fsdi);
        self.phase = Phase::Active;
        self.block_number = true;
        Some(atr::ats(card.profile()))
    }

    /// Type B REQB → ATQB: `50`, PUPI, application data, protocol info.
    pub fn reqb(&mut self, card: &Card) -> Option<Vec<u8>> {
        if self.phase != Phase::Idle || self.nfc != NfcType::B {
            return None;
        }
        let mut atqb = vec![0x50];
        atqb.extend_from_slice(&card.uid()[..4]);
        atqb.extend_from_slice(&card.profile().contactless.historical_bytes.value.0);
        atqb.extend_from_slice(&atr::atqb_protocol_info(card.profile()));
        self.phase = Phase::Ready;
        Some(atqb)
    }

    /// Type B ATTRIB with the reader's FSDI → the answer byte (MBLI 0, CID 0).
    pub fn attrib(&mut self, fsdi: u8) -> Option<u8> {
        if self.phase != Phase::Ready || self.nfc != NfcType::B {
            return None;
        }
        self.fsd = atr::frame_size(fsdi);
        self.phase = Phase::Active;
        self.block_number = true;
        Some(0x00)
    }

    // ---- block protocol ------------------------------------------------------------------

    /// Handles a frame (CRC included) that ended at `now`. Invalid frames are ignored, as the
    /// standard asks: the reader then times out and recovers.
    pub fn on_frame(
        &mut self,
        card: &mut Card,
        frame: &[u8],
        now: SimTime,
    ) -> (Option<Reply>, CardActivity) {
        let mut activity = CardActivity::default();
        if self.phase != Phase::Active {
            return (None, activity);
        }
        let Ok(body) = check_crc(self.nfc, frame) else {
            return (None, activity);
        };
        let Ok(block) = Block::parse(body) else {
            return (None, activity);
        };
        if block.cid.is_some() {
            // The reader activated the card without a CID; a block with one is not for us.
            return (None, activity);
        }
        let reply = match block.kind {
            BlockKind::I { chaining } => {
                // Rule D: toggle on every I-block received.
                self.block_number = !self.block_number;
                self.tx.clear();
                self.tx_offset = 0;
                self.rx.extend_from_slice(block.inf);
                if chaining {
                    self.send_block(Block::ack(self.block_number), self.min_delay)
                } else {
                    let command = std::mem::take(&mut self.rx);
                    activity.executed = true;
                    match card.process(&command, now) {
                        CardReply::Answered(a) => {
                            let processing = a.processing.mul_f64(self.slow_factor);
                            self.slow_factor = 1.0;
                            self.busy = Some(Busy {
                                ready_at: now + processing,
                                response: a.response.to_vec(),
                            });
                            self.continue_work(now, self.fwt)
                        }
                        CardReply::PowerLost | CardReply::Unpowered => {
                            activity.power_lost = true;
                            self.phase = Phase::Off;
                            None
                        }
                    }
                }
            }
            BlockKind::RAck | BlockKind::RNak => {
                if block.number == self.block_number {
                    // Rule 11: the reader missed our last block: send it again (or, while still
                    // working, decide afresh between the answer and another S(WTX)).
                    if self.busy.is_some() {
                        self.continue_work(now, self.fwt)
                    } else {
                        self.resend_last()
                    }
                } else if block.kind == BlockKind::RNak {
                    // Rule 12.
                    self.send_block(Block::ack(self.block_number), self.min_delay)
                } else if self.tx_offset < self.tx.len() {
                    // Rule 13 (and E): the reader acknowledged our chained block; go on.
                    self.block_number = !self.block_number;
                    self.send_response_chunk(self.min_delay)
                } else {
                    self.resend_last()
                }
            }
            BlockKind::Wtx { wtxm } => {
                // The reader grants FWT × WTXM for the next answer.
                let granted = self
                    .fwt
                    .saturating_mul(u64::from(wtxm))
                    .min(timing::fwt_max());
                self.continue_work(now, granted)
            }
            BlockKind::Deselect => {
                self.phase = Phase::Halted;
                self.send_block(Block::deselect(), self.min_delay)
            }
        };
        (reply, activity)
    }

    /// The card is (or was) working on a command: answer if it is done within `window`,
    /// otherwise ask for more time.
    fn continue_work(&mut self, now: SimTime, window: SimDuration) -> Option<Reply> {
        let busy = self.busy.as_ref()?;
        if self.wtx_storm > 0 {
            self.wtx_storm -= 1;
            return self.send_block(Block::wtx(1), self.min_delay);
        }
        let needed = busy.ready_at.since(now).max(self.min_delay);
        if needed + self.min_delay <= window {
            let busy = self.busy.take()?;
            self.tx = busy.response;
            self.tx_offset = 0;
            return self.send_response_chunk(needed);
        }
        // Work for half the window, then ask for the rest (modelled: cards ask well before the
        // reader would time out).
        let asked_at = window.mul_f64(0.5).max(self.min_delay);
        let remaining = busy.ready_at.since(now + asked_at).as_nanos();
        let wtxm = remaining.div_ceil(self.fwt.as_nanos().max(1)).clamp(1, 59);
        let max_m = (timing::fwt_max().as_nanos() / self.fwt.as_nanos().max(1)).clamp(1, 59);
        self.send_block(Block::wtx(wtxm.min(max_m) as u8), asked_at)
    }

    fn send_response_chunk(&mut self, delay: SimDuration) -> Option<Reply> {
        let (end, more) = next_segment(self.tx_offset, self.tx.len(), inf_room(self.fsd));
        let mut content = Vec::with_capacity(end - self.tx_offset + 1);
        Block::i(self.block_number, more, &self.tx[self.tx_offset..end]).emit(&mut content);
        self.tx_offset = end;
        self.last_sent = content;
        Some(Reply {
            frame: self.framed(&self.last_sent),
            delay,
        })
    }

    fn send_block(&mut self, block: Block<'_>, delay: SimDuration) -> Option<Reply> {
        self.last_sent.clear();
        block.emit(&mut self.last_sent);
        Some(Reply {
            frame: self.framed(&self.last_sent),
            delay,
        })
    }

    fn resend_last(&self) -> Option<Reply> {
        if self.last_sent.is_empty() {
            return None;
        }
        Some(Reply {
            frame: self.framed(&self.last_sent),
            delay: self.min_delay,
        })
    }
}

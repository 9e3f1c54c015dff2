//! The reader side of ISO/IEC 14443-4 (the PCD): sends a command APDU as I-blocks (chaining when
//! it exceeds the card's frame size), acknowledges the card's chained answer, honours S(WTX),
//! recovers from lost or corrupted frames with R(NAK)/R(ACK) and retransmission, and gives up
//! after a bounded number of retries — as a real reader does. Sans-IO: frames and time-outs in,
//! frames to send (with how long to wait for an answer) or a finished response out.

use crate::iso14443::frame::{Block, BlockKind, append_crc, check_crc, inf_room, next_segment};
use crate::iso14443::timing;
use crate::platform::profile::NfcType;
use crate::time::SimDuration;

/// Why the reader gave up on an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PcdError {
    /// No valid answer after the retries.
    #[error("no valid answer from the card after {0} retries")]
    RetriesExhausted(u8),
    /// The card asked for more waiting-time extensions than the reader grants.
    #[error("the card asked for more than {0} waiting-time extensions")]
    TooManyWtx(u32),
}

/// What the reader does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PcdAction {
    /// Send this frame (CRC included) and wait up to `wait` for the start of an answer.
    Send {
        /// The frame.
        frame: Vec<u8>,
        /// How long to wait for an answer.
        wait: SimDuration,
    },
    /// The exchange is complete: the response APDU (empty for a DESELECT).
    Done(Vec<u8>),
    /// The reader gives up.
    Fail(PcdError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Idle,
    /// Sending the command; `sent` bytes of it are acknowledged or in flight.
    Sending,
    /// The whole command is sent; receiving the (possibly chained) answer.
    Receiving,
    Deselecting,
}

/// The reader's ISO/IEC 14443-4 state for one activated card.
pub struct Pcd {
    nfc: NfcType,
    /// Current block number (rule A: starts at 0).
    block_number: bool,
    /// The card's frame size (FSC): the largest frame the reader may send.
    fsc: usize,
    fwt: SimDuration,
    max_retries: u8,
    max_wtx: Option<u32>,
    stage: Stage,
    command: Vec<u8>,
    /// Start and end of the command part in the last I-block sent.
    chunk: (usize, usize),
    response: Vec<u8>,
    retries: u8,
    wtx_count: u32,
}

impl Pcd {
    /// A reader talking to a card activated with frame size `fsc` and `fwi`.
    pub fn new(nfc: NfcType, fsc: usize, fwi: u8, max_retries: u8, max_wtx: Option<u32>) -> Pcd {
        Pcd {
            nfc,
            block_number: false,
            fsc,
            fwt: timing::fwt(fwi),
            max_retries,
            max_wtx,
            stage: Stage::Idle,
            command: Vec::new(),
            chunk: (0, 0),
            response: Vec::new(),
            retries: 0,
            wtx_count: 0,
        }
    }

    /// The frame waiting time of the activated card.
    pub fn fwt(&self) -> SimDuration {
        self.fwt
    }

    fn send(&self, block: Block<'_>, wait: SimDuration) -> PcdAction {
        let mut frame = Vec::with_capacity(block.inf.len() + 4);
        block.emit(&mut frame);
        append_crc(self.nfc, &mut frame);
        PcdAction::Send { frame, wait }
    }

    fn send_chunk(&mut self, start: usize) -> PcdAction {
        let (end, more) = next_segment(start, self.command.len(), inf_room(self.fsc));
        self.chunk = (start, end);
        let command = std::mem::take(&mut self.command);
        let action = self.send(
            Block::i(self.block_number, more, &command[start..end]),
            self.fwt,
        );
        self.command = command;
        action
    }

    /// Starts sending a command APDU.
    pub fn start(&mut self, apdu: &[u8]) -> PcdAction {
        self.command.clear();
        self.command.extend_from_slice(apdu);
        self.response.clear();
        self.retries = 0;
        self.wtx_count = 0;
        self.stage = Stage::Sending;
        self.send_chunk(0)
    }

    /// Starts S(DESELECT).
    pub fn deselect(&mut self) -> PcdAction {
        self.stage = Stage::Deselecting;
        self.retries = 0;
        self.send(Block::deselect(), self.fwt)
    }

    /// No valid answer arrived within the waiting time, or the answer was invalid.
    pub fn on_error(&mut self) -> PcdAction {
        if self.retries >= self.max_retries {
            self.stage = Stage::Idle;
            return PcdAction::Fail(PcdError::RetriesExhausted(self.max_retries));
        }
        self.retries += 1;
        match self.stage {
            Stage::Deselecting => self.send(Block::deselect(), self.fwt),
            // While the card is chaining its answer, R(ACK) asks for the next (or lost) block.
            Stage::Receiving if !self.response.is_empty() => {
                self.send(Block::ack(self.block_number), self.fwt)
            }
            _ => self.send(Block::nak(self.block_number), self.fwt),
        }
    }

    /// A frame (CRC included) from the card.
    pub fn on_frame(&mut self, frame: &[u8]) -> PcdAction {
        let Ok(body) = check_crc(self.nfc, frame) else {
            return self.on_error();
        };
        let Ok(block) = Block::parse(body) else {
            return self.on_error();
        };
        match (self.stage, block.kind) {
            (Stage::Deselecting, BlockKind::Deselect) => {
                self.stage = Stage::Idle;
                PcdAction::Done(Vec::new())
            }
            (Stage::Sending, BlockKind::RAck) => {
                if block.number == self.block_number {
                    // Rule B: toggle on an R(ACK) carrying our number; send the next part.
                    self.block_number = !self.block_number;
                    self.retries = 0;
                    let next = self.chunk.1;
                    if next < self.command.len() {
                        self.send_chunk(next)
                    } else {
                        self.on_error()
                    }
                } else {
                    // The card did not get our last I-block: send it again.
                    self.retransmit()
                }
            }
            (Stage::Sending | Stage::Receiving, BlockKind::I { chaining }) => {
                let last_chunk_sent = self.chunk.1 >= self.command.len();
                if block.number != self.block_number || !last_chunk_sent {
                    return self.on_error();
                }
                self.block_number = !self.block_number;
                self.retries = 0;
                self.stage = Stage::Receiving;
                self.response.extend_from_slice(block.inf);
                if chaining {
                    self.send(Block::ack(self.block_number), self.fwt)
                } else {
                    self.stage = Stage::Idle;
                    PcdAction::Done(std::mem::take(&mut self.response))
                }
            }
            (Stage::Sending | Stage::Receiving, BlockKind::Wtx { wtxm }) => {
                self.wtx_count += 1;
                if let Some(max) = self.max_wtx
                    && self.wtx_count > max
                {
                    self.stage = Stage::Idle;
                    return PcdAction::Fail(PcdError::TooManyWtx(max));
                }
                let wait = self
                    .fwt
                    .saturating_mul(u64::from(wtxm))
                    .min(timing::fwt_max());
                self.send(Block::wtx(wtxm), wait)
            }
            _ => self.on_error(),
        }
    }

    fn retransmit(&mut self) -> PcdAction {
        if self.retries >= self.max_retries {
            self.stage = Stage::Idle;
            return PcdAction::Fail(PcdError::RetriesExhausted(self.max_retries));
        }
        self.retries += 1;
        PcdAction::Send {
            frame: self.last_i_block(),
            wait: self.fwt,
        }
    }

    fn last_i_block(&self) -> Vec<u8> {
        let (start, end) = self.chunk;
        let more = end < self.command.len();
        let mut frame = Vec::with_capacity(end - start + 4);
        Block::i(self.block_number, more, &self.command[start..end]).emit(&mut frame);
        append_crc(self.nfc, &mut frame);
        frame
    }
}

//! The reader's log of the air: which way each frame went, what it was, what happened to it,
//! when and how long — no frame bytes, so no secret can leak through it. Tests, transcripts and
//! reports read it; the air with its bytes is [`super::air`].

use crate::iso14443::frame::BlockKind;
use crate::time::SimTime;
use serde::Serialize;
use std::fmt;

/// Which way a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Reader to card.
    ToCard,
    /// Card to reader.
    ToReader,
}

/// What a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameWhat {
    /// REQA (Type A short frame).
    Reqa,
    /// ATQA.
    Atqa,
    /// Anticollision at a cascade level.
    Anticollision(u8),
    /// UID bytes of a cascade level.
    Uid(u8),
    /// SELECT at a cascade level.
    Select(u8),
    /// SAK.
    Sak,
    /// RATS.
    Rats,
    /// ATS.
    Ats,
    /// PPS request.
    Pps,
    /// PPS response.
    PpsResponse,
    /// REQB.
    Reqb,
    /// ATQB.
    Atqb,
    /// ATTRIB.
    Attrib,
    /// Answer to ATTRIB.
    AttribAnswer,
    /// An ISO 14443-4 block.
    Block {
        /// Kind.
        kind: BlockKind,
        /// Block number.
        number: bool,
    },
    /// Bytes that are not a valid block.
    Invalid,
    /// The reader waited and nothing (valid) came.
    Timeout,
}

impl fmt::Display for FrameWhat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameWhat::Block { kind, number } => {
                let n = u8::from(number);
                match kind {
                    BlockKind::I { chaining: true } => write!(f, "I({n})+"),
                    BlockKind::I { chaining: false } => write!(f, "I({n})"),
                    BlockKind::RAck => write!(f, "R(ACK,{n})"),
                    BlockKind::RNak => write!(f, "R(NAK,{n})"),
                    BlockKind::Deselect => write!(f, "S(DESELECT)"),
                    BlockKind::Wtx { wtxm } => write!(f, "S(WTX {wtxm})"),
                }
            }
            FrameWhat::Anticollision(l) => write!(f, "ANTICOLLISION CL{l}"),
            FrameWhat::Uid(l) => write!(f, "UID CL{l}"),
            FrameWhat::Select(l) => write!(f, "SELECT CL{l}"),
            FrameWhat::Reqa => write!(f, "REQA"),
            FrameWhat::Atqa => write!(f, "ATQA"),
            FrameWhat::Sak => write!(f, "SAK"),
            FrameWhat::Rats => write!(f, "RATS"),
            FrameWhat::Ats => write!(f, "ATS"),
            FrameWhat::Pps => write!(f, "PPS"),
            FrameWhat::PpsResponse => write!(f, "PPS response"),
            FrameWhat::Reqb => write!(f, "REQB"),
            FrameWhat::Atqb => write!(f, "ATQB"),
            FrameWhat::Attrib => write!(f, "ATTRIB"),
            FrameWhat::AttribAnswer => write!(f, "ATTRIB answer"),
            FrameWhat::Invalid => write!(f, "(invalid)"),
            FrameWhat::Timeout => write!(f, "(no answer)"),
        }
    }
}

/// What happened to a frame on the air.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Arrived intact.
    Delivered,
    /// Never arrived.
    Lost,
    /// Arrived with a CRC error.
    Corrupted,
    /// The field dropped during it.
    FieldOff,
}

/// In words, for people: `delivered`, `lost`, `CRC error`, `field off`.
impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fate::Delivered => "delivered",
            Fate::Lost => "lost",
            Fate::Corrupted => "CRC error",
            Fate::FieldOff => "field off",
        })
    }
}

/// One frame (or time-out) in the log. Holds no frame bytes, so no secret can leak through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FrameRecord {
    /// Start on the air.
    pub start: SimTime,
    /// End on the air.
    pub end: SimTime,
    /// Direction.
    pub dir: Direction,
    /// What the frame is.
    pub what: FrameWhat,
    /// Bytes on the air, CRC included.
    pub len: u16,
    /// Bit rate, kbit/s.
    pub kbps: u16,
    /// What happened to it.
    pub fate: Fate,
}

impl fmt::Display for FrameRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arrow = match self.dir {
            Direction::ToCard => "PCD→PICC",
            Direction::ToReader => "PICC→PCD",
        };
        let fate = match self.fate {
            Fate::Delivered => "",
            Fate::Lost => " LOST",
            Fate::Corrupted => " CRC ERROR",
            Fate::FieldOff => " FIELD OFF",
        };
        write!(
            f,
            "{:>12.3} ms {:>9.3} ms  {arrow}  {:<16} {:>4} B @{}k{fate}",
            self.start.as_nanos() as f64 / 1e6,
            self.end.since(self.start).as_nanos() as f64 / 1e6,
            self.what.to_string(),
            self.len,
            self.kbps
        )
    }
}

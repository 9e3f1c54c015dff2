//! ISO/IEC 14443-4's block-numbering rules as a reference model: replays a reader's frame log
//! and returns the first block whose number breaks the rules for the reader (A, B) or the card
//! (C, D, E, 10–13). Shared by the numbering tests and the frame-stream fuzz target.
#![allow(dead_code)]

use kazasu_sim::iso14443::frame::BlockKind;
use kazasu_sim::reader::{Direction, Fate, FrameRecord, FrameWhat};

/// Replays a frame log with the numbering rules; returns the first violation.
pub struct Model {
    pcd: bool,
    picc: bool,
    picc_chaining: bool,
}

impl Model {
    pub fn new() -> Self {
        Model {
            pcd: false,
            picc: true,
            picc_chaining: false,
        }
    }

    pub fn check(&mut self, log: &[FrameRecord]) -> Result<(), String> {
        for (i, f) in log.iter().enumerate() {
            let FrameWhat::Block { kind, number } = f.what else {
                if matches!(f.what, FrameWhat::Rats | FrameWhat::Attrib) {
                    // A new activation: rule A (reader 0) and rule C (card 1).
                    *self = Model::new();
                }
                continue;
            };
            let delivered = f.fate == Fate::Delivered;
            match (f.dir, kind) {
                (Direction::ToCard, BlockKind::I { .. }) => {
                    if number != self.pcd {
                        return Err(format!(
                            "frame {i}: reader sent I({}) with its number at {}",
                            number as u8, self.pcd as u8
                        ));
                    }
                    if delivered {
                        self.picc = !self.picc; // rule D
                        self.picc_chaining = false;
                    }
                }
                (Direction::ToCard, BlockKind::RAck | BlockKind::RNak) => {
                    if number != self.pcd {
                        return Err(format!(
                            "frame {i}: reader's R-block carries {} not {}",
                            number as u8, self.pcd as u8
                        ));
                    }
                    if delivered
                        && kind == BlockKind::RAck
                        && number != self.picc
                        && self.picc_chaining
                    {
                        self.picc = !self.picc; // rules 13 and E
                    }
                }
                (Direction::ToReader, BlockKind::I { chaining }) => {
                    if number != self.picc {
                        return Err(format!(
                            "frame {i}: card sent I({}) with its number at {}",
                            number as u8, self.picc as u8
                        ));
                    }
                    self.picc_chaining = chaining;
                    if delivered && number == self.pcd {
                        self.pcd = !self.pcd; // rule B
                    }
                }
                (Direction::ToReader, BlockKind::RAck) => {
                    if number != self.picc {
                        return Err(format!(
                            "frame {i}: card's R(ACK) carries {} not {}",
                            number as u8, self.picc as u8
                        ));
                    }
                    if delivered && number == self.pcd {
                        self.pcd = !self.pcd; // rule B
                    }
                }
                (Direction::ToReader, BlockKind::RNak) => {
                    return Err(format!("frame {i}: a card never sends R(NAK)"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

//! Where a case's card lives: one small trait for the runner, with the in-process simulator as
//! the default and the real PC/SC stack (pcscd + vpcd) behind the same face.

use crate::link::transport::Transport;
use kazasu_sim::{LinkError, Reader, SimDuration};

/// What the runner needs from a backend: a [`Transport`] (APDUs, simulated time, the frames of
/// the last exchange) that can also tap, remove, wait and tell about its card.
pub trait Backend: Transport + Send {
    /// The card enters the field (and is ready for commands when this returns).
    fn tap(&mut self) -> Result<(), LinkError>;
    /// The card leaves the field.
    fn remove(&mut self);
    /// PC/SC disconnect: S(DESELECT).
    fn disconnect(&mut self) -> Result<(), LinkError>;
    /// The phone approval (iPhone); `false` if the card has none.
    fn approve(&mut self) -> bool;
    /// Lets simulated time pass.
    fn wait(&mut self, d: SimDuration);
    /// The bit rate in use.
    fn bit_rate(&self) -> u32;
    /// The card's current UID.
    fn uid(&self) -> Vec<u8>;
    /// The ATR the reader reports for the card in the field.
    fn atr(&self) -> Result<Vec<u8>, LinkError>;
    /// The card profile's name.
    fn card_name(&self) -> String;
    /// The end of a case: leave the stack clean for the next one.
    fn finish(&mut self) {}
    /// Planned faults (at a precise point) that never struck, described.
    fn missed_faults(&self) -> Vec<String>;
    /// Whether the backend applies a case's planned faults (a physical card does not).
    fn injects_faults(&self) -> bool {
        true
    }
}

impl Backend for Reader {
    fn tap(&mut self) -> Result<(), LinkError> {
        Reader::tap(self)
    }
    fn remove(&mut self) {
        Reader::remove(self)
    }
    fn disconnect(&mut self) -> Result<(), LinkError> {
        Reader::disconnect(self)
    }
    fn approve(&mut self) -> bool {
        Reader::approve(self)
    }
    fn wait(&mut self, d: SimDuration) {
        Reader::wait(self, d)
    }
    fn bit_rate(&self) -> u32 {
        Reader::bit_rate(self)
    }
    fn uid(&self) -> Vec<u8> {
        self.card().uid().to_vec()
    }
    fn atr(&self) -> Result<Vec<u8>, LinkError> {
        Reader::atr(self).ok_or(LinkError::NoCard)
    }
    fn card_name(&self) -> String {
        self.card().profile().name.clone()
    }
    fn missed_faults(&self) -> Vec<String> {
        describe_missed(self)
    }
}

/// The faults of `reader`'s plan that never struck, as a person reads them.
pub fn describe_missed(reader: &Reader) -> Vec<String> {
    reader
        .faults()
        .missed()
        .iter()
        .map(|f| format!("{:?} at {}", f.action, f.when))
        .collect()
}

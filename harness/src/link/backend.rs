//! Where a case's card lives: one small trait for the runner, with the in-process simulator as
//! the default and the real PC/SC stack (pcscd + vpcd) behind the same face.

use crate::link::transport::Transport;
use kazasu_sim::reader::air::AirRecord;
use kazasu_sim::reader::pcsc::{ControlError, Operator};
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
    /// PC/SC reconnect with a reset (`SCARD_RESET_CARD`): a warm reset, the field left on.
    fn warm_reset(&mut self) -> Result<(), LinkError>;
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
    /// From now on, keeps the air with its bytes, where the backend models it.
    fn keep_air(&mut self) {}
    /// The air kept since the last call (nothing where the air is not modelled).
    fn take_air(&mut self) -> Vec<AirRecord> {
        Vec::new()
    }
    /// `SCardControl` to the reader: PC/SC part 10 features, a PIN pad's commands, escapes
    /// (a backend with no reader to ask has no feature).
    fn control(&mut self, code: u32, _data: &[u8]) -> Result<Vec<u8>, ControlError> {
        Err(ControlError::Unsupported(code))
    }
    /// `SCardGetAttrib`: a reader attribute.
    fn attribute(&mut self, tag: u32) -> Result<Vec<u8>, ControlError> {
        Err(ControlError::Unsupported(tag))
    }
    /// What the person at the reader's PIN pad does from now on (where kazasu models that
    /// person; at a physical reader it is the operator's own hands).
    fn set_operator(&mut self, _operator: Operator) {}
    /// Why control and attribute requests cannot reach the reader model, if they cannot (vpcd
    /// carries neither).
    fn reader_unreachable(&self) -> Option<String> {
        None
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
    fn warm_reset(&mut self) -> Result<(), LinkError> {
        Reader::warm_reset(self).map(drop)
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
    fn keep_air(&mut self) {
        Reader::keep_air(self)
    }
    fn take_air(&mut self) -> Vec<AirRecord> {
        Reader::take_air(self)
    }
    fn control(&mut self, code: u32, data: &[u8]) -> Result<Vec<u8>, ControlError> {
        Reader::control(self, code, data)
    }
    fn attribute(&mut self, tag: u32) -> Result<Vec<u8>, ControlError> {
        Reader::attribute(self, tag).ok_or(ControlError::Unsupported(tag))
    }
    fn set_operator(&mut self, operator: Operator) {
        Reader::set_operator(self, operator)
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

#[cfg(test)]
mod tests {
    use super::*;
    use kazasu_sim::reader::fault::{Action, Fault, When};
    use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, ReaderProfile};
    use rand_core::SeedableRng;
    use std::sync::Arc;

    fn reader(faults: Vec<Fault>) -> Reader {
        let profile = Arc::new(CardProfile::builtin("mynumber-card").expect("built-in"));
        let card = Card::new(profile, Fixtures::embedded().default_subject(), 1).expect("card");
        let reader = Arc::new(ReaderProfile::builtin("typical-424k").expect("built-in"));
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        Reader::new(reader, card, FaultPlan::new(faults, rng))
    }

    #[test]
    fn the_in_process_reader_is_a_backend_that_names_its_card_and_its_missed_faults() {
        let never = Fault {
            when: When {
                exchange: Some(99),
                ..When::default()
            },
            action: Action::FieldOff,
        };
        let mut r = reader(vec![never]);
        let backend: &mut dyn Backend = &mut r;
        assert_eq!(
            backend.atr(),
            Err(LinkError::NoCard),
            "no card in the field yet"
        );
        backend.tap().expect("tap");
        assert_eq!(backend.card_name(), "mynumber-card");
        assert!(backend.atr().is_ok_and(|atr| atr.starts_with(&[0x3B])));
        assert!([106, 212, 424].contains(&backend.bit_rate()));
        assert!(!backend.uid().is_empty());
        assert_eq!(backend.missed_faults(), ["FieldOff at exchange 99"]);
    }
}

//! How the tester's side reaches a card: one small trait, so flows and scenarios run the same
//! through the in-process reader model and straight to a card (flows, benchmarks); the runner
//! reaches the real PC/SC stack through its own backend ([`super::pcsc`], with the `pcsc` feature).

use kazasu_sim::reader::FrameRecord;
use kazasu_sim::{Card, CardReply, LinkError, Reader, SimDuration, SimTime};

/// A command could not be carried to the card and back.
pub type TransportError = LinkError;

/// One command/response exchange: the response bytes (data ‖ SW1 SW2) and the simulated time it
/// took — the reader model's own record of an exchange, used by every transport.
pub use kazasu_sim::Transmitted as Exchange;

/// Something that carries APDUs to a card.
pub trait Transport {
    /// Sends one command APDU and returns the response.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Exchange, TransportError>;
    /// The current simulated time.
    fn now(&self) -> SimTime;
    /// The frames of the last exchange, where the transport models them.
    fn last_frames(&self) -> Vec<FrameRecord> {
        Vec::new()
    }
}

/// A card reached directly, with no reader in between: each exchange costs only the card's
/// processing time.
#[derive(Debug)]
pub struct DirectCard {
    /// The card.
    pub card: Card,
    now: SimTime,
}

impl DirectCard {
    /// Wraps a card; it is not in the field until [`DirectCard::tap`].
    pub fn new(card: Card) -> Self {
        DirectCard {
            card,
            now: SimTime::START,
        }
    }
    /// Brings the card into the field.
    pub fn tap(&mut self) {
        self.card.power_on();
    }
    /// Takes the card out of the field.
    pub fn remove(&mut self) {
        self.card.power_off();
    }
    /// Approves on the phone (iPhone) now; `false` if the card is not a phone with approval.
    pub fn approve(&mut self) -> bool {
        self.card.approve(self.now)
    }
    /// Lets simulated time pass.
    pub fn wait(&mut self, d: SimDuration) {
        self.now += d;
    }
}

impl Transport for DirectCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Exchange, TransportError> {
        match self.card.process(apdu, self.now) {
            CardReply::Answered(a) => {
                self.now += a.processing;
                Ok(Exchange {
                    response: a.response.to_vec(),
                    duration: a.processing,
                })
            }
            CardReply::PowerLost => Err(LinkError::CardRemoved),
            CardReply::Unpowered => Err(LinkError::NoCard),
        }
    }
    fn now(&self) -> SimTime {
        self.now
    }
}

impl Transport for Reader {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Exchange, TransportError> {
        Reader::transmit(self, apdu)
    }
    fn now(&self) -> SimTime {
        Reader::now(self)
    }
    fn last_frames(&self) -> Vec<FrameRecord> {
        Reader::last_frames(self).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kazasu_sim::{CardProfile, Fixtures, ReaderProfile};
    use std::sync::Arc;

    fn card() -> Card {
        let profile = Arc::new(CardProfile::builtin("mynumber-card").expect("built-in"));
        Card::new(profile, Fixtures::embedded().default_subject(), 1).expect("card")
    }

    const SELECT_JPKI: [u8; 15] = [
        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
    ];

    #[test]
    fn a_direct_card_answers_only_in_the_field_and_costs_only_its_processing_time() {
        let mut direct = DirectCard::new(card());
        assert_eq!(direct.transmit(&SELECT_JPKI), Err(LinkError::NoCard));
        direct.tap();
        let ex = direct.transmit(&SELECT_JPKI).expect("answered");
        assert_eq!(ex.response, [0x90, 0x00]);
        assert_eq!(direct.now(), SimTime::START + ex.duration);
        assert!(direct.last_frames().is_empty(), "no reader, no frames");
        direct.wait(SimDuration::from_millis(5));
        assert_eq!(
            direct.now(),
            SimTime::START + ex.duration + SimDuration::from_millis(5)
        );
        direct.remove();
        assert!(direct.transmit(&SELECT_JPKI).is_err(), "out of the field");
    }

    #[test]
    fn through_a_reader_an_exchange_carries_its_frames_and_air_time() {
        let profile = Arc::new(ReaderProfile::builtin("typical-424k").expect("built-in"));
        let faults = kazasu_sim::FaultPlan::new(
            Vec::new(),
            <rand_chacha::ChaCha8Rng as rand_core::SeedableRng>::seed_from_u64(1),
        );
        let mut reader = Reader::new(profile, card(), faults);
        reader.tap().expect("tap");
        let before = Transport::now(&reader);
        let ex = Transport::transmit(&mut reader, &SELECT_JPKI).expect("answered");
        assert_eq!(ex.response, [0x90, 0x00]);
        assert!(
            !Transport::last_frames(&reader).is_empty(),
            "the frames on the air"
        );
        assert!(Transport::now(&reader).since(before) >= ex.duration);
    }
}

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

//! How the tester's side reaches a card: one small trait, so flows and scenarios run the same
//! over the in-process path and (later) the reader model and the real PC/SC stack.

use kazasu_sim::{Card, CardReply, SimDuration, SimTime};

/// A command could not be carried to the card and back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No card is in the field.
    #[error("no card in the field")]
    NoCard,
    /// The card left the field or lost power during the exchange.
    #[error("the card was removed or lost power during the exchange")]
    CardRemoved,
}

/// One command/response exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Response bytes: data ‖ SW1 SW2.
    pub response: Vec<u8>,
    /// Simulated time it took.
    pub took: SimDuration,
}

/// Something that carries APDUs to a card.
pub trait Transport {
    /// Sends one command APDU and returns the response.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Exchange, TransportError>;
    /// The current simulated time.
    fn now(&self) -> SimTime;
}

/// A card reached directly, with no reader in between: each exchange costs only the card's
/// processing time. The reader model adds air time and protocol on top of this.
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
                    took: a.processing,
                })
            }
            CardReply::PowerLost => Err(TransportError::CardRemoved),
            CardReply::Unpowered => Err(TransportError::NoCard),
        }
    }
    fn now(&self) -> SimTime {
        self.now
    }
}

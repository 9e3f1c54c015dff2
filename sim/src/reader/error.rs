//! Why a reader operation failed, as the host would see it: one type for the reader and what
//! it answers through PC/SC.

use serde::Serialize;

/// Why a reader operation failed, as the host would see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkError {
    /// No card is in the field.
    #[error("no card in the field")]
    NoCard,
    /// The card left the field (or the field dropped) during the operation.
    #[error("the card was removed during the exchange")]
    CardRemoved,
    /// The card stayed in the field but gave no valid answer after the reader's retries.
    #[error("the card did not answer after the reader's retries")]
    NoAnswer,
    /// The card asked for more waiting-time extensions than the reader grants.
    #[error("the card asked for more waiting-time extensions than the reader grants")]
    TooManyWtx,
    /// Two cards in the field and a reader that refuses them.
    #[error("more than one card in the field")]
    Collision,
    /// The card is in the field but never answered its activation (through pcscd:
    /// `SCARD_W_UNPOWERED_CARD`).
    #[error("the card does not answer its activation: it is in the field, mute")]
    Unresponsive,
    /// The reader itself went away during the exchange (through pcscd:
    /// `SCARD_E_READER_UNAVAILABLE`).
    #[error("the reader was unplugged during the exchange")]
    ReaderUnplugged,
    /// The reader does not carry extended-length APDUs.
    #[error("the reader does not support extended-length APDUs")]
    ExtendedApduUnsupported,
}

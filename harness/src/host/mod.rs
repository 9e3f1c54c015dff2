//! The host: what reading software sends to a card or phone and how it reads the answers — the
//! APDUs of the JPKI and card-info flows, whole-file reads, PIN checks, signatures and their
//! verification. The runner's card steps, commissioning and the fuzz examples all drive a card
//! through it.

pub mod apdu;
pub mod flows;
pub mod read;

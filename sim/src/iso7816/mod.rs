//! ISO/IEC 7816-4, the card's command layer: the APDU codec, status words, BER-TLV and the
//! non-volatile memory the card OS keeps its state in. Imports only the ground floor.

pub mod apdu;
pub(crate) mod nvm;
pub mod status;
pub mod tlv;

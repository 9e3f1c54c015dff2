//! The applications a card carries, each as data and handlers on the card OS: the JPKI AP, the
//! card-info input support AP, and the test applets (pcsc-lite's readertest, Athena's extended
//! APDUs). A card's profile names which of them it has.

pub(crate) mod athena;
pub mod card_info;
pub mod jpki;
pub mod readertest;

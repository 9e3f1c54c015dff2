//! The applications a card carries, each as data and handlers on the card OS: the JPKI AP, the
//! card-info input support AP, the card-face confirmation AP, the 共通カードAP and 住基AP, the MF level's data objects, and the
//! test applets (pcsc-lite's readertest, Athena's extended
//! APDUs). A card's profile names which of them it has.

pub(crate) mod athena;
pub mod card_face;
pub mod card_info;
pub mod common_card;
pub mod jpki;
pub mod mf;
pub mod readertest;

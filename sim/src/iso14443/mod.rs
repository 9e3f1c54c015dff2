//! ISO/IEC 14443, the contactless layer: frames and their CRCs, air time and waiting times, what a
//! card tells the reader at activation (ATQB, ATS and the PC/SC ATR built from them), and the two
//! halves of the block protocol — the reader's ([`pcd`]) and the card's ([`picc`]).

pub mod atr;
pub mod frame;
pub mod pcd;
pub mod picc;
pub mod timing;

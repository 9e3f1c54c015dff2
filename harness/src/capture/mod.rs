//! Field failures: traces captured at a counter read from their formats ([`trace`]), turned into
//! scenarios ([`import`]), replayed as the card or as the host ([`replay`], [`session`]),
//! shrunk to the fewest events that still fail the same way ([`shrink`]), and an air capture
//! made a card profile ([`card_from_air`]).

pub mod card_from_air;
pub mod import;
pub mod replay;
pub mod samples;
pub mod session;
pub mod shrink;
pub mod trace;

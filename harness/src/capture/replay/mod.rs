//! Replaying a captured trace, sans IO. As the card: a [`RecordedCard`] answers a host with the
//! recorded responses (strict, skipping forward, or falling back to a virtual card's model when
//! the host deviates) and leaves the field where the recording shows it did. As the host:
//! [`replay_as_host`] sends the recorded commands to a virtual card and compares its answers with
//! the recorded ones, matching data that legitimately differs (signatures, random challenges,
//! UIDs) by class rather than by bytes.

mod card;
mod host;
mod matching;

pub use card::{Mode, RecordedBackend, RecordedCard, RecordingError};
pub use host::{Compare, HostReport, HostRow, Verdict, relax, replay_as_host, selected_ef};
pub use matching::{Divergence, ResponseClass};

//! Waiting for pcscd to see a card arrive on or leave one reader: the one presence wait of the
//! real-stack backend (`pcsc.rs`, a virtual card on a vpcd slot) and the device backend
//! (`device.rs`, a card an operator holds on a reader) — `SCardGetStatusChange` in steps of at
//! most 500 ms until pcscd reports the state or the deadline passes.

use std::ffi::CStr;
use std::fmt;
use std::time::{Duration, Instant};

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// A card on the reader, powered and answering.
    Present,
    /// No card on the reader.
    Absent,
}

impl Presence {
    /// `Present` for `true`.
    pub fn of(present: bool) -> Presence {
        if present {
            Presence::Present
        } else {
            Presence::Absent
        }
    }

    /// Whether pcscd's state of the reader shows it (and the reader is available).
    pub fn shown_by(self, state: pcsc::State) -> bool {
        let reached = match self {
            Presence::Present => {
                state.contains(pcsc::State::PRESENT) && !state.contains(pcsc::State::MUTE)
            }
            Presence::Absent => state.contains(pcsc::State::EMPTY),
        };
        reached && !state.contains(pcsc::State::UNAVAILABLE)
    }
}

impl fmt::Display for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Presence::Present => "arrive on",
            Presence::Absent => "leave",
        })
    }
}

/// Why a presence wait ended without the state it waited for.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    /// The deadline passed.
    #[error("pcscd did not see the card {awaited} {reader} within {} s", .after.as_secs_f64())]
    TimedOut {
        /// What was awaited.
        awaited: Presence,
        /// The reader.
        reader: String,
        /// How long it waited.
        after: Duration,
    },
    /// pcscd went away (stopped or restarting): a new context may find it again.
    #[error("pcscd is not reachable ({0}); start it with `kazasu stack up`")]
    ServiceGone(pcsc::Error),
    /// pcscd refused the query.
    #[error("SCardGetStatusChange on {reader}: {error}")]
    Pcsc {
        /// The reader.
        reader: String,
        /// pcscd's answer.
        error: pcsc::Error,
    },
}

fn query_error(reader: &CStr, error: pcsc::Error) -> PresenceError {
    match error {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::InvalidHandle => {
            PresenceError::ServiceGone(error)
        }
        error => PresenceError::Pcsc {
            reader: reader.to_string_lossy().into_owned(),
            error,
        },
    }
}

/// Whether a card is on `reader` now, answering (no wait).
pub fn is_present(ctx: &pcsc::Context, reader: &CStr) -> Result<bool, PresenceError> {
    let mut states = [pcsc::ReaderState::new(reader, pcsc::State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut states)
        .map_err(|e| query_error(reader, e))?;
    let s = states[0].event_state();
    Ok(s.contains(pcsc::State::PRESENT) && !s.contains(pcsc::State::MUTE))
}

/// Waits until pcscd shows `awaited` on `reader`, or `deadline` passes (`waited` is how long the
/// whole wait may take, for the message).
pub fn wait(
    ctx: &pcsc::Context,
    reader: &CStr,
    awaited: Presence,
    deadline: Instant,
    waited: Duration,
) -> Result<(), PresenceError> {
    let mut state = pcsc::State::UNAWARE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(PresenceError::TimedOut {
                awaited,
                reader: reader.to_string_lossy().into_owned(),
                after: waited,
            });
        }
        let mut states = [pcsc::ReaderState::new(reader, state)];
        match ctx.get_status_change(left.min(Duration::from_millis(500)), &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(query_error(reader, e)),
        }
        let now = states[0].event_state();
        if awaited.shown_by(now) {
            return Ok(());
        }
        state = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_shows_a_card_only_when_it_answers_and_the_reader_is_available() {
        use pcsc::State as S;
        assert!(Presence::Present.shown_by(S::PRESENT | S::CHANGED));
        assert!(
            !Presence::Present.shown_by(S::PRESENT | S::MUTE),
            "a mute card"
        );
        assert!(!Presence::Present.shown_by(S::EMPTY));
        assert!(Presence::Absent.shown_by(S::EMPTY));
        assert!(!Presence::Absent.shown_by(S::EMPTY | S::UNAVAILABLE));
        assert!(!Presence::Present.shown_by(S::PRESENT | S::UNAVAILABLE));
    }

    #[test]
    fn a_time_out_names_what_was_awaited_where_and_how_long() {
        let e = PresenceError::TimedOut {
            awaited: Presence::of(true),
            reader: "Virtual PCD 00 01".into(),
            after: Duration::from_secs(2),
        };
        assert_eq!(
            e.to_string(),
            "pcscd did not see the card arrive on Virtual PCD 00 01 within 2 s"
        );
        let gone = query_error(c"Virtual PCD 00 01", pcsc::Error::NoService);
        assert!(matches!(gone, PresenceError::ServiceGone(_)), "{gone:?}");
        assert!(gone.to_string().contains("kazasu stack up"), "{gone}");
    }
}

//! The APDU transcript of a run: every command and response with its simulated time, with
//! secrets redacted (the data of VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER never
//! appears).

use kazasu_sim::reader::FrameRecord;
use kazasu_sim::{SimDuration, StatusWord, hex_spaced};
use std::fmt;

/// One command/response exchange as recorded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The command, hex, with secret data replaced by `**`.
    pub command: String,
    /// The response data length.
    pub response_len: usize,
    /// The response data, hex, shortened when long.
    pub response: String,
    /// The status word.
    pub sw: String,
    /// What the status word means.
    pub meaning: String,
    /// Simulated time the exchange took.
    pub duration_ns: u64,
    /// The frames on the air, where the transport models them.
    pub frames: Vec<FrameRecord>,
    /// The transport error, when the exchange failed (then `sw` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A reader event that is not an APDU (a tap's activation, a deselect): then `command` is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

impl Entry {
    /// An entry with a command, its time and frames, and no response yet.
    fn new(command: String, took: SimDuration, frames: &[FrameRecord]) -> Entry {
        Entry {
            command,
            response_len: 0,
            response: String::new(),
            sw: String::new(),
            meaning: String::new(),
            duration_ns: took.as_nanos(),
            frames: frames.to_vec(),
            error: None,
            event: None,
        }
    }
}

pub use kazasu_sim::carries_secret;

/// The command as hex, with the data of a secret-bearing command
/// ([`kazasu_sim::apdu::SECRET_BEARING_INS`]) replaced by `**`.
pub fn redact_command(apdu: &[u8]) -> String {
    redact(apdu, carries_secret(apdu))
}

/// The whole command as hex (never shortened), with the data of a secret-bearing command
/// replaced by `**`: what a transcript that can be replayed needs.
pub fn redact_secrets(apdu: &[u8]) -> String {
    if carries_secret(apdu) {
        redact(apdu, true)
    } else {
        hex_spaced(apdu)
    }
}

/// The command as hex; with `secret`, every byte after the 5-byte header is shown as `**`.
pub fn redact(apdu: &[u8], secret: bool) -> String {
    if secret && apdu.len() > 5 {
        // Keep the header and Lc; hide every data byte.
        let header = hex_spaced(&apdu[..5.min(apdu.len())]);
        let hidden = vec!["**"; apdu.len() - 5].join(" ");
        format!("{header} {hidden}")
    } else if apdu.len() > 64 {
        format!("{} … ({} bytes)", hex_spaced(&apdu[..32]), apdu.len())
    } else {
        hex_spaced(apdu)
    }
}

fn shorten(data: &[u8]) -> String {
    const KEEP: usize = 16;
    if data.len() <= KEEP {
        hex_spaced(data)
    } else {
        format!("{} … ({} bytes)", hex_spaced(&data[..KEEP]), data.len())
    }
}

/// The transcript of a session with a card.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Transcript {
    /// Exchanges in order.
    pub entries: Vec<Entry>,
}

impl Transcript {
    /// Records an exchange.
    pub fn record(
        &mut self,
        command: &[u8],
        data: &[u8],
        sw: StatusWord,
        took: SimDuration,
        frames: &[FrameRecord],
    ) {
        self.record_with(command, carries_secret(command), data, sw, took, frames);
    }

    /// Records an exchange; with `secret` every data byte of the command is hidden.
    pub fn record_with(
        &mut self,
        command: &[u8],
        secret: bool,
        data: &[u8],
        sw: StatusWord,
        took: SimDuration,
        frames: &[FrameRecord],
    ) {
        self.entries.push(Entry {
            response_len: data.len(),
            response: shorten(data),
            sw: sw.to_string(),
            meaning: sw.name().to_string(),
            ..Entry::new(
                redact(command, secret || carries_secret(command)),
                took,
                frames,
            )
        });
    }

    /// Records a reader event with its frames (a tap's anticollision and activation).
    pub fn record_event(&mut self, event: &str, took: SimDuration, frames: &[FrameRecord]) {
        self.entries.push(Entry {
            event: Some(event.to_string()),
            ..Entry::new(String::new(), took, frames)
        });
    }

    /// Records an exchange that failed in transport.
    pub fn record_error(
        &mut self,
        command: &[u8],
        secret: bool,
        error: &kazasu_sim::LinkError,
        took: SimDuration,
        frames: &[FrameRecord],
    ) {
        self.entries.push(Entry {
            error: Some(error.to_string()),
            ..Entry::new(
                redact(command, secret || carries_secret(command)),
                took,
                frames,
            )
        });
    }

    /// Appends another transcript's entries.
    pub fn extend(&mut self, other: Transcript) {
        self.entries.extend(other.entries);
    }

    /// Total simulated time.
    pub fn total(&self) -> SimDuration {
        SimDuration::from_nanos(self.entries.iter().map(|e| e.duration_ns).sum())
    }
}

/// The transcript with every exchange's frames under it: `{:#}` of a [`Transcript`].
impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_frames = f.alternate();
        for e in &self.entries {
            if let Some(event) = &e.event {
                writeln!(f, "~ {event} [{}]", SimDuration::from_nanos(e.duration_ns))?;
                if with_frames {
                    for frame in &e.frames {
                        writeln!(f, "    {frame}")?;
                    }
                }
                continue;
            }
            writeln!(f, "> {}", e.command)?;
            if let Some(err) = &e.error {
                writeln!(
                    f,
                    "< transport error: {err} [{}]",
                    SimDuration::from_nanos(e.duration_ns)
                )?;
            } else if e.response_len > 0 {
                writeln!(
                    f,
                    "< {} {} ({}) [{}]",
                    e.response,
                    e.sw,
                    e.meaning,
                    SimDuration::from_nanos(e.duration_ns)
                )?;
            } else {
                writeln!(
                    f,
                    "< {} ({}) [{}]",
                    e.sw,
                    e.meaning,
                    SimDuration::from_nanos(e.duration_ns)
                )?;
            }
            if with_frames {
                for frame in &e.frames {
                    writeln!(f, "    {frame}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_data_is_redacted() {
        let verify = [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'];
        let shown = redact_command(&verify);
        assert_eq!(shown, "00 20 00 80 04 ** ** ** **");
        assert!(!shown.contains("31 32"));
        let read = [0x00, 0xB0, 0x00, 0x00, 0x04];
        assert_eq!(redact_command(&read), "00 B0 00 00 04");
        // The counter query carries no secret.
        assert_eq!(redact_command(&[0x00, 0x20, 0x00, 0x80]), "00 20 00 80");
    }
}

//! The APDU transcript of a run: every command and response with its simulated time, with
//! secrets redacted (the data of VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER never
//! appears).

use kazasu_sim::reader::FrameRecord;
use kazasu_sim::reader::pcsc::ControlError;
use kazasu_sim::{LinkError, SimDuration, StatusWord, hex_spaced};
use std::fmt;

/// One command/response exchange, or a reader event, as recorded: typed values (the command's
/// bytes with secrets already removed, the status word, the link failure, the event), rendered
/// as text only when shown or serialised. Reports and the coverage map read the types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The command as it may be shown.
    pub command: ShownCommand,
    /// The response data length.
    pub response_len: usize,
    /// The first bytes of the response data (at most [`RESPONSE_SHOWN`]); empty when the data
    /// holds a secret.
    pub response_head: Vec<u8>,
    /// The response data holds a secret the case sent (a card that echoes a PIN): never shown.
    pub response_secret: bool,
    /// The status word (`None` when the exchange failed or the entry is an event).
    pub sw: Option<StatusWord>,
    /// Simulated time the exchange took.
    pub duration_ns: u64,
    /// The frames on the air, where the transport models them.
    pub frames: Vec<FrameRecord>,
    /// The transport failure, when the exchange failed.
    pub error: Option<LinkError>,
    /// A reader event that is not an APDU (a tap's activation, a deselect).
    pub event: Option<Event>,
}

/// How many response bytes a transcript keeps and shows.
pub const RESPONSE_SHOWN: usize = 16;

/// A command as a transcript keeps it: never the data of a secret-bearing command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShownCommand {
    /// The bytes that may be shown: the header and Lc of a secret-bearing command, the first 32
    /// bytes of a long one, or all of it.
    pub shown: Vec<u8>,
    /// The command's length.
    pub len: usize,
    /// Whether the data was a secret (then every byte after the fifth is shown as `**`).
    pub secret: bool,
}

impl ShownCommand {
    /// What a transcript keeps of `apdu`.
    pub fn of(apdu: &[u8], secret: bool) -> ShownCommand {
        let keep = if secret {
            apdu.len().min(5)
        } else if apdu.len() > 64 {
            32
        } else {
            apdu.len()
        };
        ShownCommand {
            shown: apdu[..keep].to_vec(),
            len: apdu.len(),
            secret,
        }
    }
    /// CLA and INS, when the command has them.
    pub fn cla_ins(&self) -> Option<[u8; 2]> {
        match self.shown.as_slice() {
            [cla, ins, ..] => Some([*cla, *ins]),
            _ => None,
        }
    }
    /// Whether there is no command (an event).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for ShownCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret && self.len > 5 {
            let hidden = vec!["**"; self.len - 5].join(" ");
            write!(f, "{} {hidden}", hex_spaced(&self.shown))
        } else if self.len > 64 {
            write!(f, "{} … ({} bytes)", hex_spaced(&self.shown), self.len)
        } else {
            f.write_str(&hex_spaced(&self.shown))
        }
    }
}

/// A reader or service event recorded between exchanges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A tap: the card was detected and activated at this bit rate (kbit/s).
    Tap {
        /// The bit rate after activation.
        kbps: u32,
    },
    /// A tap that failed.
    TapFailed(LinkError),
    /// The reader deselected the card.
    Deselect,
    /// The reader reset the card with the field left on (PC/SC reconnect with a reset).
    WarmReset,
    /// An answer without a status word.
    Malformed {
        /// The bytes that came back.
        response: Vec<u8>,
    },
    /// Commissioning tapped the phone on the ordered reader.
    CommissionTap {
        /// The reader's product name.
        reader: String,
    },
    /// Commissioning's tap failed.
    CommissionTapFailed(LinkError),
    /// An onboarding request and its answer, as one line.
    Onboarding(String),
    /// An `SCardControl` request to the reader and how it ended: the answer's length, or the
    /// refusal.
    Control {
        /// The control code.
        code: u32,
        /// The request's length.
        sent: usize,
        /// The answer's length, or why there is none.
        answered: Result<usize, ControlError>,
    },
    /// An `SCardGetAttrib` request.
    Attribute {
        /// The tag.
        tag: u32,
        /// The value's length, or why there is none.
        answered: Result<usize, ControlError>,
    },
    /// What the person at the PIN pad does from now on (never the PIN).
    PinPad(String),
}

impl Event {
    /// The link failure the event reports, if any.
    pub fn link_error(&self) -> Option<&LinkError> {
        match self {
            Event::TapFailed(e) | Event::CommissionTapFailed(e) => Some(e),
            _ => None,
        }
    }
    /// A one-word label for tables (`tap`, `deselect` …).
    pub fn label(&self) -> &'static str {
        match self {
            Event::Tap { .. } | Event::TapFailed(_) => "tap",
            Event::Deselect => "deselect",
            Event::WarmReset => "warm reset",
            Event::Malformed { .. } => "a response",
            Event::CommissionTap { .. } | Event::CommissionTapFailed(_) => "commissioning",
            Event::Onboarding(_) => "onboarding",
            Event::Control { .. } => "control",
            Event::Attribute { .. } => "attribute",
            Event::PinPad(_) => "PIN pad",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Tap { kbps } => {
                write!(f, "tap: card detected and activated at {kbps} kbit/s")
            }
            Event::TapFailed(e) => write!(f, "tap failed: {e}"),
            Event::Deselect => f.write_str("deselect"),
            Event::WarmReset => f.write_str("warm reset: the card re-activated, the field left on"),
            Event::Malformed { response } => write!(
                f,
                "a response of {} bytes, without a status word: {}",
                response.len(),
                hex_spaced(response)
            ),
            Event::CommissionTap { reader } => write!(f, "commissioning: tap on {reader}"),
            Event::CommissionTapFailed(e) => write!(f, "commissioning: tap failed: {e}"),
            Event::Onboarding(line) => f.write_str(line),
            Event::Control {
                code,
                sent,
                answered,
            } => {
                write!(f, "control {code:#010X} with {sent} bytes: ")?;
                match answered {
                    Ok(n) => write!(f, "answered {n} bytes"),
                    Err(e) => write!(f, "refused: {e}"),
                }
            }
            Event::Attribute { tag, answered } => match answered {
                Ok(n) => write!(f, "attribute {tag:#010X}: {n} bytes"),
                Err(e) => write!(f, "attribute {tag:#010X}: refused: {e}"),
            },
            Event::PinPad(plan) => write!(f, "PIN pad: the operator {plan}"),
        }
    }
}

impl Entry {
    /// An entry with a command, its time and frames, and no response yet.
    fn new(command: ShownCommand, took: SimDuration, frames: &[FrameRecord]) -> Entry {
        Entry {
            command,
            response_len: 0,
            response_head: Vec::new(),
            response_secret: false,
            sw: None,
            duration_ns: took.as_nanos(),
            frames: frames.to_vec(),
            error: None,
            event: None,
        }
    }
    /// The link failure of this entry: a failed exchange's, or a failed tap's.
    pub fn link_error(&self) -> Option<&LinkError> {
        self.error
            .as_ref()
            .or_else(|| self.event.as_ref().and_then(Event::link_error))
    }
    /// The response data as shown (shortened when long).
    pub fn response_text(&self) -> String {
        if self.response_secret {
            format!(
                "** ({} bytes that hold a secret the case sent)",
                self.response_len
            )
        } else if self.response_len <= RESPONSE_SHOWN {
            hex_spaced(&self.response_head)
        } else {
            format!(
                "{} … ({} bytes)",
                hex_spaced(&self.response_head),
                self.response_len
            )
        }
    }
}

/// The JSON form (field names and texts as the report schema documents them).
impl serde::Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let extra = usize::from(self.error.is_some()) + usize::from(self.event.is_some());
        let mut st = ser.serialize_struct("Entry", 7 + extra)?;
        st.serialize_field("command", &self.command.to_string())?;
        st.serialize_field("response_len", &self.response_len)?;
        st.serialize_field("response", &self.response_text())?;
        st.serialize_field("sw", &self.sw.map(|s| s.to_string()).unwrap_or_default())?;
        st.serialize_field("meaning", self.sw.map_or("", |s| s.name()))?;
        st.serialize_field("duration_ns", &self.duration_ns)?;
        st.serialize_field("frames", &self.frames)?;
        if let Some(e) = &self.error {
            st.serialize_field("error", &e.to_string())?;
        }
        if let Some(e) = &self.event {
            st.serialize_field("event", &e.to_string())?;
        }
        st.end()
    }
}

pub use kazasu_sim::carries_secret;

/// The command as hex, with the data of a secret-bearing command
/// ([`kazasu_sim::iso7816::apdu::SECRET_BEARING_INS`]) replaced by `**`.
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
            response_head: data[..data.len().min(RESPONSE_SHOWN)].to_vec(),
            sw: Some(sw),
            ..Entry::new(
                ShownCommand::of(command, secret || carries_secret(command)),
                took,
                frames,
            )
        });
    }

    /// Hides the data of the last answer: it holds a secret the case sent.
    pub fn hide_last_response(&mut self) {
        if let Some(e) = self.entries.last_mut() {
            e.response_head.clear();
            e.response_secret = true;
        }
    }

    /// Records a reader event with its frames (a tap's anticollision and activation).
    pub fn record_event(&mut self, event: Event, took: SimDuration, frames: &[FrameRecord]) {
        self.entries.push(Entry {
            event: Some(event),
            ..Entry::new(ShownCommand::default(), took, frames)
        });
    }

    /// Records an exchange that failed in transport.
    pub fn record_error(
        &mut self,
        command: &[u8],
        secret: bool,
        error: &LinkError,
        took: SimDuration,
        frames: &[FrameRecord],
    ) {
        self.entries.push(Entry {
            error: Some(*error),
            ..Entry::new(
                ShownCommand::of(command, secret || carries_secret(command)),
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
            let sw = e.sw.map(|s| s.to_string()).unwrap_or_default();
            let meaning = e.sw.map_or("", |s| s.name());
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
                    e.response_text(),
                    sw,
                    meaning,
                    SimDuration::from_nanos(e.duration_ns)
                )?;
            } else {
                writeln!(
                    f,
                    "< {} ({}) [{}]",
                    sw,
                    meaning,
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

    #[test]
    fn a_kept_command_shows_as_the_redacted_text_and_holds_no_secret() {
        let long: Vec<u8> = (0..100u8).collect();
        let verify = [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'];
        for (apdu, secret) in [
            (&verify[..], false),
            (&verify[..], true),
            (&long[..], false),
            (&long[..], true),
            (&[0x00, 0xA4][..], false),
        ] {
            let kept = ShownCommand::of(apdu, secret || carries_secret(apdu));
            assert_eq!(
                kept.to_string(),
                redact(apdu, secret || carries_secret(apdu))
            );
        }
        let kept = ShownCommand::of(&verify, true);
        assert!(!kept.shown.windows(2).any(|w| w == b"12"), "{kept:?}");
        assert_eq!(kept.cla_ins(), Some([0x00, 0x20]));
    }
}

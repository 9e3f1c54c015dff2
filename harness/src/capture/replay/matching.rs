//! How a live command or answer matches a recorded one: the same command (secrets and fresh
//! inputs by class), a response's class when its bytes may legitimately differ, and the
//! divergence a replay reports when they do not match.

use std::fmt;

/// `true` for commands whose data is fresh each run (a digest to sign, a challenge to answer):
/// matched by header and length.
pub(super) fn fresh_input_ins(ins: u8) -> bool {
    matches!(ins, 0x2A | 0x88 | 0x82 | 0x86 | 0x87)
}

/// Whether the host's command `sent` is the recorded command (by class where its data
/// legitimately differs between runs).
pub fn same_command(recorded: &[u8], redacted: bool, sent: &[u8]) -> bool {
    if recorded.len() < 4 || sent.len() < 4 {
        return recorded == sent;
    }
    // Secret-bearing commands are matched by header and length, never by value.
    let by_header =
        redacted || kazasu_sim::secret_bearing_header(recorded) || fresh_input_ins(recorded[1]);
    if by_header {
        recorded[..4] == sent[..4] && recorded.len() == sent.len()
    } else {
        recorded == sent
    }
}

/// How a response is compared with the recorded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseClass {
    /// Byte for byte.
    Exact,
    /// A signature or an authentication cryptogram: the same length and status word.
    Signature,
    /// A random challenge: the same length and status word.
    Random,
    /// The card's UID (GET DATA FF CA): the same length and status word.
    Uid,
}

impl ResponseClass {
    /// The class of the response to `command`.
    pub fn of(command: &[u8]) -> ResponseClass {
        match command {
            [0xFF, 0xCA, 0x00, ..] => ResponseClass::Uid,
            [_, 0x84, ..] => ResponseClass::Random,
            [_, ins, ..] if fresh_input_ins(*ins) => ResponseClass::Signature,
            _ => ResponseClass::Exact,
        }
    }
    pub(super) fn name(self) -> &'static str {
        match self {
            ResponseClass::Exact => "exact",
            ResponseClass::Signature => "a signature: same length",
            ResponseClass::Random => "a random challenge: same length",
            ResponseClass::Uid => "a UID: same length",
        }
    }
}

/// The first point where the host left the recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// 1-based number of the recorded exchange the host should have sent.
    pub exchange: usize,
    /// Its line in the capture (0 past the end).
    pub line: usize,
    /// What the recording has next (redacted), or `None` past its end.
    pub expected: Option<String>,
    /// What the host sent (redacted).
    pub got: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expected {
            Some(e) => write!(
                f,
                "exchange {} (capture line {}): the recording has\n    > {e}\n  but the host sent\n    > {}",
                self.exchange, self.line, self.got
            ),
            None => write!(
                f,
                "after the recording's last exchange the host sent\n    > {}",
                self.got
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_fresh_inputs_match_by_class() {
        assert!(same_command(
            &[0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34],
            false,
            &[0x00, 0x20, 0x00, 0x80, 0x04, 0x39, 0x39, 0x39, 0x39]
        ));
        assert!(!same_command(
            &[0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34],
            false,
            &[0x00, 0x20, 0x00, 0x81, 0x04, 0x31, 0x32, 0x33, 0x34]
        ));
        assert!(same_command(
            &[0x80, 0x2A, 0x00, 0x80, 0x02, 0xAA, 0xBB],
            false,
            &[0x80, 0x2A, 0x00, 0x80, 0x02, 0x01, 0x02]
        ));
        assert!(!same_command(
            &[0x00, 0xB0, 0x00, 0x00, 0x02],
            false,
            &[0x00, 0xB0, 0x00, 0x00, 0x03]
        ));
    }
}

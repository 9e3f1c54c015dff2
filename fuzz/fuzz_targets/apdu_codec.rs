//! The APDU codec: parse and emit are inverses. Every accepted command re-encodes to exactly the
//! bytes it came from; every command built from arbitrary fields that encodes parses back to
//! itself; responses round-trip byte for byte; nothing panics.
#![no_main]

use arbitrary::Arbitrary;
use kazasu_sim::iso7816::apdu::{Case, MAX_COMMAND_LEN};
use kazasu_sim::{Command, Response};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    /// Bytes as a card receives them.
    Bytes(&'a [u8]),
    /// A command built field by field.
    Fields {
        cla: u8,
        ins: u8,
        p1: u8,
        p2: u8,
        data: &'a [u8],
        le: Option<u32>,
        extended: bool,
    },
    /// Bytes as a host receives them.
    Response(&'a [u8]),
}

fuzz_target!(|input: Input<'_>| {
    match input {
        Input::Bytes(bytes) => {
            kazasu_fuzz::planted(bytes);
            if let Ok(cmd) = Command::parse(bytes) {
                assert!(bytes.len() <= MAX_COMMAND_LEN);
                assert_eq!(cmd.encoded_len(), bytes.len(), "{cmd:?}");
                let again = cmd.to_vec().expect("a parsed command encodes");
                assert_eq!(again, bytes, "{cmd:?} re-encodes to other bytes");
            }
        }
        Input::Fields {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
            extended,
        } => {
            kazasu_fuzz::planted(data);
            let mut cmd = Command::new(cla, ins, p1, p2).with_data(data);
            cmd.le = le;
            cmd.extended = extended;
            if let Ok(bytes) = cmd.to_vec() {
                assert_eq!(bytes.len(), cmd.encoded_len());
                let back = Command::parse(&bytes).expect("an encoded command parses");
                if cmd.case() == Case::Case1 {
                    // Case 1 has no length fields: short and extended are the same bytes.
                    cmd.extended = false;
                }
                assert_eq!(back, cmd, "{bytes:02X?}");
            }
        }
        Input::Response(bytes) => {
            kazasu_fuzz::planted(bytes);
            if let Ok(r) = Response::parse(bytes) {
                assert_eq!(r.to_vec(), bytes);
            } else {
                assert!(
                    bytes.len() < 2,
                    "only fewer than two bytes are not a response"
                );
            }
        }
    }
});

//! The Athena test cards' extended-APDU commands (`docs/readertest.md`): extended
//! case 2 returns up to 65,535 bytes of one value, extended case 3 takes up to 65,535 bytes.

use crate::iso7816::apdu::{Command, Response};
use crate::iso7816::status::StatusWord as Sw;
use crate::platform::os::{Ctx, Handled, Work};

/// Processes a command (the Athena behaviour needs no SELECT).
pub(crate) fn process(cmd: &Command<'_>, _ctx: &mut Ctx<'_>) -> Handled {
    if cmd.cla != 0x80 {
        return Ok((Response::status(Sw::CLA_NOT_SUPPORTED), Work::Other));
    }
    match cmd.ins {
        // `80 00 04 VV 00 LH LL`: LHLL bytes of value VV.
        0x00 => {
            if cmd.p1 != 0x04 {
                return Ok((Response::status(Sw::WRONG_P1P2), Work::Other));
            }
            match cmd.le {
                Some(le) if cmd.data.is_empty() => {
                    let n = (le as usize).min(65535);
                    Ok((Response::ok(vec![cmd.p2; n]), Work::Read(n)))
                }
                _ => Ok((Response::status(Sw::WRONG_LENGTH), Work::Other)),
            }
        }
        // `80 12 01 80 00 LH LL <data>`: accepted.
        0x12 => {
            if (cmd.p1, cmd.p2) != (0x01, 0x80) {
                return Ok((Response::status(Sw::WRONG_P1P2), Work::Other));
            }
            let sw = if cmd.data.is_empty() {
                Sw::WRONG_LENGTH
            } else {
                Sw::OK
            };
            Ok((Response::status(sw), Work::Other))
        }
        _ => Ok((Response::status(Sw::INS_NOT_SUPPORTED), Work::Other)),
    }
}

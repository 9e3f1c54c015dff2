//! The pcsc-lite readertest applet (`docs/readertest.md`): ISO cases 1–4 with
//! checked data, time requests, a VERIFY with a retry counter, and a dump of the last
//! VERIFY/MODIFY APDU — what public PC/SC test programs drive.

use crate::iso7816::apdu::{Command, Response};
use crate::iso7816::status::StatusWord as Sw;
use crate::platform::os::{Ctx, Handled, Work};
use crate::platform::profile::{ReadertestMode, ReadertestParams};

/// Package AID.
pub const PACKAGE_AID: [u8; 6] = [0xA0, 0x00, 0x00, 0x00, 0x18, 0xFF];
/// Applet AID.
pub const APPLET_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x18, 0xFF, 0x01];
/// The "combi" variant's AID.
pub const COMBI_AID: [u8; 6] = [0xA0, 0x00, 0x00, 0x00, 0x18, 0x50];

/// The VERIFY retry limit.
pub const MAX_TRIES: u8 = 3;
/// Size of the applet's memory that the dump command reads (initialised to 0x42).
pub const MEMORY_SIZE: usize = 261;

/// The applet's persistent memory.
#[derive(Clone, Debug)]
pub struct Store {
    /// VERIFY tries left.
    pub tries_left: u8,
    /// The memory the dump command reads: 0x42 bytes until a VERIFY/MODIFY stores its APDU.
    pub memory: Vec<u8>,
    /// Length of the stored APDU (0: nothing stored yet).
    pub stored_len: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            tries_left: MAX_TRIES,
            memory: vec![0x42; MEMORY_SIZE],
            stored_len: 0,
        }
    }
}

/// `00 01 02 …` of length `n` (wrapping at 256).
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| i as u8).collect()
}

/// Index of the first byte of `data` that breaks the pattern `start, start+1, …`.
fn first_wrong(data: &[u8], start: u8) -> Option<usize> {
    data.iter()
        .enumerate()
        .position(|(i, b)| *b != start.wrapping_add(i as u8))
}

fn p1p2(cmd: &Command<'_>) -> usize {
    usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]))
}

fn reply(sw: Sw) -> Handled {
    Ok((Response::status(sw), Work::Other))
}

fn data_check(cmd: &Command<'_>, lc_zero_is_error: bool) -> Option<Sw> {
    if cmd.data.is_empty() && lc_zero_is_error {
        return Some(Sw::WRONG_LENGTH);
    }
    first_wrong(cmd.data, 0).map(|i| Sw::readertest_wrong_byte(i as u8))
}

/// Processes a command while the applet is selected.
pub(crate) fn process(params: &ReadertestParams, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
    if cmd.cla != 0x80 {
        return reply(Sw::CLA_NOT_SUPPORTED);
    }
    let tpdu = params.mode.value == ReadertestMode::Tpdu;
    match cmd.ins {
        // Case 1.
        0x30 => reply(if cmd.data.is_empty() {
            Sw::OK
        } else {
            Sw::WRONG_LENGTH
        }),
        // Case 3 with data 00 01 02 …
        0x32 | 0x21 | 0x3A => reply(data_check(cmd, cmd.ins != 0x3A).unwrap_or(Sw::OK)),
        // Case 2: P1P2 bytes; Le must equal P1P2 (0x3C: whatever Le says).
        0x34 | 0x22 | 0x3C => {
            let n = p1p2(cmd);
            if cmd.ins != 0x3C && cmd.le.map_or(n != 0, |le| le as usize != n) {
                return reply(Sw::WRONG_LENGTH);
            }
            Ok((Response::ok(pattern(n)), Work::Read(n)))
        }
        // Case 4: check the data as INS 32, answer P1P2 bytes.
        0x36 | 0x23 | 0x3E => {
            if let Some(sw) = data_check(cmd, cmd.ins != 0x3E) {
                return reply(sw);
            }
            let n = p1p2(cmd);
            if tpdu {
                let n = n & 0xFF;
                ctx.session.pending_response = Some(pattern(n));
                return reply(Sw::bytes_remaining(n as u8));
            }
            Ok((Response::ok(pattern(n)), Work::Read(n)))
        }
        // GET RESPONSE (TPDU mode).
        0xC0 if tpdu => match ctx.session.pending_response.take() {
            Some(data) if cmd.le.is_none_or(|le| le as usize == data.len()) => {
                let n = data.len();
                Ok((Response::ok(data), Work::Read(n)))
            }
            Some(data) => {
                let n = data.len();
                ctx.session.pending_response = Some(data);
                reply(Sw(0x6C00 | n as u16))
            }
            None => reply(Sw::WRONG_P1P2),
        },
        // Time request: the card works for P2 time units (a T=CL card sends S(WTX) meanwhile).
        0x38 => {
            let ns = params
                .time_unit
                .value
                .0
                .as_nanos()
                .saturating_mul(u64::from(cmd.p2));
            Ok((Response::status(Sw::OK), Work::Timed(ns)))
        }
        // VERIFY / MODIFY with data 31 32 33 …
        0x20 | 0x24 => verify(cmd, ctx),
        // Dump the memory holding the last VERIFY/MODIFY APDU.
        0x40 => {
            let fresh = Store::default();
            let store = ctx.nvm.get().applets.get::<Store>().unwrap_or(&fresh);
            let n = match (store.stored_len, cmd.le) {
                (0, Some(le)) => (le as usize).min(MEMORY_SIZE),
                (0, None) => 0,
                (len, _) => len,
            };
            Ok((Response::ok(store.memory[..n].to_vec()), Work::Read(n)))
        }
        _ => reply(Sw::INS_NOT_SUPPORTED),
    }
}

fn verify(cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
    let Ok(raw) = cmd.to_vec() else {
        return reply(Sw::WRONG_LENGTH);
    };
    let stored_len = raw.len().min(MEMORY_SIZE);
    ctx.nvm.commit(|p| {
        let store = p.applets.get_mut::<Store>();
        store.memory[..stored_len].copy_from_slice(&raw[..stored_len]);
        store.stored_len = stored_len;
    })?;
    let tries = ctx
        .nvm
        .get()
        .applets
        .get::<Store>()
        .map_or(MAX_TRIES, |s| s.tries_left);
    if cmd.data.is_empty() {
        return Ok((Response::status(Sw::verify_failed(tries)), Work::Verify));
    }
    if tries == 0 {
        return Ok((Response::status(Sw::PIN_BLOCKED), Work::Verify));
    }
    ctx.nvm
        .commit(|p| p.applets.get_mut::<Store>().tries_left = tries - 1)?;
    ctx.side.pin_comparisons += 1;
    match first_wrong(cmd.data, 0x31) {
        None => {
            ctx.nvm
                .commit(|p| p.applets.get_mut::<Store>().tries_left = MAX_TRIES)?;
            Ok((Response::status(Sw::OK), Work::Verify))
        }
        Some(i) => Ok((
            Response::status(Sw::readertest_wrong_byte(i as u8)),
            Work::Verify,
        )),
    }
}

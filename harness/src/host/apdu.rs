//! The commands of the JPKI and card-info flows, built in one place: the host's flows, its read
//! loop and the runner's card steps all send these.

use kazasu_sim::Command;

/// An offset READ BINARY cannot reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("READ BINARY cannot reach offset {0} (offsets have 15 bits: at most 32,767)")]
pub struct OffsetTooFar(pub usize);

/// SELECT an application by AID: `00 A4 04 P2` (P2 `0C`: no answer data; `00`: FCI).
pub fn select_aid(aid: &[u8], p2: u8) -> Command<'_> {
    Command::new(0x00, 0xA4, 0x04, p2).with_data(aid)
}

/// SELECT an elementary file: `00 A4 02 0C 02 FID`.
pub fn select_ef(fid: &[u8; 2]) -> Command<'_> {
    Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid)
}

/// VERIFY the selected PIN: `00 20 00 80 Lc PIN`.
pub fn verify(pin: &[u8]) -> Command<'_> {
    Command::new(0x00, 0x20, 0x00, 0x80).with_data(pin)
}

/// The retry-counter query: VERIFY without data, `00 20 00 80`.
pub fn retry_counter() -> Command<'static> {
    Command::new(0x00, 0x20, 0x00, 0x80)
}

/// The first 4 bytes of a file (its DER header): of the selected EF (`00 B0 00 00 04`), or
/// by short EF id without a SELECT (`00 B0 8s 00 04`).
pub fn read_header(sfi: Option<u8>) -> Command<'static> {
    match sfi {
        Some(sfi) => Command::new(0x00, 0xB0, 0x80 | (sfi & 0x1F), 0x00).with_le(4),
        None => Command::new(0x00, 0xB0, 0x00, 0x00).with_le(4),
    }
}

/// READ BINARY of `len` bytes at `offset` (short: at most 256; extended: up to 65,536). The
/// offset has 15 bits: past 32,767 there is no such command, and this says so.
pub fn read_at(
    offset: usize,
    len: usize,
    extended: bool,
) -> Result<Command<'static>, OffsetTooFar> {
    let [hi, lo] = u16::try_from(offset)
        .ok()
        .filter(|o| *o <= 0x7FFF)
        .ok_or(OffsetTooFar(offset))?
        .to_be_bytes();
    let cmd = Command::new(0x00, 0xB0, hi, lo);
    Ok(if extended {
        cmd.with_le(len.min(65_536) as u32).extended()
    } else {
        cmd.with_le(len.min(256) as u32)
    })
}

/// COMPUTE DIGITAL SIGNATURE over a DigestInfo with the selected key: `80 2A 00 80 Lc DI 00`.
pub fn sign(digest_info: &[u8]) -> Command<'_> {
    Command::new(0x80, 0x2A, 0x00, 0x80)
        .with_data(digest_info)
        .with_le(256)
}

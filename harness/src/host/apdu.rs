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

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(cmd: Command<'_>) -> Vec<u8> {
        cmd.to_vec().expect("encodes")
    }

    #[test]
    fn each_command_has_the_bytes_the_jpki_flows_send() {
        let aid = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
        let mut select = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
        select.extend_from_slice(&aid);
        assert_eq!(bytes(select_aid(&aid, 0x0C)), select);
        assert_eq!(
            bytes(select_ef(&[0x00, 0x0A])),
            [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A]
        );
        assert_eq!(
            bytes(verify(b"1234")),
            [0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34]
        );
        assert_eq!(bytes(retry_counter()), [0x00, 0x20, 0x00, 0x80]);
        assert_eq!(bytes(read_header(None)), [0x00, 0xB0, 0x00, 0x00, 0x04]);
        assert_eq!(
            bytes(read_header(Some(0x0A))),
            [0x00, 0xB0, 0x8A, 0x00, 0x04]
        );
        let di = [0xAB; 51];
        let signed = bytes(sign(&di));
        assert_eq!(signed[..5], [0x80, 0x2A, 0x00, 0x80, 51]);
        assert_eq!(signed.len(), 5 + 51 + 1, "Le 00: up to 256 bytes");
    }

    #[test]
    fn a_read_takes_at_most_what_its_form_carries_and_no_offset_past_15_bits() {
        let read = |o, n, ext| bytes(read_at(o, n, ext).expect("reachable"));
        assert_eq!(
            read(4, 1_000, false),
            [0x00, 0xB0, 0x00, 0x04, 0x00],
            "256 bytes: Le 00"
        );
        assert_eq!(read(260, 10, false), [0x00, 0xB0, 0x01, 0x04, 0x0A]);
        assert_eq!(
            read(4, 1_000, true),
            [0x00, 0xB0, 0x00, 0x04, 0x00, 0x03, 0xE8]
        );
        assert_eq!(read(0x7FFF, 1, false)[2..4], [0x7F, 0xFF]);
        assert_eq!(read_at(0x8000, 1, false).err(), Some(OffsetTooFar(0x8000)));
        assert_eq!(
            read_at(usize::MAX, 1, true).err(),
            Some(OffsetTooFar(usize::MAX))
        );
    }
}

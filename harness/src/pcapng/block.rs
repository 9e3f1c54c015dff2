//! pcapng blocks as bytes (draft-ietf-opsawg-pcapng): the section header, interface
//! descriptions and enhanced packets kazasu writes, and a reader of any section (either byte
//! order) for what it reads back — sans-IO, both ways: bytes in, values out.

/// A link type kazasu writes or reads.
pub mod linktype {
    /// ISO 14443 air frames with the 4-byte pseudo-header.
    pub const ISO_14443: u16 = 264;
    /// Wireshark's exported PDUs (tags, then the payload for the named dissector).
    pub const WIRESHARK_UPPER_PDU: u16 = 252;
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const EPB: u32 = 6;
const SPB: u32 = 3;
const OBSOLETE_PB: u32 = 2;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const EPB_FLAGS: u16 = 2;

/// Which way a packet went, as `epb_flags` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Towards the capturing side (a card's answer).
    Inbound,
    /// Away from it (a reader's command).
    Outbound,
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len().min(u16::MAX as usize) as u16).to_le_bytes());
    out.extend_from_slice(&value[..value.len().min(u16::MAX as usize)]);
    pad4(out);
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let total = (12 + body.len()) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&total.to_le_bytes());
    out
}

fn end_options(body: &mut Vec<u8>) {
    body.extend_from_slice(&OPT_END.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
}

/// A little-endian section header naming the writing application only (no host details).
pub fn section_header(user_application: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    option(&mut body, SHB_USERAPPL, user_application.as_bytes());
    end_options(&mut body);
    block(SHB, &body)
}

/// An interface of `linktype` with a name, a description and nanosecond timestamps.
pub fn interface(linktype: u16, name: &str, description: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&linktype.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    option(&mut body, IF_NAME, name.as_bytes());
    option(&mut body, IF_DESCRIPTION, description.as_bytes());
    option(&mut body, IF_TSRESOL, &[9]);
    end_options(&mut body);
    block(IDB, &body)
}

/// A packet on interface `iface` at `ts_ns` nanoseconds since 1970, with its direction and an
/// optional comment.
pub fn packet(
    iface: u32,
    ts_ns: u64,
    data: &[u8],
    way: Option<Way>,
    comment: Option<&str>,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(32 + data.len());
    body.extend_from_slice(&iface.to_le_bytes());
    body.extend_from_slice(&((ts_ns >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts_ns as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    pad4(&mut body);
    if let Some(w) = way {
        let flags: u32 = match w {
            Way::Inbound => 1,
            Way::Outbound => 2,
        };
        option(&mut body, EPB_FLAGS, &flags.to_le_bytes());
    }
    if let Some(c) = comment {
        option(&mut body, OPT_COMMENT, c.as_bytes());
    }
    if way.is_some() || comment.is_some() {
        end_options(&mut body);
    }
    block(EPB, &body)
}

/// Why bytes are not a pcapng file kazasu can read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PcapngError {
    /// The file does not start with a section header.
    #[error("not a pcapng file: it does not start with a section header block (0A 0D 0D 0A)")]
    NotPcapng,
    /// A block is cut short or its lengths do not agree.
    #[error("block {block} at byte {offset}: {what}")]
    Block {
        /// The block's number, from 1.
        block: usize,
        /// Where it starts.
        offset: usize,
        /// What is wrong.
        what: String,
    },
}

/// An interface as read: its link type and timestamp resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The link type.
    pub linktype: u16,
    /// `if_tsresol` (6 by default: microseconds).
    pub tsresol: u8,
    /// `if_name`, when given.
    pub name: Option<String>,
}

/// A packet as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The packet's number in the file, from 1.
    pub number: usize,
    /// Its interface (an index into [`File::interfaces`]).
    pub interface: usize,
    /// Its time in nanoseconds since 1970 (as the interface's resolution allows).
    pub ts_ns: u128,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// `opt_comment`, when given.
    pub comment: Option<String>,
}

/// A pcapng file as read: every section's interfaces in one list, every packet in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct File {
    /// Interfaces, numbered across sections.
    pub interfaces: Vec<Interface>,
    /// Packets.
    pub packets: Vec<Packet>,
}

/// Options of a block body as (code, value) pairs.
fn options(mut body: &[u8], big: bool) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while body.len() >= 4 {
        let code = u16_at(body, 0, big);
        let len = u16_at(body, 2, big) as usize;
        if code == OPT_END || body.len() < 4 + len {
            break;
        }
        out.push((code, &body[4..4 + len]));
        body = &body[(4 + len).next_multiple_of(4).min(body.len())..];
    }
    out
}

fn u16_at(b: &[u8], at: usize, big: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

/// A timestamp in units of an `if_tsresol` byte, in nanoseconds.
fn to_ns(ts: u64, tsresol: u8) -> u128 {
    let (ts, n) = (u128::from(ts), u32::from(tsresol & 0x7F));
    match (tsresol & 0x80 == 0, n) {
        (true, 0..=9) => ts * 10u128.pow(9 - n),
        (true, _) => ts / 10u128.checked_pow(n - 9).unwrap_or(u128::MAX),
        (false, _) => (ts * 1_000_000_000).checked_shr(n).unwrap_or(0),
    }
}

/// Reads every section of a pcapng file; unknown blocks are skipped by their length.
pub fn read(bytes: &[u8]) -> Result<File, PcapngError> {
    if bytes.len() < 12 || bytes[..4] != SHB.to_le_bytes() {
        return Err(PcapngError::NotPcapng);
    }
    let mut file = File::default();
    let mut first_of_section = 0usize;
    let mut big = false;
    let (mut at, mut number) = (0usize, 0usize);
    while at < bytes.len() {
        number += 1;
        let bad = |what: String| PcapngError::Block {
            block: number,
            offset: at,
            what,
        };
        if bytes.len() - at < 12 {
            return Err(bad(format!(
                "{} bytes left, a block takes at least 12",
                bytes.len() - at
            )));
        }
        let kind_le = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        if kind_le == SHB {
            let magic = &bytes[at + 8..at + 12];
            big = match magic {
                [0x4D, 0x3C, 0x2B, 0x1A] => false,
                [0x1A, 0x2B, 0x3C, 0x4D] => true,
                _ => {
                    return Err(bad(format!(
                        "a section header with byte-order magic {magic:02X?}"
                    )));
                }
            };
            first_of_section = file.interfaces.len();
        }
        let kind = u32_at(bytes, at, big);
        let total = u32_at(bytes, at + 4, big) as usize;
        if total < 12 || !total.is_multiple_of(4) || total > bytes.len() - at {
            return Err(bad(format!(
                "a block length of {total} (at least 12, a multiple of 4, within the {} bytes left)",
                bytes.len() - at
            )));
        }
        if u32_at(bytes, at + total - 4, big) as usize != total {
            return Err(bad("the block's two lengths differ".into()));
        }
        let body = &bytes[at + 8..at + total - 4];
        match kind {
            IDB => {
                if body.len() < 8 {
                    return Err(bad("an interface description shorter than 8 bytes".into()));
                }
                let opts = options(&body[8..], big);
                let tsresol = opts
                    .iter()
                    .find(|(c, _)| *c == IF_TSRESOL)
                    .and_then(|(_, v)| v.first().copied());
                let name = opts
                    .iter()
                    .find(|(c, _)| *c == IF_NAME)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
                file.interfaces.push(Interface {
                    linktype: u16_at(body, 0, big),
                    tsresol: tsresol.unwrap_or(6),
                    name,
                });
            }
            EPB | OBSOLETE_PB | SPB => {
                let (iface, ts, captured, header) = match kind {
                    EPB if body.len() >= 20 => (
                        u32_at(body, 0, big) as usize,
                        (u64::from(u32_at(body, 4, big)) << 32) | u64::from(u32_at(body, 8, big)),
                        u32_at(body, 12, big) as usize,
                        20,
                    ),
                    OBSOLETE_PB if body.len() >= 20 => (
                        u16_at(body, 0, big) as usize,
                        (u64::from(u32_at(body, 4, big)) << 32) | u64::from(u32_at(body, 8, big)),
                        u32_at(body, 12, big) as usize,
                        20,
                    ),
                    SPB if body.len() >= 4 => (0, 0, body.len() - 4, 4),
                    _ => return Err(bad("a packet block too short for its header".into())),
                };
                if body.len() < header + captured {
                    return Err(bad(format!(
                        "a packet of {captured} bytes in a block with room for {}",
                        body.len() - header
                    )));
                }
                let interface = first_of_section + iface;
                let Some(i) = file.interfaces.get(interface) else {
                    return Err(bad(format!(
                        "a packet on interface {iface}, which the section does not describe"
                    )));
                };
                let rest = &body[(header + captured).next_multiple_of(4).min(body.len())..];
                let comment = if kind == SPB {
                    None
                } else {
                    options(rest, big)
                        .into_iter()
                        .find(|(c, _)| *c == OPT_COMMENT)
                        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                };
                file.packets.push(Packet {
                    number: file.packets.len() + 1,
                    interface,
                    ts_ns: to_ns(ts, i.tsresol),
                    data: body[header..header + captured].to_vec(),
                    comment,
                });
            }
            _ => {}
        }
        at += total;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_and_has_the_layout_of_the_reference() {
        let mut f = section_header("kazasu test");
        f.extend(interface(linktype::ISO_14443, "air", "case 1"));
        f.extend(packet(
            0,
            1_500_000_001,
            &[0x00, 0xFE, 0x00, 0x01, 0x26],
            Some(Way::Outbound),
            Some("REQA"),
        ));
        f.extend(packet(
            0,
            1_500_000_002,
            &[0x00, 0xFC, 0x00, 0x00],
            None,
            None,
        ));
        // Block type, lengths and the byte-order magic as the specification lays them out.
        assert_eq!(f[..4], [0x0A, 0x0D, 0x0D, 0x0A]);
        assert_eq!(f[8..12], [0x4D, 0x3C, 0x2B, 0x1A]);
        let read = read(&f).expect("reads back");
        assert_eq!(read.interfaces.len(), 1);
        assert_eq!(read.interfaces[0].linktype, 264);
        assert_eq!(read.interfaces[0].tsresol, 9);
        assert_eq!(read.interfaces[0].name.as_deref(), Some("air"));
        assert_eq!(read.packets.len(), 2);
        assert_eq!(read.packets[0].data, [0x00, 0xFE, 0x00, 0x01, 0x26]);
        assert_eq!(read.packets[0].ts_ns, 1_500_000_001);
        assert_eq!(read.packets[0].comment.as_deref(), Some("REQA"));
        assert_eq!(read.packets[1].comment, None);
    }

    #[test]
    fn a_big_endian_section_and_a_second_section_are_read() {
        // A big-endian section: SHB (28 bytes, no options), an IDB of 264 with µs by default,
        // one EPB, as NFCGate writes them.
        let mut f = Vec::new();
        f.extend([
            0x0A, 0x0D, 0x0D, 0x0A, 0, 0, 0, 28, 0x1A, 0x2B, 0x3C, 0x4D, 0, 1, 0, 0,
        ]);
        f.extend([0xFF; 8]);
        f.extend([0, 0, 0, 28]);
        f.extend([
            0, 0, 0, 1, 0, 0, 0, 20, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20,
        ]);
        f.extend([
            0, 0, 0, 6, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 4,
        ]);
        f.extend([0x00, 0xFA, 0x00, 0x00]);
        f.extend([0, 0, 0, 36]);
        f.extend(section_header("second"));
        f.extend(interface(linktype::WIRESHARK_UPPER_PDU, "apdu", ""));
        f.extend(packet(0, 9, &[1, 2, 3], None, None));
        let read = read(&f).expect("reads");
        assert_eq!(
            read.interfaces
                .iter()
                .map(|i| i.linktype)
                .collect::<Vec<_>>(),
            [264, 252]
        );
        assert_eq!(read.packets[0].ts_ns, 7_000, "microseconds by default");
        assert_eq!((to_ns(3, 0x80 | 1), to_ns(5, 12)), (1_500_000_000, 0));
        assert_eq!(
            read.packets[1].interface, 1,
            "interfaces restart in each section"
        );
        assert_eq!(read.packets[1].data, [1, 2, 3]);
    }

    #[test]
    fn broken_files_are_errors_at_the_block() {
        assert_eq!(
            read(b"\xD4\xC3\xB2\xA1 a classic pcap"),
            Err(PcapngError::NotPcapng)
        );
        let mut f = section_header("x");
        f.extend(interface(264, "a", ""));
        let mut cut = f.clone();
        cut.extend(&packet(0, 1, &[1, 2, 3, 4, 5], None, None)[..20]);
        let e = read(&cut).expect_err("cut short");
        assert!(matches!(e, PcapngError::Block { block: 3, .. }), "{e}");
        let mut other = f.clone();
        other.extend(packet(4, 1, &[1], None, None));
        let e = read(&other).expect_err("no interface 4");
        assert!(e.to_string().contains("interface 4"), "{e}");
    }
}

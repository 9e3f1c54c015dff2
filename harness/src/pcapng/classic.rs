//! Classic pcap (libpcap's format, as USBPcapCMD and Flipper Zero write it), read into the
//! same shape as a pcapng file: one interface, every record a packet. Either byte order,
//! microsecond or nanosecond timestamps.

use super::block::{File, Interface, Packet, PcapngError};

/// Whether `bytes` start like a classic pcap file.
pub fn is_classic(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some(
            [0xD4, 0xC3, 0xB2, 0xA1]
                | [0x4D, 0x3C, 0xB2, 0xA1]
                | [0xA1, 0xB2, 0xC3, 0xD4]
                | [0xA1, 0xB2, 0x3C, 0x4D]
        )
    )
}

/// Reads a classic pcap file.
pub fn read(bytes: &[u8]) -> Result<File, PcapngError> {
    if bytes.len() < 24 || !is_classic(bytes) {
        return Err(PcapngError::NotPcapng);
    }
    let big = bytes[0] == 0xA1;
    let nanos = matches!(bytes[..4], [0x4D, 0x3C, ..] | [_, _, 0x3C, 0x4D]);
    let u32_at = |at: usize| {
        let v: [u8; 4] = bytes[at..at + 4].try_into().expect("4 bytes");
        if big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    };
    let linktype = (u32_at(20) & 0xFFFF) as u16;
    let mut file = File {
        interfaces: vec![Interface {
            linktype,
            tsresol: if nanos { 9 } else { 6 },
            name: None,
        }],
        packets: Vec::new(),
    };
    let mut at = 24;
    while at < bytes.len() {
        let number = file.packets.len() + 1;
        let bad = |what: String| PcapngError::Block {
            block: number,
            offset: at,
            what,
        };
        if bytes.len() - at < 16 {
            return Err(bad(format!(
                "{} bytes left, a record header takes 16",
                bytes.len() - at
            )));
        }
        let (sec, frac, captured) = (
            u64::from(u32_at(at)),
            u64::from(u32_at(at + 4)),
            u32_at(at + 8) as usize,
        );
        if captured > bytes.len() - at - 16 {
            return Err(bad(format!(
                "a record of {captured} bytes with {} left",
                bytes.len() - at - 16
            )));
        }
        let ts_ns =
            u128::from(sec) * 1_000_000_000 + u128::from(frac) * if nanos { 1 } else { 1_000 };
        file.packets.push(Packet {
            number,
            interface: 0,
            ts_ns,
            data: bytes[at + 16..at + 16 + captured].to_vec(),
            comment: None,
        });
        at += 16 + captured;
    }
    Ok(file)
}

/// Reads a pcapng or a classic pcap file, told apart by their first bytes.
pub fn read_any(bytes: &[u8]) -> Result<File, PcapngError> {
    if is_classic(bytes) {
        read(bytes)
    } else {
        super::block::read(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_byte_orders_and_both_resolutions_read() {
        // Little-endian, microseconds, link type 264, one record of 5 bytes at 1.000002 s.
        let mut le = vec![
            0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0x08,
            0x01, 0, 0,
        ];
        le.extend([
            1, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 0x00, 0xFE, 0x00, 0x01, 0x26,
        ]);
        let f = read_any(&le).unwrap();
        assert_eq!(f.interfaces[0].linktype, 264);
        assert_eq!(
            (f.packets[0].ts_ns, f.packets[0].data.len()),
            (1_000_002_000, 5)
        );
        // Big-endian, nanoseconds, link type 249, one empty record.
        let mut be = vec![
            0xA1, 0xB2, 0x3C, 0x4D, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0,
            249,
        ];
        be.extend([0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
        let f = read_any(&be).unwrap();
        assert_eq!(
            (f.interfaces[0].linktype, f.packets[0].ts_ns),
            (249, 1_000_000_007)
        );
        be.extend([0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 9, 1]);
        assert!(matches!(
            read_any(&be),
            Err(PcapngError::Block { block: 2, .. })
        ));
    }
}

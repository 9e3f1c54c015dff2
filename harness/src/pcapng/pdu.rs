//! What a packet of each link type carries: an ISO 14443 air frame behind its 4-byte
//! pseudo-header (link type 264), or an APDU behind Wireshark's exported-PDU tags naming the
//! ISO 7816 dissector and the direction (link type 252), so Wireshark decodes it with no
//! "Decode As" setting.

/// The pseudo-header's event byte (link type 264).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AirEvent {
    /// Card to reader, CRC included.
    FromCard = 0xFF,
    /// Reader to card, CRC included.
    ToCard = 0xFE,
    /// The field switched off.
    FieldOff = 0xFD,
    /// The field switched on.
    FieldOn = 0xFC,
}

/// A link type 264 packet: version 0, the event, the length (big-endian), the frame.
pub fn air(event: AirEvent, frame: &[u8]) -> Vec<u8> {
    let len = frame.len().min(u16::MAX as usize);
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&[0x00, event as u8]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&frame[..len]);
    out
}

/// Exported-PDU tag: the dissector's name (`PROTO_NAME`, 12).
const TAG_DISSECTOR: u16 = 12;
/// Exported-PDU tag: the peer-to-peer direction (35): 0 sent, 1 received.
const TAG_P2P_DIRECTION: u16 = 35;

/// Which way an APDU goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApduWay {
    /// A command, to the card.
    Command,
    /// A response, from the card.
    Response,
}

/// A link type 252 packet for Wireshark's ISO 7816 dissector.
pub fn apdu(way: ApduWay, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + bytes.len());
    out.extend_from_slice(&TAG_DISSECTOR.to_be_bytes());
    out.extend_from_slice(&8u16.to_be_bytes());
    out.extend_from_slice(b"iso7816\0");
    out.extend_from_slice(&TAG_P2P_DIRECTION.to_be_bytes());
    out.extend_from_slice(&4u16.to_be_bytes());
    out.extend_from_slice(&u32::from(way == ApduWay::Response).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(bytes);
    out
}

/// The APDU and its direction in a link type 252 packet kazasu wrote (`None`: not one).
pub fn read_apdu(packet: &[u8]) -> Option<(ApduWay, &[u8])> {
    let (mut at, mut way, mut iso7816) = (0usize, None, false);
    loop {
        let tag = u16::from_be_bytes(packet.get(at..at + 2)?.try_into().ok()?);
        let len = u16::from_be_bytes(packet.get(at + 2..at + 4)?.try_into().ok()?) as usize;
        let value = packet.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        match tag {
            0 => break,
            TAG_DISSECTOR => iso7816 = value.split(|b| *b == 0).next() == Some(b"iso7816"),
            TAG_P2P_DIRECTION if len == 4 => {
                way = Some(match value {
                    [0, 0, 0, 0] => ApduWay::Command,
                    _ => ApduWay::Response,
                })
            }
            _ => {}
        }
    }
    iso7816.then_some(())?;
    Some((way?, &packet[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_air_frame_has_the_pseudo_header_of_link_type_264() {
        assert_eq!(
            air(AirEvent::ToCard, &[0x26]),
            [0x00, 0xFE, 0x00, 0x01, 0x26]
        );
        assert_eq!(air(AirEvent::FieldOn, &[]), [0x00, 0xFC, 0x00, 0x00]);
    }

    #[test]
    fn an_apdu_packet_is_the_reference_example_and_reads_back() {
        let select = hex::decode("00A4040C0AD392F000260100000001").unwrap();
        let p = apdu(ApduWay::Command, &select);
        assert_eq!(
            hex::encode_upper(&p),
            "000C000869736F3738313600002300040000000000000000".to_owned()
                + "00A4040C0AD392F000260100000001"
        );
        assert_eq!(read_apdu(&p), Some((ApduWay::Command, &select[..])));
        let r = apdu(ApduWay::Response, &[0x90, 0x00]);
        assert_eq!(read_apdu(&r), Some((ApduWay::Response, &[0x90, 0x00][..])));
        assert_eq!(read_apdu(&air(AirEvent::ToCard, &[0x26])), None);
    }
}

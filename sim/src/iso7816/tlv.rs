//! BER-TLV writing with definite lengths (ISO/IEC 7816-4 §5.2, X.690 §8.1.3): the one encoder the
//! card's files and the test PKI's extensions share.

/// Appends `tag`, the length of `value` (short form up to 127, then `81 xx` or `82 xx xx`) and
/// `value` to `out`.
pub fn write(tag: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(tag);
    match value.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend_from_slice(&[0x81, n as u8]),
        n => {
            out.push(0x82);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(value);
}

/// Appends a TLV as the My Number card's own files write it: a length under 128 in one byte,
/// any other as `82 hh ll` (never `81 xx`).
pub fn write_long(tag: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(tag);
    match u8::try_from(value.len()) {
        Ok(n) if n < 0x80 => out.push(n),
        _ => {
            out.push(0x82);
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(value);
}

/// One TLV as a new vector.
pub fn encode(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + tag.len() + 3);
    write(tag, value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_the_shortest_definite_form() {
        assert_eq!(encode(&[0x04], &[0xAA; 3])[..2], [0x04, 0x03]);
        assert_eq!(encode(&[0xDF, 0x21], &[0; 127])[..3], [0xDF, 0x21, 0x7F]);
        assert_eq!(encode(&[0x30], &[0; 128])[..3], [0x30, 0x81, 0x80]);
        assert_eq!(
            encode(&[0xFF, 0x30], &[0; 331])[..5],
            [0xFF, 0x30, 0x82, 0x01, 0x4B]
        );
    }

    #[test]
    fn the_card_writes_every_long_length_in_three_bytes() {
        let mut out = Vec::new();
        write_long(&[0xDF, 0x43], &[0; 128], &mut out);
        assert_eq!(out[..5], [0xDF, 0x43, 0x82, 0x00, 0x80]);
        out.clear();
        write_long(&[0xDF, 0x42], &[0; 16], &mut out);
        assert_eq!(out[..3], [0xDF, 0x42, 0x10]);
    }
}

//! The pictures the card-face AP (券面事項確認AP) carries, made from a test identity: the name,
//! address, security code and My Number as 1-bit greyscale PNG images 12 pixels high, and the
//! photo as a greyscale JPEG 2000 (JP2) file. Real cards hold scans of the printed card; these
//! are deterministic stand-ins with the real formats, so clients that detect the format by its
//! magic bytes and decode it see what they expect.
//!
//! Digits are drawn from a 5×7 font in 6×12 cells (as on the card's digit images); other
//! characters are 12×12 cells whose pattern is drawn from the character's SHA-256 — kazasu has
//! no Japanese font, and the pattern keeps every character distinct and every image
//! deterministic. The photo is a valid JPEG 2000 codestream of a flat grey image with the
//! holder's id in a comment segment, padded to the size of a real card's photo.

/// The 5×7 digit glyphs, one row of 5 bits per entry, top to bottom.
const DIGITS: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

/// The height of every text image, in pixels.
pub const TEXT_HEIGHT: u32 = 12;

/// A 1-bit image being drawn: `true` is ink (black).
struct Bitmap {
    width: u32,
    ink: Vec<bool>,
}

impl Bitmap {
    fn set(&mut self, x: u32, y: u32) {
        let at = (y * self.width + x) as usize;
        self.ink[at] = true;
    }
}

/// The width a character takes: 6 pixels for an ASCII digit, 12 for anything else.
fn cell_width(c: char) -> u32 {
    if c.is_ascii_digit() { 6 } else { 12 }
}

/// `text` as a 1-bit greyscale PNG, 12 pixels high (black ink on white).
pub fn text_png(text: &str) -> Vec<u8> {
    let width = text.chars().map(cell_width).sum::<u32>().max(1);
    let mut bitmap = Bitmap {
        width,
        ink: vec![false; (width * TEXT_HEIGHT) as usize],
    };
    let mut x0 = 0;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
            for (row, bits) in DIGITS[d as usize].iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        bitmap.set(x0 + col, 2 + row as u32);
                    }
                }
            }
        } else if !c.is_whitespace() {
            let mut utf8 = [0u8; 4];
            let pattern = openssl::sha::sha256(c.encode_utf8(&mut utf8).as_bytes());
            for i in 0..100u32 {
                if pattern[(i / 8) as usize] & (0x80 >> (i % 8)) != 0 {
                    bitmap.set(x0 + 1 + i % 10, 1 + i / 10);
                }
            }
        }
        x0 += cell_width(c);
    }
    encode_png(&bitmap)
}

fn encode_png(bitmap: &Bitmap) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, bitmap.width, TEXT_HEIGHT);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::High);
    let row_bytes = bitmap.width.div_ceil(8) as usize;
    let mut rows = vec![0u8; row_bytes * TEXT_HEIGHT as usize];
    for y in 0..TEXT_HEIGHT as usize {
        for x in 0..bitmap.width as usize {
            // Grey level 1 is white: paper where there is no ink.
            if !bitmap.ink[y * bitmap.width as usize + x] {
                rows[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    let mut writer = encoder
        .write_header()
        .expect("a 1-bit greyscale header is valid");
    writer
        .write_image_data(&rows)
        .expect("the rows have the header's size");
    writer.finish().expect("writing to a vector cannot fail");
    out
}

/// The photo's width and height on the public test card, in pixels.
pub const PHOTO_SIZE: (u32, u32) = (378, 472);

/// The photo's size in bytes on the public test card.
pub const PHOTO_BYTES: usize = 1_854;

fn jp2_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

fn marker_segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(body);
    s
}

/// A greyscale JP2 photo for `holder`: the JP2 boxes (signature, file type, header with one
/// 8-bit component and the greyscale colour space, codestream) around a JPEG 2000 codestream
/// of one tile, no wavelet decomposition and one empty packet (a flat mid-grey image), with a
/// comment segment naming the holder, padded so the file is [`PHOTO_BYTES`] long.
pub fn photo_jp2(holder: &str) -> Vec<u8> {
    let (width, height) = PHOTO_SIZE;
    let mut siz = vec![0x00, 0x00]; // Rsiz: no restrictions
    for v in [width, height, 0, 0, width, height, 0, 0] {
        siz.extend_from_slice(&v.to_be_bytes());
    }
    siz.extend_from_slice(&[0x00, 0x01, 0x07, 0x01, 0x01]); // one 8-bit unsigned component
    // COD: LRCP, 1 layer, no MCT; 0 decompositions, 64×64 code blocks, the reversible 5-3 filter.
    let cod = [0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x04, 0x04, 0x00, 0x01];
    // QCD: no quantisation, 2 guard bits; the LL band's exponent 8.
    let qcd = [0x40, 0x40];
    let mut tile = marker_segment(0x90, &[0; 8]); // SOT, its length filled in below
    tile.extend_from_slice(&[0xFF, 0x93, 0x00]); // SOD, then one empty packet
    let psot = tile.len() as u32;
    tile[6..10].copy_from_slice(&psot.to_be_bytes());
    tile[11] = 1; // TNsot: one tile-part
    let mut head = vec![0xFF, 0x4F]; // SOC
    head.extend(marker_segment(0x51, &siz));
    head.extend(marker_segment(0x52, &cod));
    head.extend(marker_segment(0x5C, &qcd));
    let boxes_before = {
        let mut b = vec![
            0x00, 0x00, 0x00, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A,
        ];
        b.extend(jp2_box(b"ftyp", b"jp2 \0\0\0\0jp2 "));
        let mut ihdr = height.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&[0x00, 0x01, 0x07, 0x07, 0x00, 0x00]);
        let mut header = jp2_box(b"ihdr", &ihdr);
        header.extend(jp2_box(
            b"colr",
            &[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11],
        ));
        b.extend(jp2_box(b"jp2h", &header));
        b
    };
    // The comment fills the file to the real photo's size: SOC..QCD, COM, tile, EOC in a box.
    let fixed = boxes_before.len() + 8 + head.len() + 4 + tile.len() + 2;
    let mut comment = vec![0x00, 0x01]; // Rcom: Latin text
    comment.extend_from_slice(format!("kazasu test photo of {holder}; ").as_bytes());
    let filler = PHOTO_BYTES.saturating_sub(fixed + comment.len());
    comment.extend(std::iter::repeat_n(b'.', filler));
    let mut codestream = head;
    codestream.extend(marker_segment(0x64, &comment));
    codestream.extend(tile);
    codestream.extend_from_slice(&[0xFF, 0xD9]); // EOC
    let mut file = boxes_before;
    file.extend(jp2_box(b"jp2c", &codestream));
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_photo_is_a_jp2_of_the_test_cards_size() {
        let photo = photo_jp2("yamada-taro");
        assert_eq!(photo.len(), PHOTO_BYTES);
        assert_eq!(&photo[4..8], b"jP  ");
        assert_eq!(&photo[16..20], b"ftyp");
        let codestream = photo.windows(4).position(|w| w == b"jp2c").unwrap() + 4;
        assert_eq!(photo[codestream..codestream + 2], [0xFF, 0x4F]);
        assert_eq!(photo[photo.len() - 2..], [0xFF, 0xD9]);
        assert_ne!(photo, photo_jp2("suzuki-hanako"));
    }

    #[test]
    fn digits_take_six_pixels_and_other_characters_twelve() {
        let png = text_png("12");
        assert_eq!(&png[1..4], b"PNG");
        // IHDR: width, height, bit depth 1, colour type 0.
        assert_eq!(png[16..20], 12u32.to_be_bytes());
        assert_eq!(png[20..24], 12u32.to_be_bytes());
        assert_eq!(png[24..26], [1, 0]);
        assert_eq!(text_png("山田　太郎")[16..20], 60u32.to_be_bytes());
        assert_ne!(text_png("山"), text_png("田"));
    }
}

//! The 券面事項確認AP (card-face confirmation AP) of the physical card, read the way its public
//! clients read it: by SFI with an extended Le, and with a 7-byte header then 256-byte chunks.

mod common;

use common::*;
use kazasu_sim::{Fixtures, applets::card_face};
use rsa::pkcs8::DecodePublicKey;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

const SELECT_CARD_FACE: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02";

fn verify_sfi(c: &mut kazasu_sim::Card, key: u8, value: &str) -> String {
    sw(
        c,
        &format!(
            "00 20 00 {:02X} {:02X} {}",
            0x80 | key,
            value.len(),
            kazasu_sim::hex_spaced(value.as_bytes())
        ),
    )
}

fn subject(id: &str) -> std::sync::Arc<kazasu_sim::Subject> {
    Fixtures::embedded().subject(id).unwrap()
}

/// A card's RSA key as it writes it: `90 03 <e> 91 82 01 00 <n>`.
fn card_key(tlv: &[u8]) -> RsaPublicKey {
    assert_eq!(tlv.len(), 265);
    assert_eq!(tlv[..2], [0x90, 0x03]);
    assert_eq!(tlv[5..9], [0x91, 0x82, 0x01, 0x00]);
    RsaPublicKey::new(
        BigUint::from_bytes_be(&tlv[9..]),
        BigUint::from_bytes_be(&tlv[2..5]),
    )
    .unwrap()
}

/// The TLVs inside a `FF xx 82 hh ll` template, as (tag, header length, value), checking that
/// every length of 128 or more is written `82 hh ll`.
fn fields(file: &[u8]) -> Vec<(u8, usize, Vec<u8>)> {
    assert_eq!(file[0], 0xFF);
    assert_eq!(file[2], 0x82, "the template's length in three bytes");
    let total = usize::from(u16::from_be_bytes([file[3], file[4]]));
    assert_eq!(total + 5, file.len());
    let mut out = Vec::new();
    let mut at = 5;
    while at < file.len() {
        assert_eq!(file[at], 0xDF, "at {at}");
        let tag = file[at + 1];
        let (len, header) = match file[at + 2] {
            0x82 => {
                let len = usize::from(u16::from_be_bytes([file[at + 3], file[at + 4]]));
                assert!(len >= 0x80, "DF {tag:02X}: a short length in three bytes");
                (len, 5)
            }
            n if n < 0x80 => (usize::from(n), 3),
            n => panic!("DF {tag:02X}: length form {n:02X}"),
        };
        out.push((tag, at, file[at + header..at + header + len].to_vec()));
        at += header + len;
    }
    out
}

fn pkcs1(key: &RsaPublicKey, data: &[u8], signature: &[u8]) -> bool {
    key.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(data),
        signature,
    )
    .is_ok()
}

#[test]
fn each_key_opens_exactly_its_files() {
    let s = subject("yamada-taro");
    let id = &s.identity;
    let fresh = || {
        let mut c = card("mynumber-card");
        assert_eq!(sw(&mut c, SELECT_CARD_FACE), "9000");
        c
    };
    let reads = |c: &mut kazasu_sim::Card| {
        [1u8, 2, 3, 4, 5, 6].map(|sfi| sw(c, &format!("00 B0 {:02X} 00 01", 0x80 | sfi)) == "9000")
    };
    let mut c = fresh();
    assert_eq!(
        reads(&mut c),
        [false, false, true, true, false, false],
        "no key"
    );
    assert_eq!(
        verify_sfi(&mut c, 0x11, id.birth_era_yymmdd().expose()),
        "9000"
    );
    assert_eq!(
        reads(&mut c),
        [true, false, true, true, false, false],
        "birth date"
    );
    let mut c = fresh();
    assert_eq!(verify_sfi(&mut c, 0x12, id.check_code_b().expose()), "9000");
    assert_eq!(
        reads(&mut c),
        [false, true, true, true, false, true],
        "照合番号B"
    );
    let mut c = fresh();
    assert_eq!(verify_sfi(&mut c, 0x13, id.my_number.expose()), "9000");
    assert_eq!(
        reads(&mut c),
        [false, true, true, true, true, true],
        "照合番号A"
    );
    // VERIFY after SELECT of the key works too; counter queries answer 63 Cx.
    let mut c = fresh();
    assert_eq!(sw(&mut c, "00 20 00 93"), "63CA");
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 12"), "9000");
    assert_eq!(sw(&mut c, "00 20 00 80"), "63CA");
    assert_eq!(sw(&mut c, &verify_apdu("00000000000000")), "63C9");
    assert_eq!(sw(&mut c, &verify_apdu(id.check_code_b().expose())), "9000");
    assert_eq!(
        verify_sfi(&mut c, 0x11, "12345"),
        "6700",
        "the birth date is 6 digits"
    );
    // SET SESSION KEY 66 F1; INTERNAL AUTHENTICATE 69 85.
    assert_eq!(sw(&mut c, "80 AE 00 00 02 01 02"), "66F1");
    assert_eq!(sw(&mut c, "00 88 00 9A 02 01 02 00"), "6985");
    for phone in ["android-jpki", "iphone-jpki"] {
        assert_eq!(sw(&mut card(phone), SELECT_CARD_FACE), "6A82", "{phone}");
    }
}

/// JS's way (`00 B0 82 00 00 00 00`, the whole file in one answer) and JM's (`00 B0 00 00 07`,
/// then 256-byte chunks, the last with the exact Le) give the same bytes.
#[test]
fn whole_file_and_chunked_reads_agree() {
    let s = subject("suzuki-hanako");
    let mut c = card_for("mynumber-card", "suzuki-hanako");
    tx(&mut c, SELECT_CARD_FACE);
    assert_eq!(
        verify_sfi(&mut c, 0x13, s.identity.my_number.expose()),
        "9000"
    );
    let (whole, sw1) = tx(&mut c, "00 B0 82 00 00 00 00");
    assert_eq!(sw1.to_string(), "9000");
    assert!(whole.len() > 2_000, "{} bytes", whole.len());
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 02"), "9000");
    let (mut chunked, _) = tx(&mut c, "00 B0 00 00 07");
    let total = 5 + usize::from(u16::from_be_bytes([chunked[3], chunked[4]]));
    while chunked.len() < total {
        let left = (total - chunked.len()).min(256);
        let at = chunked.len();
        let (chunk, s) = tx(
            &mut c,
            &format!(
                "00 B0 {:02X} {:02X} {:02X}",
                at >> 8,
                at & 0xFF,
                left & 0xFF
            ),
        );
        assert_eq!(s.to_string(), "9000");
        chunked.extend(chunk);
    }
    assert_eq!(chunked, whole);
    let last = whole.len() - 3;
    let (tail, s) = tx(
        &mut c,
        &format!("00 B0 {:02X} {:02X} 00", last >> 8, last & 0xFF),
    );
    assert_eq!(
        (tail.len(), s.to_string().as_str()),
        (3, "9000"),
        "Le past the end"
    );
    for sfi in [0x84, 0x85, 0x81] {
        let (_, s) = tx(&mut c, &format!("00 B0 {sfi:02X} 00 00 00 00"));
        let want = if sfi == 0x81 { "6982" } else { "9000" };
        assert_eq!(s.to_string(), want, "SFI {sfi:02X}");
    }
}

/// The files' layouts and signatures: EF 0004 under the CA stand-in, EF 0001 / 0005 over the
/// TLVs before the signature and EF 0002 over three digests, all by the key EF 0004 certifies;
/// one card key in DF 12, DF 24 and DF 42 that signs with `80 2A 00 00` and no credential.
#[test]
fn layouts_and_signatures_verify() {
    let s = subject("tanaka-ichiro");
    let id = &s.identity;
    let mut c = card_for("mynumber-card", "tanaka-ichiro");
    tx(&mut c, SELECT_CARD_FACE);
    let cert = tx(&mut c, "00 B0 84 00 00 00 00").0;
    assert_eq!(cert.len(), 568);
    let body = &cert[10..307];
    assert_eq!(&body[..7], b"6000023");
    assert_eq!(&body[16..23], b"0110121", "<municipality>21");
    let ca = RsaPublicKey::from_public_key_pem(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/fixtures/pki/card-face-ca.pub.pem"
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(pkcs1(&ca, body, &cert[312..]), "EF 0004 by the CA");
    let signer = card_key(&body[32..]);

    let basic = tx(&mut c, "00 B0 83 00 00 00 00").0;
    assert_eq!(basic.len(), 320);
    let info = fields(&basic);
    let tags: Vec<u8> = info.iter().map(|f| f.0).collect();
    assert_eq!(tags, [0x31, 0x32, 0x33, 0x34, 0x35]);
    assert_eq!(info[3].2, id.municipality_code.as_bytes());
    assert_eq!(info[4].2.len(), 272);

    assert_eq!(verify_sfi(&mut c, 0x13, id.my_number.expose()), "9000");
    let face = tx(&mut c, "00 B0 82 00 00 00 00").0;
    let f = fields(&face);
    let tags: Vec<u8> = f.iter().map(|x| x.0).collect();
    assert_eq!(
        tags,
        [0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A]
    );
    let offsets: Vec<usize> = f[0]
        .2
        .chunks(2)
        .map(|o| usize::from(u16::from_be_bytes([o[0], o[1]])))
        .collect();
    let starts: Vec<usize> = f[1..].iter().map(|x| x.1).collect();
    assert_eq!(offsets, starts, "DF 21: offsets from the start of the file");
    assert_eq!(f[1].2, id.birth_yyyymmdd().as_bytes());
    assert_eq!(f[2].2, b"1");
    assert_eq!(
        f[8].2,
        id.card_expiry_yyyymmdd().as_bytes(),
        "DF 29 after DF 28"
    );
    let tlvs = |from: usize, to: usize| face[f[from].1..f[to].1].to_vec();
    let mut digest_info = card_face::THREE_DIGEST_INFO_PREFIX.to_vec();
    digest_info.extend(Sha256::digest(tlvs(1, 4)));
    digest_info.extend(Sha256::digest(tlvs(4, 6)));
    digest_info.extend(Sha256::digest(tlvs(6, 7)));
    signer
        .verify(Pkcs1v15Sign::new_unprefixed(), &digest_info, &f[7].2)
        .expect("DF 28: the three-digest DigestInfo");
    let key = card_key(&f[3].2);
    assert_ne!(key, signer);

    let image = tx(&mut c, "00 B0 85 00 00 00 00").0;
    let g = fields(&image);
    assert_eq!(
        g.iter().map(|x| x.0).collect::<Vec<_>>(),
        [0x41, 0x42, 0x43]
    );
    assert!(pkcs1(&signer, &image[5..g[2].1], &g[2].2), "EF 0005");
    assert_eq!(card_key(&g[1].2), key, "DF 42 = DF 24");

    let mut b = card_for("mynumber-card", "tanaka-ichiro");
    tx(&mut b, SELECT_CARD_FACE);
    assert_eq!(
        verify_sfi(&mut b, 0x11, id.birth_era_yymmdd().expose()),
        "9000"
    );
    let age = tx(&mut b, "00 B0 81 00 00 00 00").0;
    assert_eq!(age.len(), 547);
    let a = fields(&age);
    assert_eq!(a[0].2, id.birth_yyyymmdd().as_bytes());
    assert!(pkcs1(&signer, &age[5..a[2].1], &a[2].2), "EF 0001");
    assert_eq!(card_key(&a[1].2), key, "DF 12 = DF 24");

    // The card key signs a challenge's DigestInfo with no credential; it is not the card-info
    // AP's key.
    let mut fresh = card_for("mynumber-card", "tanaka-ichiro");
    tx(&mut fresh, SELECT_CARD_FACE);
    let challenge = tx(&mut fresh, "00 84 00 00 10").0;
    let (sig, s) = tx(
        &mut fresh,
        &format!("80 2A 00 00 33 {} 00", digest_info_hex(&challenge)),
    );
    assert_eq!(s.to_string(), "9000");
    assert!(pkcs1(&key, &challenge, &sig));
    tx(&mut fresh, SELECT_CARD_INFO);
    let (other, _) = tx(
        &mut fresh,
        &format!("80 2A 00 00 33 {} 00", digest_info_hex(&challenge)),
    );
    assert!(
        !pkcs1(&key, &challenge, &other),
        "another key in the card-info AP"
    );
}

/// Name, address, security code and My Number are 1-bit greyscale PNG images 12 pixels high
/// (decoded with the `png` crate); the photo is a JP2 file.
#[test]
fn images_decode_in_their_formats() {
    let s = subject("yamada-taro");
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_CARD_FACE);
    verify_sfi(&mut c, 0x13, s.identity.my_number.expose());
    let face = tx(&mut c, "00 B0 82 00 00 00 00").0;
    let f = fields(&face);
    let image = tx(&mut c, "00 B0 85 00 00 00 00").0;
    let pngs = [
        (0x25, &f[4].2),
        (0x26, &f[5].2),
        (0x2A, &f[9].2),
        (0x41, &fields(&image)[0].2),
    ];
    for (tag, png_bytes) in pngs {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes.as_slice()));
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(
            (info.color_type, info.bit_depth, info.height),
            (png::ColorType::Grayscale, png::BitDepth::One, 12),
            "DF {tag:02X}"
        );
        let mut rows = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut rows).unwrap();
        assert!(rows.iter().any(|b| *b != 0xFF), "DF {tag:02X} has ink");
    }
    let width = |p: &[u8]| u32::from_be_bytes([p[16], p[17], p[18], p[19]]);
    assert_eq!(width(&fields(&image)[0].2), 72, "12 digits of 6 pixels");
    assert_eq!(width(&f[9].2), 24, "4 digits");
    let photo = &f[6].2;
    assert_eq!(&photo[4..8], b"jP  ");
    assert_eq!(photo.len(), 1_854, "the test card's photo size");
}

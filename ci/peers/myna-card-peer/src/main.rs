//! Reads a served kazasu card the way the myna-card library reads a real one, through pcscd:
//! the JPKI certificates, a signature with every scheme the library offers (each checked by the
//! library against the certificate), the card-info AP's My Number with the PIN and with
//! 照合番号A, and the basic four facts with 照合番号B; the MF's data objects and certificate
//! chain, the 共通カードAP's record and INTERNAL AUTHENTICATE, and the 券面事項確認AP's
//! certificate, card face, My Number image and age record, each signature checked by the library
//! (the CA keys are the test PKI's stand-ins, given as moduli). Prints what it read; exits 1 on
//! the first thing that does not hold.
//!
//! Usage: myna-card-peer READER AUTH_PIN SIGN_PIN CARD_INFO_PIN CODE_A CODE_B BIRTH_KEY
//!        CARD_INFO_CA_MODULUS CARD_FACE_CA_MODULUS

use myna_card::ap::common::CommonAp;
use myna_card::ap::jpki::{JpkiAp, SignatureScheme};
use myna_card::ap::surface::SurfaceAp;
use myna_card::ap::text::{TextAp, ef};
use myna_card::transport::pcsc::{self, Sharing};
use myna_card::{MasterFile, Pin, Retries, RsaPublicKey};
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const SCHEMES: [SignatureScheme; 6] = [
    SignatureScheme::Verbatim,
    SignatureScheme::Sha256Bare,
    SignatureScheme::PreHashedDigestInfo,
    SignatureScheme::Sha256DigestInfo,
    SignatureScheme::PreHashedPss,
    SignatureScheme::Sha256Pss,
];

/// What each scheme is handed for one message.
fn input(scheme: SignatureScheme, message: &[u8]) -> Vec<u8> {
    let hash = Sha256::digest(message).to_vec();
    match scheme {
        SignatureScheme::Verbatim => {
            let mut di = vec![
                0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ];
            di.extend(hash);
            di
        }
        SignatureScheme::PreHashedDigestInfo | SignatureScheme::PreHashedPss => hash,
        _ => message.to_vec(),
    }
}

/// A CA stand-in's public key from its modulus in hex (exponent 65537).
fn ca_key(modulus_hex: &str) -> Result<RsaPublicKey> {
    let digits = modulus_hex.trim();
    let modulus = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map_err(|e| format!("not a modulus in hex: {e}"))?;
    Ok(RsaPublicKey {
        exponent: vec![0x01, 0x00, 0x01],
        modulus,
    })
}

fn check(what: &str, ok: bool) -> Result<()> {
    if ok {
        println!("ok   {what}");
        Ok(())
    } else {
        Err(format!("FAIL {what}").into())
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [
        reader,
        auth_pin,
        sign_pin,
        card_info_pin,
        code_a,
        code_b,
        birth_key,
        card_info_ca,
        card_face_ca,
    ] = args.as_slice()
    else {
        return Err("usage: myna-card-peer READER AUTH_PIN SIGN_PIN CARD_INFO_PIN CODE_A CODE_B \
             BIRTH_KEY CARD_INFO_CA_MODULUS CARD_FACE_CA_MODULUS"
            .into());
    };
    let (card_info_ca, card_face_ca) = (ca_key(card_info_ca)?, ca_key(card_face_ca)?);
    let mut card = pcsc::connect(reader, Sharing::Shared)?;
    let message = b"myna-card peer through pcscd";

    // At MF level: the contact ATR as the card stores it, its checksum checked by the library.
    let contact = card.contact_atr()?;
    check(
        &format!("contact ATR by GET DATA 5F 51: {contact:02X?}"),
        contact == [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14],
    )?;
    // The MF's data objects (the library's main example asks for 0045 first) and its chain.
    {
        let mut mf = MasterFile::new(&mut card);
        let id = mf.data_object(0x0045)?;
        check(
            &format!("MF 0045: card identification number of {} bytes", id.len()),
            !id.is_empty(),
        )?;
        let chain = mf.certificate_chain()?;
        check(
            "MF certificate chain: 00F8 and 7F21",
            chain.len() == 2 && chain[1].issuer_key_id == chain[0].subject_key_id,
        )?;
        check(
            "MF 7F21 verifies under the key 00F8 certifies",
            chain[1].verify_with(&chain[0].public_key).is_ok(),
        )?;
    }
    // The 共通カードAP: the record every マイナポータル login reads, and its own key.
    {
        let mut common = CommonAp::select(&mut card)?;
        let info = common.read_card_info()?;
        check(
            &format!(
                "共通カードAP record: municipality {}, expiry {}",
                info.municipality_code, info.expiry
            ),
            info.serial.len() == 15,
        )?;
        let signature = common.internal_authenticate(b"myna-card peer challenge")?;
        check(
            "共通カードAP INTERNAL AUTHENTICATE: 256 bytes",
            signature.len() == 256,
        )?;
        check(
            "共通カードAP PIN tries",
            common.pin_retries()? == Retries::Remaining(3),
        )?;
    }
    // The 券面事項確認AP: certificate under the CA stand-in, card face and My Number image with
    // 照合番号A, the age record with the birth-date key (after a power cycle).
    let face_key = {
        let mut surface = SurfaceAp::select(&mut card)?;
        let certificate = surface.read_certificate()?;
        check(
            "券面 EF 0004 verifies under the CA 6000023 stand-in",
            certificate.verify_with(&card_face_ca).is_ok(),
        )?;
        surface.verify_code_a(&Pin::numeric(code_a)?)?;
        let face = surface.read_card_face()?;
        check(
            &format!(
                "券面 card face: born {}, expires {}, photo {} bytes, signature verifies",
                face.birth_date,
                face.expiry,
                face.photo.data.len()
            ),
            face.verify(&certificate.public_key).is_ok(),
        )?;
        let image = surface.read_my_number_image()?;
        check(
            "券面 My Number image: signature verifies",
            image.verify(&certificate.public_key).is_ok(),
        )?;
        certificate.public_key
    };
    card.transport_mut().power_cycle()?;
    {
        let mut surface = SurfaceAp::select(&mut card)?;
        surface.verify_birth_date(&Pin::numeric(birth_key)?)?;
        let age = surface.read_age_record()?;
        check(
            "券面 age record with the birth-date key: signature verifies",
            age.verify(&face_key).is_ok(),
        )?;
    }

    {
        let mut jpki = JpkiAp::select(&mut card)?;
        let token = jpki.read_token_info()?;
        check(
            &format!("token info: {:?}, model {}", token.token_type, token.model),
            true,
        )?;
        let auth = jpki.read_auth_certificate()?;
        let auth_ca = jpki.read_auth_ca_certificate()?;
        check(
            &format!("auth certificate: {}", auth.subject()),
            auth.issuer() == auth_ca.subject(),
        )?;
        let sign_ca = jpki.read_sign_ca_certificate_der()?;
        check(
            &format!("sign CA certificate: {} bytes", sign_ca.len()),
            !sign_ca.is_empty(),
        )?;
        check(
            "auth PIN tries",
            jpki.auth_pin_retries()? == Retries::Remaining(3),
        )?;
        jpki.verify_auth_pin(&Pin::numeric(auth_pin)?)?;
        for scheme in SCHEMES {
            let sig = jpki.sign_with_auth_key_checked(scheme, &input(scheme, message))?;
            check(
                &format!("auth key, {scheme:?} (P1 {:02X}): verified", scheme.p1()),
                sig.len() == 256,
            )?;
        }
        jpki.verify_sign_pin(&Pin::new(sign_pin)?)?;
        let sign = jpki.read_sign_certificate()?;
        check(&format!("sign certificate: {}", sign.subject()), true)?;
        for scheme in SCHEMES {
            let sig = jpki.sign_with_sign_key_checked(scheme, &input(scheme, message))?;
            check(
                &format!("sign key, {scheme:?} (P1 {:02X}): verified", scheme.p1()),
                sig.len() == 256,
            )?;
        }
    }

    // The card-info AP, three times from a fresh power-up: with the PIN, with code A, with code B.
    card.transport_mut().power_cycle()?;
    let my_number = {
        let mut text = TextAp::select(&mut card)?;
        check(
            "key 0012 is issued blocked",
            text.retries(ef::BLOCKED_0012)? == Retries::Blocked,
        )?;
        text.verify_pin(&Pin::numeric(card_info_pin)?)?;
        let number = text.read_my_number()?;
        let attributes = text.read_attributes()?;
        println!(
            "     PIN: My Number read; {} / {} / {} / {:?}",
            attributes.name, attributes.address, attributes.birth_date, attributes.sex
        );
        check(
            "the name splits at U+3000",
            attributes.split_name().is_some(),
        )?;
        let integrity = text.read_integrity_record()?;
        let physical = text.read_my_number_file()?;
        let basic_four = text.read_ef(ef::ATTRIBUTES)?;
        check(
            "EF 0003's My Number digest matches",
            integrity.matches_my_number_file(&physical),
        )?;
        check(
            "EF 0003's basic-four digest matches",
            integrity.matches_attributes_file(&basic_four)?,
        )?;
        // EF 0004 certifies the municipality key under the CA 6000033 (kazasu's stand-in).
        let issuer = text.read_certificate()?;
        check(
            "EF 0004 verifies under the CA 6000033 stand-in",
            issuer.verify_with(&card_info_ca).is_ok(),
        )?;
        check(
            "EF 0003's issuer signature verifies",
            integrity.verify(&issuer.public_key).is_ok(),
        )?;
        let signed_key = text.read_signed_public_key()?;
        check(
            "EF 0007's signed AP key verifies",
            signed_key.verify(&issuer.public_key).is_ok(),
        )?;
        number
    };
    card.transport_mut().power_cycle()?;
    {
        let mut text = TextAp::select(&mut card)?;
        text.verify_code_a(&Pin::numeric(code_a)?)?;
        check(
            "照合番号A: the My Number",
            text.read_my_number()?.as_str() == my_number.as_str(),
        )?;
        check(
            "照合番号A: not the basic four",
            text.read_attributes().is_err(),
        )?;
    }
    card.transport_mut().power_cycle()?;
    {
        let mut text = TextAp::select(&mut card)?;
        text.verify_code_b(&Pin::numeric(code_b)?)?;
        let attributes = text.read_attributes()?;
        check(
            &format!("照合番号B: the basic four ({})", attributes.name),
            true,
        )?;
        check(
            "照合番号B: not the My Number",
            text.read_my_number().is_err(),
        )?;
    }
    println!("myna-card-peer: all checks held");
    Ok(())
}

//! Reads a served kazasu card the way the myna-card library reads a real one, through pcscd:
//! the JPKI certificates, a signature with every scheme the library offers (each checked by the
//! library against the certificate), the card-info AP's My Number with the PIN and with
//! 照合番号A, and the basic four facts with 照合番号B. Prints what it read; exits 1 on the first
//! thing that does not hold.
//!
//! Usage: myna-card-peer READER AUTH_PIN SIGN_PIN CARD_INFO_PIN CODE_A CODE_B

use myna_card::ap::jpki::{JpkiAp, SignatureScheme};
use myna_card::ap::text::{TextAp, ef};
use myna_card::transport::pcsc::{self, Sharing};
use myna_card::{Pin, Retries};
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
    let [reader, auth_pin, sign_pin, card_info_pin, code_a, code_b] = args.as_slice() else {
        return Err(
            "usage: myna-card-peer READER AUTH_PIN SIGN_PIN CARD_INFO_PIN CODE_A CODE_B".into(),
        );
    };
    let mut card = pcsc::connect(reader, Sharing::Shared)?;
    let message = b"myna-card peer through pcscd";

    // At MF level: the contact ATR as the card stores it, its checksum checked by the library.
    let contact = card.contact_atr()?;
    check(
        &format!("contact ATR by GET DATA 5F 51: {contact:02X?}"),
        contact == [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14],
    )?;

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
        // The issuer key certified in EF 0004 (kazasu's test issuer certifies itself).
        let issuer = text.read_certificate()?;
        check(
            "EF 0004 parses and its signature verifies",
            issuer.verify_with(&issuer.public_key).is_ok(),
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

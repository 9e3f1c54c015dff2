//! The JPKI auth flow (select, verify where needed, read 000A whole, sign a SHA-256
//! DigestInfo) on each profile, with the signature checked by an independent verifier
//! (RustCrypto `rsa` + `x509-parser`) over the certificate read from the card.

use kazasu::host::flows::{self, Host, ReadMode};
use kazasu::link::transport::DirectCard;
use kazasu_sim::platform::profile::Device;
use kazasu_sim::{Card, CardProfile, Fixtures};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::sync::Arc;

fn independent_verify(cert_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).expect("X.509 certificate");
    let key = RsaPublicKey::from_public_key_der(cert.public_key().raw).expect("RSA key");
    key.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(message),
        signature,
    )
    .is_ok()
}

fn direct(profile: &str, identity: &str) -> DirectCard {
    let profile = Arc::new(CardProfile::builtin(profile).unwrap());
    let subject = Fixtures::embedded().subject(identity).unwrap();
    DirectCard::new(Card::new(profile, subject, 42).unwrap())
}

fn auth_flow(
    profile: &str,
    identity: &str,
    mode: ReadMode,
) -> (flows::AuthFlowOutput, kazasu::record::Transcript) {
    let mut d = direct(profile, identity);
    let device = d.card.profile().device;
    if device == Device::Iphone {
        assert!(d.approve(), "the iPhone approval comes before the tap");
    }
    d.tap();
    let pin = d.card.subject().identity.pins.auth.clone();
    let mut host = Host::new(&mut d);
    let out =
        flows::jpki_auth_flow(&mut host, device, &pin, b"server challenge 0001", mode).unwrap();
    (out, host.transcript)
}

#[test]
fn auth_flow_completes_on_every_profile_with_independently_verified_signatures() {
    for profile in ["mynumber-card", "android-jpki", "iphone-jpki"] {
        for identity in Fixtures::embedded().ids() {
            let (out, transcript) = auth_flow(profile, identity, ReadMode::Chunked);
            let subject = Fixtures::embedded().subject(identity).unwrap();
            let device = CardProfile::builtin(profile).unwrap().device;
            let expected = kazasu_sim::applets::jpki::keys_of(&subject, device).auth_cert;
            assert_eq!(
                out.certificate, expected,
                "{profile}/{identity}: whole certificate read"
            );
            assert_eq!(out.signature.len(), 256);
            assert!(
                independent_verify(&out.certificate, b"server challenge 0001", &out.signature),
                "{profile}/{identity}: signature verifies"
            );
            assert!(!independent_verify(
                &out.certificate,
                b"server challenge 0002",
                &out.signature
            ));
            assert!(
                transcript
                    .entries
                    .iter()
                    .all(|e| e.sw == Some(kazasu_sim::StatusWord::OK)),
                "{profile}: {transcript}"
            );
        }
    }
}

#[test]
fn the_physical_card_reads_its_certificate_with_one_extended_read() {
    let (out, transcript) = auth_flow("mynumber-card", "yamada-taro", ReadMode::Extended);
    let reads: Vec<_> = transcript
        .entries
        .iter()
        .filter(|e| e.command.cla_ins() == Some([0x00, 0xB0]))
        .collect();
    assert_eq!(reads.len(), 2, "header + one extended read: {transcript}");
    assert!(
        reads[1].command.to_string().starts_with("00 B0 00 04 00 "),
        "{}",
        reads[1].command
    );
    assert!(independent_verify(
        &out.certificate,
        b"server challenge 0001",
        &out.signature
    ));
}

#[test]
fn the_flow_order_follows_the_device() {
    let order = |profile| -> Vec<String> {
        auth_flow(profile, "yamada-taro", ReadMode::Chunked)
            .1
            .entries
            .into_iter()
            .map(|e| e.command.to_string())
            .collect()
    };
    let android = order("android-jpki");
    let verify_at = android.iter().position(|c| c.starts_with("00 20")).unwrap();
    let read_at = android.iter().position(|c| c.starts_with("00 B0")).unwrap();
    assert!(verify_at < read_at, "Android: PIN first");
    let card = order("mynumber-card");
    let verify_at = card.iter().position(|c| c.starts_with("00 20")).unwrap();
    let read_at = card.iter().position(|c| c.starts_with("00 B0")).unwrap();
    assert!(read_at < verify_at, "card: read, then verify");
    let iphone = order("iphone-jpki");
    assert!(
        iphone.iter().all(|c| !c.starts_with("00 20")),
        "iPhone: no VERIFY"
    );
    assert_eq!(
        iphone.last().unwrap(),
        "80 FC 00 00",
        "iPhone: last-command indicator"
    );
}

#[test]
fn transcripts_never_show_the_pin() {
    for identity in Fixtures::embedded().ids() {
        let pin = Fixtures::embedded()
            .subject(identity)
            .unwrap()
            .identity
            .pins
            .auth
            .expose()
            .clone();
        let (_, transcript) = auth_flow("android-jpki", identity, ReadMode::Chunked);
        let text = transcript.to_string();
        let pin_hex = kazasu_sim::hex_spaced(pin.as_bytes());
        // Commands only: a PIN such as 0000 (30 30 30 30) also occurs in certificate data, e.g.
        // in a UTCTime "250401000000Z", which the transcript rightly shows.
        for line in text.lines().filter(|l| l.starts_with('>')) {
            assert!(!line.contains(&pin_hex), "{identity}: {line}");
        }
        assert!(text.contains("00 20 00 80 04 ** ** ** **"), "{text}");
    }
}

#[test]
fn android_flow_transcript_snapshot() {
    let (_, transcript) = auth_flow("android-jpki", "yamada-taro", ReadMode::Chunked);
    insta::assert_snapshot!("android_auth_flow_transcript", transcript.to_string());
}

#[test]
fn android_refuses_the_certificate_without_the_pin() {
    let mut d = direct("android-jpki", "yamada-taro");
    d.tap();
    let mut host = Host::new(&mut d);
    host.select_jpki().unwrap();
    host.select_ef(kazasu_sim::applets::jpki::ef::AUTH_CERT)
        .unwrap();
    let err = host
        .read_current_der(ReadMode::Chunked)
        .unwrap_err()
        .to_string();
    assert!(err.contains("6982"), "{err}");
}

fn reader_flow(
    card: &str,
    reader: &str,
) -> (
    flows::AuthFlowOutput,
    kazasu::record::Transcript,
    kazasu_sim::Reader,
) {
    use rand_core::SeedableRng;
    let profile = Arc::new(CardProfile::builtin(card).unwrap());
    let c = Card::new(profile.clone(), Fixtures::embedded().default_subject(), 42).unwrap();
    let mut r = kazasu_sim::Reader::new(
        Arc::new(kazasu_sim::ReaderProfile::builtin(reader).unwrap()),
        c,
        kazasu_sim::FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(42)),
    );
    if profile.approval.is_some() {
        r.approve();
    }
    r.tap().unwrap();
    let pin = r.card().subject().identity.pins.auth.clone();
    let mut host = Host::new(&mut r);
    let out = flows::jpki_auth_flow(
        &mut host,
        profile.device,
        &pin,
        b"server challenge 0001",
        ReadMode::Chunked,
    )
    .unwrap();
    let transcript = host.transcript;
    (out, transcript, r)
}

#[test]
fn auth_flow_through_every_reader_profile() {
    for card in ["mynumber-card", "android-jpki", "iphone-jpki"] {
        for reader in ["basic-106k", "typical-424k", "fast-848k"] {
            let (out, transcript, _) = reader_flow(card, reader);
            assert!(
                independent_verify(&out.certificate, b"server challenge 0001", &out.signature),
                "{card} on {reader}"
            );
            assert!(
                transcript.entries.iter().all(|e| !e.frames.is_empty()),
                "{card} on {reader}: frames logged"
            );
        }
    }
    // Faster readers finish sooner.
    let total = |reader| reader_flow("mynumber-card", reader).1.total();
    assert!(total("basic-106k") > total("typical-424k"));
    assert!(total("typical-424k") > total("fast-848k"));
}

#[test]
fn android_flow_at_typical_424k_is_traceable_frame_by_frame() {
    let (_, transcript, r) = reader_flow("android-jpki", "typical-424k");
    let overhead = r.profile().host_overhead.value.0.as_nanos();
    for e in &transcript.entries {
        let first = e.frames.first().unwrap().start;
        let last = e.frames.last().unwrap().end;
        // Every nanosecond of an exchange is the host overhead or the span of its frames.
        assert_eq!(
            e.duration_ns,
            overhead + last.since(first).as_nanos(),
            "{}",
            e.command
        );
        for w in e.frames.windows(2) {
            assert!(
                w[0].end <= w[1].start,
                "frames do not overlap: {} then {}",
                w[0],
                w[1]
            );
        }
    }
    insta::assert_snapshot!(
        "android_auth_flow_frames_typical_424k",
        format!("{transcript:#}")
    );
}

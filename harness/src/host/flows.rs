//! Host-side JPKI flows: what eligibility-check software sends to a card or phone — select,
//! verify, read a whole certificate, sign a DigestInfo — and the whole auth flow per device.

pub use super::apdu;
pub use super::apdu::OffsetTooFar;
use super::read::FileRead;
pub use super::read::{NoDerLength, der_total_length};
use crate::link::transport::{Transport, TransportError};
use crate::record::{Event, Transcript};
use kazasu_sim::platform::profile::Device;
use kazasu_sim::{Command, Response, Secret, SimDuration, StatusWord, applets::jpki};

/// A flow step did not go as a conforming card would make it go.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The transport failed.
    #[error("{step}: {source}")]
    Transport {
        /// The step.
        step: String,
        /// Why.
        source: TransportError,
    },
    /// The card answered with an unexpected status word.
    #[error("{step}: expected 9000, card answered {sw:?}")]
    Status {
        /// The step.
        step: String,
        /// What the card said.
        sw: StatusWord,
    },
    /// The card's answer is malformed.
    #[error("{step}: {message}")]
    Malformed {
        /// The step.
        step: String,
        /// What is wrong.
        message: String,
    },
}

/// A certificate that cannot be read to check a signature with.
#[derive(Debug, thiserror::Error)]
#[error("the certificate is not X.509: {0}")]
pub struct NotACertificate(#[from] openssl::error::ErrorStack);

/// How to read a whole file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Short READ BINARY commands of at most 256 bytes.
    Chunked,
    /// The header first, then the rest in one extended-Le READ BINARY.
    Extended,
}

/// The DER prefix of a SHA-256 DigestInfo.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// A SHA-256 DigestInfo over `data`.
pub fn digest_info_sha256(data: &[u8]) -> Vec<u8> {
    let mut v = SHA256_DIGEST_INFO_PREFIX.to_vec();
    v.extend_from_slice(&openssl::sha::sha256(data));
    v
}

/// What a card did with one command.
#[derive(Debug)]
pub enum Answer {
    /// It answered, with any status word.
    Response(Response),
    /// No answer: the link failed (no card, the card left, no answer in time, …).
    Lost(TransportError),
    /// Bytes without a status word (fewer than 2).
    Malformed(Vec<u8>),
}

/// A host talking to one card through a transport, keeping a redacted transcript.
pub struct Host<'t, T: Transport + ?Sized> {
    transport: &'t mut T,
    /// What was exchanged so far.
    pub transcript: Transcript,
}

impl<'t, T: Transport + ?Sized> Host<'t, T> {
    /// A host on `transport`.
    pub fn new(transport: &'t mut T) -> Self {
        Host {
            transport,
            transcript: Transcript::default(),
        }
    }

    /// The transport, e.g. to approve on a phone between steps.
    pub fn transport(&mut self) -> &mut T {
        self.transport
    }

    /// Sends raw bytes and gives whatever came back — any status word, a link failure or bytes
    /// without a status word —, recording it (the command's data hidden when `secret`, and
    /// always for a VERIFY).
    pub fn exchange(&mut self, apdu: &[u8], secret: bool) -> Answer {
        match self.transport.transmit(apdu) {
            Ok(ex) => {
                let frames = self.transport.last_frames();
                let Ok(r) = Response::parse(&ex.response) else {
                    let event = Event::Malformed {
                        response: ex.response.clone(),
                    };
                    self.transcript.record_event(event, ex.duration, &frames);
                    return Answer::Malformed(ex.response);
                };
                self.transcript
                    .record_with(apdu, secret, &r.data, r.sw, ex.duration, &frames);
                Answer::Response(r)
            }
            Err(e) => {
                let frames = self.transport.last_frames();
                let took = match (frames.first(), frames.last()) {
                    (Some(a), Some(b)) => b.end.since(a.start),
                    _ => SimDuration::ZERO,
                };
                self.transcript
                    .record_error(apdu, secret, &e, took, &frames);
                Answer::Lost(e)
            }
        }
    }

    /// Sends raw bytes and returns the response, whatever its status; no answer is an error.
    pub fn send(&mut self, step: &str, apdu: &[u8]) -> Result<Response, FlowError> {
        match self.exchange(apdu, false) {
            Answer::Response(r) => Ok(r),
            Answer::Lost(source) => Err(FlowError::Transport {
                step: step.to_string(),
                source,
            }),
            Answer::Malformed(bytes) => Err(FlowError::Malformed {
                step: step.to_string(),
                message: Response::parse(&bytes)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            }),
        }
    }

    /// Sends a command and requires 90 00.
    pub fn send_ok(&mut self, step: &str, cmd: Command<'_>) -> Result<Vec<u8>, FlowError> {
        let bytes = cmd.to_vec().map_err(|e| FlowError::Malformed {
            step: step.to_string(),
            message: e.to_string(),
        })?;
        let r = self.send(step, &bytes)?;
        if r.sw.is_ok() {
            Ok(r.data)
        } else {
            Err(FlowError::Status {
                step: step.to_string(),
                sw: r.sw,
            })
        }
    }

    /// SELECT an application by AID (`00 A4 04 0C`).
    pub fn select_aid(&mut self, aid: &[u8]) -> Result<(), FlowError> {
        self.send_ok("select application", apdu::select_aid(aid, 0x0C))
            .map(drop)
    }

    /// SELECT the JPKI AP.
    pub fn select_jpki(&mut self) -> Result<(), FlowError> {
        self.select_aid(&jpki::AID)
    }

    /// SELECT an elementary file (`00 A4 02 0C 02 FID`).
    pub fn select_ef(&mut self, fid: u16) -> Result<(), FlowError> {
        let f = fid.to_be_bytes();
        self.send_ok(&format!("select EF {fid:04X}"), apdu::select_ef(&f))
            .map(drop)
    }

    /// SELECT the PIN EF and VERIFY it.
    pub fn verify(&mut self, pin_fid: u16, pin: &Secret<String>) -> Result<(), FlowError> {
        self.select_ef(pin_fid)?;
        let data = pin.expose().as_bytes();
        self.send_ok(&format!("verify PIN {pin_fid:04X}"), apdu::verify(data))
            .map(drop)
    }

    /// Reads the whole current EF, sized by its DER header; anything but 90 00 with data is an
    /// error.
    pub fn read_current_der(&mut self, mode: ReadMode) -> Result<Vec<u8>, FlowError> {
        let step = |offset: usize| match offset {
            0 => "read header".to_string(),
            _ => format!("read at {offset}"),
        };
        let read = super::read::read_whole(
            apdu::read_header(None),
            mode == ReadMode::Extended,
            |offset, cmd| self.send_ok(&step(offset), cmd),
        );
        let malformed = |offset: usize, message: String| FlowError::Malformed {
            step: step(offset),
            message,
        };
        match read {
            FileRead::Whole(data) => Ok(data),
            FileRead::Stopped { at, .. } => Err(at),
            FileRead::NoHeader(e) => Err(malformed(0, e.to_string())),
            FileRead::Empty { data } => Err(malformed(
                data.len(),
                "the card returned no data before the end of the file".into(),
            )),
            FileRead::TooFar { reason, .. } => Err(malformed(reason.0, reason.to_string())),
        }
    }

    /// SELECT the key EF and COMPUTE DIGITAL SIGNATURE over `digest_info`.
    pub fn sign(&mut self, key_fid: u16, digest_info: &[u8]) -> Result<Vec<u8>, FlowError> {
        self.select_ef(key_fid)?;
        self.send_ok("compute digital signature", apdu::sign(digest_info))
    }
}

/// What the eligibility-check read produced.
#[derive(Debug)]
pub struct AuthFlowOutput {
    /// The authentication certificate read from the card (DER).
    pub certificate: Vec<u8>,
    /// The DigestInfo that was signed.
    pub digest_info: Vec<u8>,
    /// The card's signature.
    pub signature: Vec<u8>,
}

/// The eligibility-check (オンライン資格確認) read, in the order the device needs:
/// card: read the certificate, then verify; Android: PIN first; iPhone: the approval comes
/// before the tap (the caller approves), no PIN, and the last-command indicator at the end.
pub fn jpki_auth_flow<T: Transport + ?Sized>(
    host: &mut Host<'_, T>,
    device: Device,
    auth_pin: &Secret<String>,
    nonce: &[u8],
    mode: ReadMode,
) -> Result<AuthFlowOutput, FlowError> {
    let digest_info = digest_info_sha256(nonce);
    host.select_jpki()?;
    let certificate = match device {
        Device::Android => {
            host.verify(jpki::ef::AUTH_PIN, auth_pin)?;
            host.select_ef(jpki::ef::AUTH_CERT)?;
            host.read_current_der(mode)?
        }
        Device::Card | Device::TestCard => {
            host.select_ef(jpki::ef::AUTH_CERT)?;
            let cert = host.read_current_der(mode)?;
            host.verify(jpki::ef::AUTH_PIN, auth_pin)?;
            cert
        }
        Device::Iphone => {
            host.select_ef(jpki::ef::AUTH_CERT)?;
            host.read_current_der(mode)?
        }
    };
    let signature = host.sign(jpki::ef::AUTH_KEY, &digest_info)?;
    if device == Device::Iphone {
        host.send_ok(
            "last-command indicator",
            Command::new(0x80, 0xFC, 0x00, 0x00),
        )?;
    }
    Ok(AuthFlowOutput {
        certificate,
        digest_info,
        signature,
    })
}

/// Whether `signature` is an RSA PKCS#1 v1.5 signature over SHA-256(`message`) by the key of the
/// X.509 certificate `cert_der`: the one check of a card's signature that the runner and the
/// onboarding commissioning share. `Err` when the certificate cannot be read.
pub fn signature_verifies(
    cert_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<bool, NotACertificate> {
    let cert = openssl::x509::X509::from_der(cert_der)?;
    let key = cert.public_key()?;
    let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)?;
    v.update(message)?;
    // A signature of the wrong length or form is an error to openssl and a non-match here.
    Ok(v.verify(signature).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::transport::DirectCard;
    use kazasu_sim::{Card, CardProfile, Fixtures};
    use std::sync::Arc;

    fn card(profile: &str) -> (DirectCard, Secret<String>) {
        let subject = Fixtures::embedded().default_subject();
        let pin = subject.identity.pins.auth.clone();
        let profile = Arc::new(CardProfile::builtin(profile).expect("built-in"));
        let mut card = DirectCard::new(Card::new(profile, subject, 1).expect("card"));
        card.tap();
        (card, pin)
    }

    #[test]
    fn the_auth_flow_signs_a_nonce_the_certificate_read_verifies_on_every_device() {
        for (profile, device) in [
            ("mynumber-card", Device::Card),
            ("android-jpki", Device::Android),
            ("iphone-jpki", Device::Iphone),
        ] {
            let (mut card, pin) = card(profile);
            if device == Device::Iphone {
                assert!(card.approve(), "the iPhone's approval");
            }
            let extended = card.card.profile().extended_apdus.value;
            for mode in [ReadMode::Chunked, ReadMode::Extended] {
                if mode == ReadMode::Extended && !extended {
                    continue; // the device refuses extended APDUs (67 00)
                }
                let mut host = Host::new(&mut card);
                let out = jpki_auth_flow(&mut host, device, &pin, b"nonce", mode)
                    .unwrap_or_else(|e| panic!("{profile} {mode:?}: {e}"));
                assert_eq!(out.digest_info, digest_info_sha256(b"nonce"));
                assert!(
                    signature_verifies(&out.certificate, b"nonce", &out.signature).expect("X.509"),
                    "{profile} {mode:?}"
                );
                assert!(!signature_verifies(&out.certificate, b"other", &out.signature).unwrap());
                let shown = format!("{:#}", host.transcript);
                assert!(
                    !shown.contains(&hex::encode_upper(pin.expose().as_bytes())),
                    "the PIN is never in the transcript: {shown}"
                );
                if device == Device::Iphone {
                    break; // one approval, one signature
                }
            }
        }
    }

    #[test]
    fn the_strict_helpers_fail_on_the_step_and_status_the_card_refused_with() {
        let (mut card, pin) = card("mynumber-card");
        let mut host = Host::new(&mut card);
        // No application selected: the certificate EF is not found.
        match host.select_ef(jpki::ef::AUTH_CERT) {
            Err(FlowError::Status { step, sw }) => {
                assert_eq!(
                    (step.as_str(), sw),
                    ("select EF 000A", StatusWord::FILE_NOT_FOUND)
                );
            }
            other => panic!("{other:?}"),
        }
        host.select_jpki().expect("select");
        let wrong = Secret::new("9999".to_string());
        match host.verify(jpki::ef::AUTH_PIN, &wrong) {
            Err(FlowError::Status { sw, .. }) => assert_eq!(sw.tries_left(), Some(2)),
            other => panic!("{other:?}"),
        }
        host.verify(jpki::ef::AUTH_PIN, &pin)
            .expect("the right PIN");
    }

    #[test]
    fn exchange_gives_a_lost_link_as_an_answer_and_records_it() {
        let (mut card, _) = card("mynumber-card");
        card.remove();
        let mut host = Host::new(&mut card);
        let answer = host.exchange(&[0x00, 0xA4, 0x04, 0x0C], false);
        assert!(matches!(answer, Answer::Lost(_)), "{answer:?}");
        assert_eq!(
            host.transcript.entries.len(),
            1,
            "the failed exchange is recorded"
        );
        assert!(matches!(
            host.send("select", &[0x00, 0xA4, 0x04, 0x0C]),
            Err(FlowError::Transport { .. })
        ));
    }
}

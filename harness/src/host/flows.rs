//! Host-side JPKI flows: what eligibility-check software sends to a card or phone — select,
//! verify, read a whole certificate, sign a DigestInfo — and the whole auth flow per device.

use crate::link::transport::{Transport, TransportError};
use crate::record::Transcript;
use kazasu_sim::platform::profile::Device;
use kazasu_sim::{Command, Response, Secret, StatusWord, applets::jpki};

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

/// A header with no DER length in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no DER length in header {}", kazasu_sim::hex_spaced(.0))]
pub struct NoDerLength(pub Vec<u8>);

/// An offset READ BINARY cannot reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("READ BINARY cannot reach offset {0} (offsets have 15 bits: at most 32,767)")]
pub struct OffsetTooFar(pub usize);

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

/// The length of a DER object from its first bytes (tag, length), or why it cannot be known.
pub fn der_total_length(header: &[u8]) -> Result<usize, NoDerLength> {
    match header {
        [_, len @ 0..=0x7F, ..] => Ok(2 + usize::from(*len)),
        [_, 0x81, l, ..] => Ok(3 + usize::from(*l)),
        [_, 0x82, h, l, ..] => Ok(4 + usize::from(u16::from_be_bytes([*h, *l]))),
        [_, 0x83, a, b, c, ..] => {
            Ok(5 + (usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c)))
        }
        _ => Err(NoDerLength(header.to_vec())),
    }
}

/// The commands of the JPKI and card-info flows, built in one place: the host flows below and the
/// runner's card steps both send these.
pub mod apdu {
    use kazasu_sim::Command;

    /// SELECT an application by AID: `00 A4 04 P2` (P2 `0C`: no answer data; `00`: FCI).
    pub fn select_aid(aid: &[u8], p2: u8) -> Command<'_> {
        Command::new(0x00, 0xA4, 0x04, p2).with_data(aid)
    }

    /// SELECT an elementary file: `00 A4 02 0C 02 FID`.
    pub fn select_ef(fid: &[u8; 2]) -> Command<'_> {
        Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid)
    }

    /// VERIFY the selected PIN: `00 20 00 80 Lc PIN`.
    pub fn verify(pin: &[u8]) -> Command<'_> {
        Command::new(0x00, 0x20, 0x00, 0x80).with_data(pin)
    }

    /// The retry-counter query: VERIFY without data, `00 20 00 80`.
    pub fn retry_counter() -> Command<'static> {
        Command::new(0x00, 0x20, 0x00, 0x80)
    }

    /// The first 4 bytes of a file (its DER header): of the selected EF (`00 B0 00 00 04`), or
    /// by short EF id without a SELECT (`00 B0 8s 00 04`).
    pub fn read_header(sfi: Option<u8>) -> Command<'static> {
        match sfi {
            Some(sfi) => Command::new(0x00, 0xB0, 0x80 | (sfi & 0x1F), 0x00).with_le(4),
            None => Command::new(0x00, 0xB0, 0x00, 0x00).with_le(4),
        }
    }

    /// READ BINARY of `len` bytes at `offset` (short: at most 256; extended: up to 65,536). The
    /// offset has 15 bits: past 32,767 there is no such command, and this says so.
    pub fn read_at(
        offset: usize,
        len: usize,
        extended: bool,
    ) -> Result<Command<'static>, super::OffsetTooFar> {
        let [hi, lo] = u16::try_from(offset)
            .ok()
            .filter(|o| *o <= 0x7FFF)
            .ok_or(super::OffsetTooFar(offset))?
            .to_be_bytes();
        let cmd = Command::new(0x00, 0xB0, hi, lo);
        Ok(if extended {
            cmd.with_le(len.min(65_536) as u32).extended()
        } else {
            cmd.with_le(len.min(256) as u32)
        })
    }

    /// COMPUTE DIGITAL SIGNATURE over a DigestInfo with the selected key: `80 2A 00 80 Lc DI 00`.
    pub fn sign(digest_info: &[u8]) -> Command<'_> {
        Command::new(0x80, 0x2A, 0x00, 0x80)
            .with_data(digest_info)
            .with_le(256)
    }
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

    /// Sends raw bytes and returns the response, whatever its status.
    pub fn send(&mut self, step: &str, apdu: &[u8]) -> Result<Response, FlowError> {
        let ex = self
            .transport
            .transmit(apdu)
            .map_err(|source| FlowError::Transport {
                step: step.to_string(),
                source,
            })?;
        let r = Response::parse(&ex.response).map_err(|e| FlowError::Malformed {
            step: step.to_string(),
            message: e.to_string(),
        })?;
        self.transcript.record(
            apdu,
            &r.data,
            r.sw,
            ex.duration,
            &self.transport.last_frames(),
        );
        Ok(r)
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

    /// Reads the whole current EF, sized by its DER header.
    pub fn read_current_der(&mut self, mode: ReadMode) -> Result<Vec<u8>, FlowError> {
        let mut data = self.send_ok("read header", apdu::read_header(None))?;
        let total = der_total_length(&data).map_err(|e| FlowError::Malformed {
            step: "read header".into(),
            message: e.to_string(),
        })?;
        while data.len() < total {
            let offset = data.len();
            let remaining = total - offset;
            let cmd =
                apdu::read_at(offset, remaining, mode == ReadMode::Extended).map_err(|e| {
                    FlowError::Malformed {
                        step: format!("read at {offset}"),
                        message: e.to_string(),
                    }
                })?;
            let chunk = self.send_ok(&format!("read at {offset}"), cmd)?;
            if chunk.is_empty() {
                return Err(FlowError::Malformed {
                    step: format!("read at {offset}"),
                    message: "the card returned no data before the end of the file".into(),
                });
            }
            data.extend_from_slice(&chunk);
        }
        data.truncate(total);
        Ok(data)
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

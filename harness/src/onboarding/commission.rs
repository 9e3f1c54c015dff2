//! Commissioning: the onboarding ends with the bought reader's first read — the eligibility-check
//! flow through the ordered product's reader, the signature checked against the certificate.
//! One read, two callers: the served service reads a virtual Android phone through the ordered
//! reader profile ([`first_read`]); the runner reads the case's own card through the case's own
//! reader, with its faults and PIN ([`read_through`]).

use crate::host::flows::{self, Host, NotACertificate, ReadMode};
use crate::link::backend::Backend;
use crate::record::{Event, Transcript};
use kazasu_sim::platform::profile::Device;
use kazasu_sim::{Card, FaultPlan, Fixtures, Reader, Secret};
use rand_core::SeedableRng;
use std::sync::Arc;

/// What commissioning's first read came to, as the service records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The phone was read and its signature verified: how.
    Passed(String),
    /// Why the read failed, as it would at a counter.
    Failed(String),
}

/// What the served service's phone signs at commissioning.
const COMMISSIONING_CHALLENGE: &[u8] = b"commissioning";

/// The first read through `reader`: tap, the eligibility-check read of `device` with `pin`, the
/// signature over `challenge` checked against the certificate read, removal; `Err` is a
/// certificate that cannot be read as X.509. Every exchange goes to `transcript`.
pub fn read_through(
    reader: &mut dyn Backend,
    transcript: &mut Transcript,
    device: Device,
    pin: &Secret<String>,
    challenge: &[u8],
    reader_name: &str,
) -> Result<ReadOutcome, NotACertificate> {
    let start = reader.now();
    if device == Device::Iphone {
        reader.approve();
    }
    let tap = reader.tap();
    let what = match &tap {
        Ok(()) => Event::CommissionTap {
            reader: reader_name.to_string(),
        },
        Err(e) => Event::CommissionTapFailed(*e),
    };
    transcript.record_event(what, reader.now().since(start), &reader.last_frames());
    if let Err(e) = tap {
        return Ok(ReadOutcome::Failed(format!(
            "the phone was not detected: {e}"
        )));
    }
    let mut host = Host::new(reader);
    let result = flows::jpki_auth_flow(&mut host, device, pin, challenge, ReadMode::Chunked);
    transcript.extend(std::mem::take(&mut host.transcript));
    // Whatever the outcome, the phone then leaves the reader (a failed read is held again).
    reader.remove();
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            return Ok(ReadOutcome::Failed(format!("the first read failed: {e}")));
        }
    };
    if !flows::signature_verifies(&out.certificate, challenge, &out.signature)? {
        return Ok(ReadOutcome::Failed(
            "the phone's signature does not verify with its certificate".into(),
        ));
    }
    let who = match device {
        Device::Android => "an Android phone",
        Device::Iphone => "an iPhone",
        Device::Card => "a My Number card",
        Device::TestCard => "a test card",
    };
    Ok(ReadOutcome::Passed(format!(
        "{who} was read through {reader_name} in {} (simulated): certificate read, RSA-2048 signature verified",
        reader.now().since(start)
    )))
}

/// The served service's first read: a virtual Android phone through `reader_profile`.
pub fn first_read(reader_profile: &str, seed: u64) -> ReadOutcome {
    let reader = match crate::profiles::reader_profile(reader_profile, None) {
        Ok(r) => Arc::new(r),
        Err(why) => return ReadOutcome::Failed(why.to_string()),
    };
    let phone = match crate::profiles::card_profile("android-jpki", None) {
        Ok(p) => Arc::new(p),
        Err(why) => return ReadOutcome::Failed(why.to_string()),
    };
    let subject = Fixtures::embedded().default_subject();
    let pin = subject.identity.pins.auth.clone();
    let card = match Card::new(phone, subject, seed) {
        Ok(c) => c,
        Err(e) => return ReadOutcome::Failed(e.to_string()),
    };
    let mut r = Reader::new(
        reader,
        card,
        FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
    );
    let mut transcript = Transcript::default();
    read_through(
        &mut r,
        &mut transcript,
        Device::Android,
        &pin,
        COMMISSIONING_CHALLENGE,
        reader_profile,
    )
    .unwrap_or_else(|e| ReadOutcome::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_reader_reads_a_phone() {
        for (name, _) in kazasu_sim::reader::profile::BUILTIN_READER_PROFILES {
            let d = super::first_read(name, 1);
            assert!(
                matches!(&d, super::ReadOutcome::Passed(how) if how.contains("signature verified")),
                "{d:?}"
            );
        }
        assert!(matches!(
            super::first_read("no-such-reader", 1),
            super::ReadOutcome::Failed(_)
        ));
    }
}

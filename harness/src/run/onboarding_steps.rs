//! The onboarding steps: the case's session with the service (in-process or `--target`), and
//! commissioning's first read through the case's own card and reader.

use super::error::StepError;
use super::world::{StepOutcome, World, expand_text, lookup_secret};
use crate::link::backend::Backend;
use crate::onboarding::commission::ReadOutcome;
use crate::record::{Event, Transcript};
use crate::scenario::{Mismatch, OnboardingAction, OnboardingStep};
use kazasu_sim::platform::profile::Device;
use kazasu_sim::{Secret, SimDuration};
use rand_core::RngCore;

impl World {
    pub(super) fn onboarding_step(
        &mut self,
        step: &OnboardingStep,
    ) -> Result<StepOutcome, StepError> {
        use crate::onboarding::client::{BoxedError, MODELLED_RESPONSE_TIME, Session};
        let session = match self.onboarding.take() {
            Some(s) => s,
            None => match &self.target {
                Some(url) => Session::remote(url, self.today)?,
                None => Session::local(self.today)?,
            },
        };
        let session = self.onboarding.insert(session);
        if matches!(step.action, OnboardingAction::Commission)
            && self.has_faults
            && !session.is_local()
        {
            return Err(StepError::NeedsLocalService(
                "a --target service commissions with its own phone and reader: the case's faults cannot reach that read; run the case without --target",
            ));
        }
        if step.expect.within.is_some() && !session.is_local() {
            return Err(StepError::NeedsLocalService(
                "`within` on an onboarding step is simulated time, which only the in-process service keeps; a --target service answers in wall time",
            ));
        }
        let t0 = self.reader.now();
        session.set_clock(t0.since(kazasu_sim::SimTime::START).as_nanos() / 1_000_000_000);
        let secrets = &self.secrets;
        let expand = |t: &str| expand_text(secrets, t);
        let (reader, transcript, rng) = (&mut self.reader, &mut self.transcript, &mut self.rng);
        let (device, case_reader) = (self.device, self.reader_profile.as_str());
        let mut read = |ordered: &str| -> Result<ReadOutcome, BoxedError> {
            let pin = lookup_secret(secrets, "auth_pin")?;
            Ok(first_read(
                &mut **reader,
                transcript,
                rng,
                device,
                case_reader,
                ordered,
                &pin,
            )?)
        };
        let report = session.run(&step.action, &step.expect, &expand, &mut read)?;
        self.reader.wait(SimDuration::from_nanos(
            MODELLED_RESPONSE_TIME.as_nanos() as u64
        ));
        let took = self.reader.now().since(t0);
        self.transcript
            .record_event(Event::Onboarding(report.line), took, &[]);
        let own_check = report.failure.or_else(|| match step.expect.within {
            Some(limit) if took > limit.0 => Some(Mismatch::new(
                format!("the step within {}", limit.0),
                format!("it took {took}"),
            )),
            _ => None,
        });
        Ok(StepOutcome {
            own_check,
            ..StepOutcome::default()
        })
    }
}

/// Commissioning's first read, in the case's world: the case's card (a phone, as a rule) through
/// the case's reader — which must be the product the account ordered — with the case's faults,
/// seed and PIN.
pub(super) fn first_read(
    reader: &mut dyn Backend,
    transcript: &mut Transcript,
    rng: &mut rand_chacha::ChaCha8Rng,
    device: Device,
    case_reader: &str,
    ordered: &str,
    pin: &Secret<String>,
) -> Result<ReadOutcome, StepError> {
    if case_reader != ordered {
        return Err(StepError::OtherReader {
            case: case_reader.to_owned(),
            ordered: ordered.to_owned(),
        });
    }
    let mut nonce = vec![0u8; 32];
    rng.fill_bytes(&mut nonce);
    Ok(crate::onboarding::commission::read_through(
        reader, transcript, device, pin, &nonce, ordered,
    )?)
}

#[cfg(test)]
mod tests {
    use super::super::world::tests::world;
    use super::*;

    #[test]
    fn commissioning_through_another_reader_than_the_one_ordered_is_refused_before_any_read() {
        let mut w = world("android-jpki");
        let pin = w.secrets["auth_pin"].clone();
        let e = first_read(
            &mut *w.reader,
            &mut w.transcript,
            &mut w.rng,
            w.device,
            "typical-424k",
            "fast-848k",
            &pin,
        )
        .expect_err("another reader");
        assert!(
            e.to_string().contains("give the case `reader: fast-848k`"),
            "{e}"
        );
        assert!(w.transcript.entries.is_empty(), "nothing was read");
    }

    #[test]
    fn commissioning_reads_the_phone_through_the_ordered_reader() {
        let mut w = world("android-jpki");
        let pin = w.secrets["auth_pin"].clone();
        let read = first_read(
            &mut *w.reader,
            &mut w.transcript,
            &mut w.rng,
            w.device,
            "typical-424k",
            "typical-424k",
            &pin,
        )
        .expect("the same reader");
        assert!(matches!(read, ReadOutcome::Passed(_)), "{read:?}");
        assert!(
            !w.transcript.entries.is_empty(),
            "the read is in the transcript"
        );
    }
}

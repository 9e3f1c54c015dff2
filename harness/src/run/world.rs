//! A case's world: its reader (with the card), secrets, saved values and transcript, and how a
//! step sends an APDU through it — recorded, secrets kept out of what is shown.

use super::error::StepError;
use crate::host::flows::{Answer, Host};
use crate::link::backend::Backend;
use crate::record::Transcript;
use crate::scenario::Mismatch;
use crate::scenario::variables::{self, Var, VariableError};
use kazasu_sim::platform::profile::Device;
use kazasu_sim::{Command, LinkError, Response, Secret, StatusWord};
use std::collections::{BTreeMap, HashMap};

/// What a step produced.
#[derive(Default)]
pub(super) struct StepOutcome {
    pub(super) sw: Option<StatusWord>,
    pub(super) data: Vec<u8>,
    pub(super) error: Option<LinkError>,
    /// An answer without a status word (fewer than 2 bytes).
    pub(super) malformed: Option<Vec<u8>>,
    /// A check the step makes itself (a signature that does not verify, a UID that did not change).
    pub(super) own_check: Option<Mismatch>,
    /// The data holds a secret the case sent: reports never show it.
    pub(super) data_secret: bool,
    /// The reader refused a control or attribute request.
    pub(super) refused: Option<Box<kazasu_sim::reader::pcsc::ControlError>>,
}

impl StepOutcome {
    /// What a step reports of an answer it does not take further.
    pub(super) fn of(answer: Answer, w: &World) -> Self {
        match answer {
            Answer::Response(r) => StepOutcome::answered(r, w),
            Answer::Lost(e) => StepOutcome {
                error: Some(e),
                ..StepOutcome::default()
            },
            Answer::Malformed(bytes) => StepOutcome {
                malformed: Some(bytes),
                ..StepOutcome::default()
            },
        }
    }
    pub(super) fn response(r: Response) -> Self {
        StepOutcome {
            sw: Some(r.sw),
            data: r.data,
            ..StepOutcome::default()
        }
    }
    /// [`StepOutcome::response`], with data that may hold a secret.
    pub(super) fn answered(r: Response, w: &World) -> Self {
        let data_secret = w.holds_secret(&r.data);
        StepOutcome {
            data_secret,
            ..StepOutcome::response(r)
        }
    }
}

pub(super) struct World {
    pub(super) reader: Box<dyn Backend>,
    pub(super) device: Device,
    pub(super) secrets: BTreeMap<String, Secret<String>>,
    pub(super) saved: HashMap<String, Vec<u8>>,
    pub(super) uids: HashMap<String, Vec<u8>>,
    pub(super) transcript: Transcript,
    pub(super) rng: rand_chacha::ChaCha8Rng,
    /// The onboarding service, opened at the case's first onboarding step.
    pub(super) onboarding: Option<crate::onboarding::client::Session>,
    /// `--target`, or `None` for an embedded service.
    pub(super) target: Option<String>,
    /// The embedded service's calendar day.
    pub(super) today: Option<kazasu_onboarding::program::Day>,
    /// The case's reader profile's name (commissioning reads through it: the account must have
    /// ordered that product).
    pub(super) reader_profile: String,
    /// Whether the case injects faults.
    pub(super) has_faults: bool,
    /// Secrets the case has sent to the card: an answer that echoes one is never shown.
    pub(super) sent_secrets: Vec<Secret<String>>,
}

/// The secret `name`: from the scenario (or the identity's PINs), else from the environment
/// variable `KAZASU_SECRET_<NAME>` (how imported scenarios get PINs the capture had).
pub(super) fn lookup_secret(
    secrets: &BTreeMap<String, Secret<String>>,
    name: &str,
) -> Result<Secret<String>, VariableError> {
    if let Some(v) = secrets.get(name) {
        return Ok(v.clone());
    }
    let var = format!("KAZASU_SECRET_{}", name.to_ascii_uppercase());
    std::env::var(&var)
        .map(Secret::new)
        .map_err(|_| VariableError::NoSecret {
            name: name.to_owned(),
            known: secrets.keys().cloned().collect(),
        })
}

/// Substitutes `${secrets.X}` into text (PINs, onboarding fields); any other variable is an
/// error.
pub(super) fn expand_text(
    secrets: &BTreeMap<String, Secret<String>>,
    template: &str,
) -> Result<String, VariableError> {
    variables::substitute(template, variables::place::TEXT, |var| match var {
        Var::Secret(name) => Ok(lookup_secret(secrets, name)?.expose().clone()),
        _ => unreachable!("only secrets are allowed in text"),
    })
}

/// The last few exchanges before `end`, with their frames.
pub(super) fn context(t: &Transcript, end: usize) -> String {
    let from = end.saturating_sub(4);
    let slice = Transcript {
        entries: t.entries[from..end].to_vec(),
    };
    format!("{slice:#}")
}

/// The bytes of a command the runner built.
pub(super) fn encode(cmd: Command<'_>) -> Result<Vec<u8>, StepError> {
    Ok(cmd.to_vec()?)
}

pub(super) fn parse_fid(f: &str) -> Result<[u8; 2], StepError> {
    u16::from_str_radix(f, 16)
        .map(u16::to_be_bytes)
        .map_err(|_| StepError::FileId(f.to_owned()))
}

impl World {
    /// Substitutes `${secrets.X}` (ASCII bytes) and `${saved.X}` into hex; tells whether a
    /// secret went in.
    pub(super) fn expand(&self, template: &str) -> Result<(Vec<u8>, bool), StepError> {
        let mut secret = false;
        let out = variables::substitute(template, variables::place::HEX, |var| match var {
            Var::Secret(name) => {
                secret = true;
                Ok(hex::encode(self.secret(name)?.expose().as_bytes()))
            }
            Var::Saved(name) => {
                let value = self
                    .saved
                    .get(name)
                    .ok_or_else(|| VariableError::NothingSaved(name.to_owned()))?;
                // Data saved from an answer that echoed a secret is a secret too.
                secret |= self.holds_secret(value);
                Ok(hex::encode(value))
            }
            Var::Account => unreachable!("not allowed in hex"),
        })?;
        kazasu_sim::parse_hex(&out)
            .map(|b| (b, secret))
            .map_err(StepError::Hex)
    }

    pub(super) fn secret(&self, name: &str) -> Result<Secret<String>, VariableError> {
        lookup_secret(&self.secrets, name)
    }

    /// A PIN given as text, possibly with `${secrets.X}`.
    pub(super) fn text_secret(&self, text: &str) -> Result<Secret<String>, VariableError> {
        self.expand_text(text).map(Secret::new)
    }

    /// Whether `data` holds a secret this case sent (3 bytes or longer: shorter values would
    /// hide answers by coincidence).
    pub(super) fn holds_secret(&self, data: &[u8]) -> bool {
        self.sent_secrets.iter().any(|s| {
            let s = s.expose().as_bytes();
            s.len() >= 3 && data.windows(s.len()).any(|w| w == s)
        })
    }

    /// Sends through the host's exchange, into the case's transcript; an answer that echoes a
    /// secret the case sent is hidden there.
    pub(super) fn send(&mut self, apdu: &[u8], secret: bool) -> Answer {
        if secret {
            // Which of the case's secrets went into the command: an answer may echo them.
            let sent: Vec<Secret<String>> = self
                .secrets
                .values()
                .filter(|v| {
                    let b = v.expose().as_bytes();
                    !b.is_empty() && apdu.windows(b.len()).any(|w| w == b)
                })
                .cloned()
                .collect();
            self.sent_secrets.extend(sent);
        }
        let mut host = Host::new(&mut *self.reader);
        let answer = host.exchange(apdu, secret);
        self.transcript.extend(host.transcript);
        if let Answer::Response(r) = &answer
            && self.holds_secret(&r.data)
        {
            self.transcript.hide_last_response();
        }
        answer
    }

    /// Sends, and stops the step at a transport error or a status other than 90 00.
    pub(super) fn send_step(&mut self, apdu: &[u8], secret: bool) -> Result<Response, StepOutcome> {
        match self.send(apdu, secret) {
            Answer::Response(r) if r.sw.is_ok() => Ok(r),
            other => Err(StepOutcome::of(other, self)),
        }
    }

    pub(super) fn link(&self, r: Result<(), LinkError>) -> StepOutcome {
        match r {
            Ok(()) => StepOutcome::default(),
            Err(e) => StepOutcome {
                error: Some(e),
                ..StepOutcome::default()
            },
        }
    }

    pub(super) fn expand_text(&self, template: &str) -> Result<String, VariableError> {
        expand_text(&self.secrets, template)
    }

    pub(super) fn apdu_outcome(&mut self, cmd: &[u8], secret: bool) -> StepOutcome {
        let answer = self.send(cmd, secret);
        StepOutcome::of(answer, self)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, ReaderProfile};
    use rand_core::SeedableRng;
    use std::sync::Arc;

    /// A world around an in-process typical reader with `card` on it (not yet tapped), the test
    /// identity's PINs as its secrets.
    pub(in crate::run) fn world(card: &str) -> World {
        let subject = Fixtures::embedded().default_subject();
        let profile = Arc::new(CardProfile::builtin(card).expect("built-in card"));
        let device = profile.device;
        let card = Card::new(profile, subject.clone(), 7).expect("card");
        let reader = Arc::new(ReaderProfile::builtin("typical-424k").expect("built-in reader"));
        let faults = FaultPlan::new(Vec::new(), rand_chacha::ChaCha8Rng::seed_from_u64(1));
        let pins = &subject.identity.pins;
        World {
            reader: Box::new(Reader::new(reader, card, faults)),
            device,
            secrets: BTreeMap::from([
                ("auth_pin".to_string(), pins.auth.clone()),
                ("sign_pin".to_string(), pins.sign.clone()),
            ]),
            saved: HashMap::new(),
            uids: HashMap::new(),
            transcript: Transcript::default(),
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(2),
            onboarding: None,
            target: None,
            today: None,
            reader_profile: "typical-424k".into(),
            has_faults: false,
            sent_secrets: Vec::new(),
        }
    }

    #[test]
    fn a_missing_secret_names_the_environment_variable_that_would_give_it() {
        let known = BTreeMap::from([("auth_pin".to_string(), Secret::new("1234".to_string()))]);
        assert_eq!(
            lookup_secret(&known, "auth_pin").expect("known").expose(),
            "1234"
        );
        let e = lookup_secret(&known, "never_given_anywhere").expect_err("unknown");
        let shown = e.to_string();
        assert!(shown.contains("KAZASU_SECRET_NEVER_GIVEN_ANYWHERE"), "{e}");
        assert!(shown.contains("known: auth_pin"), "{e}");
    }

    #[test]
    fn hex_with_a_secret_is_flagged_and_saved_values_go_in_as_bytes() {
        let mut w = world("mynumber-card");
        let (bytes, secret) = w
            .expand("00 20 00 80 04 ${secrets.auth_pin}")
            .expect("expands");
        assert!(secret);
        assert_eq!(&bytes[..5], &[0x00, 0x20, 0x00, 0x80, 0x04]);
        w.saved.insert("x".into(), vec![0xAB, 0xCD]);
        assert_eq!(
            w.expand("01 ${saved.x}").expect("expands"),
            (vec![1, 0xAB, 0xCD], false)
        );
        let e = w.expand("${saved.y}").expect_err("nothing saved as y");
        assert!(
            matches!(&e, StepError::Variable(VariableError::NothingSaved(n)) if n == "y"),
            "{e}"
        );
    }

    #[test]
    fn only_answers_holding_a_sent_secret_of_three_bytes_or_more_count_as_secret() {
        let mut w = world("mynumber-card");
        w.sent_secrets.push(Secret::new("12".into()));
        assert!(
            !w.holds_secret(b"xx12xx"),
            "two bytes match by coincidence too often"
        );
        w.sent_secrets.push(Secret::new("4321".into()));
        assert!(w.holds_secret(b"..4321.."));
        assert!(!w.holds_secret(b"432"));
    }

    #[test]
    fn a_sent_apdu_is_recorded_and_a_link_failure_is_an_error_not_a_panic() {
        let mut w = world("mynumber-card");
        // No tap yet: the reader has no card.
        match w.send(&[0x00, 0xA4, 0x04, 0x0C], false) {
            Answer::Lost(e) => assert_eq!(e, LinkError::NoCard),
            _ => panic!("a command without a card fails on the link"),
        }
        assert_eq!(w.transcript.entries.len(), 1);
        w.reader.tap().expect("tap");
        let Answer::Response(r) = w.send(&[0x00, 0xA4, 0x04, 0x0C, 0x02, 0xFF, 0xFF], false) else {
            panic!("a tapped card answers");
        };
        assert_eq!(r.sw, StatusWord::FILE_NOT_FOUND);
        assert_eq!(w.transcript.entries.len(), 2);
    }
}

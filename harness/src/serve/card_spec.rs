//! Which virtual card a slot serves: `PROFILE[:IDENTITY]`, and making that card.

use crate::profiles::LoadError;
use kazasu_sim::platform::identity::FixtureError;
use kazasu_sim::platform::profile::ProfileError;
use kazasu_sim::{Card, CardProfile, Fixtures, Subject};
use std::sync::Arc;

/// One card to serve: `PROFILE[:IDENTITY]`.
#[derive(Clone, Debug)]
pub struct CardSpec {
    /// Card profile (name or path).
    pub profile: String,
    /// Test identity.
    pub identity: Option<String>,
}

/// A virtual card that cannot be made from its spec.
#[derive(Debug, thiserror::Error)]
pub enum CardSetupError {
    /// Its profile.
    #[error(transparent)]
    Profile(#[from] LoadError),
    /// Its identity.
    #[error(transparent)]
    Identity(#[from] FixtureError),
    /// The profile loaded but cannot make a card.
    #[error(transparent)]
    Card(#[from] ProfileError),
}

impl CardSpec {
    /// The spec's test identity (the first of the fixtures when it names none).
    pub fn subject(&self) -> Result<Arc<Subject>, FixtureError> {
        Fixtures::embedded().subject_or_default(self.identity.as_deref())
    }

    /// A card of `profile` (loaded from this spec) with the spec's identity, seeded.
    pub fn card_of(&self, profile: Arc<CardProfile>, seed: u64) -> Result<Card, CardSetupError> {
        Ok(Card::new(profile, self.subject()?, seed)?)
    }

    /// Loads the spec's profile and makes its card, seeded.
    pub fn card(&self, seed: u64) -> Result<Card, CardSetupError> {
        let profile = Arc::new(crate::profiles::card_profile(&self.profile, None)?);
        self.card_of(profile, seed)
    }
}

impl std::str::FromStr for CardSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (profile, identity) = match s.split_once(':') {
            Some((p, i)) => (p.to_string(), Some(i.to_string())),
            None => (s.to_string(), None),
        };
        if profile.is_empty() {
            return Err(format!(
                "`{s}`: write PROFILE or PROFILE:IDENTITY, e.g. android-jpki:suzuki-hanako"
            ));
        }
        Ok(CardSpec { profile, identity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_specs_parse() {
        let c: CardSpec = "android-jpki:suzuki-hanako".parse().unwrap();
        assert_eq!(
            (c.profile.as_str(), c.identity.as_deref()),
            ("android-jpki", Some("suzuki-hanako"))
        );
        assert!(":x".parse::<CardSpec>().is_err());
    }
}

//! # kazasu-onboarding — the account-onboarding flow of the smartphone-reader subsidy
//!
//! Deterministic and IO-free, like the card models: identifiers and their check digits
//! ([`codes`]), input normalisation ([`normalize`]), the program and portal registry as data
//! ([`program`]) and the service's rules ([`service`]). Time is passed in; nothing here reads a
//! clock, a file or a socket. `docs/onboarding.md` says what the rules follow. The HTTP service
//! (`kazasu onboarding serve`) and the runner's in-process onboarding steps drive it.
#![warn(missing_docs)]

pub mod codes;
pub mod normalize;
pub mod program;
pub mod service;

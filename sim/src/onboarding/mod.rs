//! The account-onboarding flow of the smartphone-reader subsidy (`docs/onboarding.md`):
//! identifiers and their check digits, input normalisation, the program and portal registry as
//! data, and the service's rules — all sans IO.

pub mod codes;
pub mod normalize;
pub mod program;
pub mod service;

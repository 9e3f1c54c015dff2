//! The onboarding service: `kazasu onboarding serve`, its store, pages and commissioning, and the
//! client the runner's onboarding steps use.

pub mod client;
pub mod commission;
pub mod pages;
pub mod server;
mod site;
pub mod store;

//! The onboarding service over the rules of `kazasu_onboarding`: `kazasu onboarding serve` (the
//! HTTP API and pages, its SQLite store), commissioning's first read, and the client the runner's
//! onboarding steps use — the same router in-process on the case's simulated clock, or any
//! service at a `--target` URL.

pub mod app;
pub mod client;
pub mod commission;
pub mod guard;
pub mod pages;
pub mod server;
mod site;
pub mod store;

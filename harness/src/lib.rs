//! # kazasu — the tester's side
//!
//! Host flows, transports and transcripts that drive kazasu's simulated cards the way
//! eligibility-check software drives real ones. The `kazasu` binary is the command-line face.
#![warn(missing_docs)]

pub mod backend;
pub mod flows;
pub mod html;
pub mod import;
pub mod onboarding;
#[cfg(feature = "pcsc")]
pub mod pcsc_backend;
pub mod replay;
pub mod replay_session;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod served_line;
pub mod shrink;
pub mod suite;
pub mod trace;
pub mod transcript;
pub mod transcript_check;
pub mod transport;
pub mod variables;
pub mod vpcd_link;

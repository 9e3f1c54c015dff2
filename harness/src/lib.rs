//! # kazasu — the tester's side
//!
//! The harness that drives kazasu's simulated cards, phones, readers and onboarding service the
//! way eligibility-check software drives real ones. Its folders follow the data flow:
//!
//! ```text
//! scenario YAML ─► scenario (model, checks, suite loading, variables) ─► run (cases, steps, checks)
//!                                           host (APDU builders, JPKI flows) ◄─┤ over a link
//!                        link: backend trait, in-process reader, pcscd + vpcd (pcsc), vpcd link
//!                                                                  ▼
//!          record (the typed transcript) ─► report (console, JUnit, JSON, HTML, coverage)
//! capture ─► capture (trace formats, import, replay as card or host, shrink)
//! serve: virtual cards on vpcd slots, their JSON-lines transcripts and checks
//! fuzz: the virtual card as a fuzzer of host software (`kazasu fuzz-host`)
//! onboarding: the onboarding service over HTTP (and in-process for the runner)
//! certify: a certification bundle's manifest and its check
//! calibrate: reader timing values estimated from round trips measured on a device
//! ```
//!
//! The floors these modules stand on, and the rule that no import runs up them, are in
//! `ARCHITECTURE.md` (checked by `tests/house.rs`).
//!
//! The `kazasu` binary (`main.rs` and `cli/`) is the command-line face.
#![warn(missing_docs)]

pub mod calibrate;
pub mod capture;
pub mod certify;
pub mod files;
pub mod fuzz;
pub mod host;
pub mod link;
pub mod onboarding;
pub mod pcapng;
pub mod profile_schema;
pub mod profiles;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod serve;
pub mod stack;
pub mod text;

//! `kazasu`: the command-line face of kazasu — run suites, serve virtual cards, import and replay
//! field captures, serve the onboarding service, print the schema and the profiles, renew the
//! test PKI. The subcommands live in `cli/`; this file only parses and dispatches.

#[macro_use]
mod cli;

use clap::{Parser, Subcommand};
use cli::InputFailure;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kazasu",
    version,
    about = "Virtual My Number card and smartphone JPKI simulator and conformance harness",
    after_help = "Exit codes: 0 all passed, 1 some failed, 2 bad input or environment."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenarios (default: the bundled conformance suite) and report.
    Run(cli::run::RunArgs),
    /// List the cases a run would run.
    List(cli::run::Select),
    /// Check scenario files without running them.
    Validate(cli::run::ValidateArgs),
    /// Attach virtual cards to pcscd's vpcd slots for any PC/SC program (OpenSC, pcsc-tools,
    /// your reading software); needs pcscd with vsmartcard-vpcd running (`kazasu stack up`).
    Serve(cli::serve::ServeArgs),
    /// Start or stop the real reading stack: pcscd with vsmartcard's vpcd readers.
    Stack {
        #[command(subcommand)]
        command: cli::stack::StackCmd,
    },
    /// Turn a captured trace (pcscd log, pcsc-spy, apdu4j, OpenSC log, kazasu transcript, a
    /// pcap of a USB CCID reader or of the air, a Proxmark3 trace) into a scenario that
    /// reproduces it: the recorded commands, the recorded answers as expectations, the host's
    /// pauses and the card's removals. PINs become ${secrets.NAME} placeholders.
    Import(cli::capture::ImportArgs),
    /// Replay a captured trace: as the card (the recording answers a host under test, in-process
    /// or through pcscd with --serve) or as the host (the recorded commands go to a virtual card
    /// and its answers are compared with the recorded ones).
    Replay(cli::capture::ReplayArgs),
    /// Fuzz host software with the virtual card: serve mutated answers run after run, keep the
    /// runs that crash, hang or exit otherwise than expected as recordings that replay them.
    FuzzHost(cli::fuzz::FuzzHostArgs),
    /// Run the conformance suite on a reader profile and write a certification bundle to hand
    /// over (HTML, JSON and JUnit reports, the profile, a manifest with every file's SHA-256),
    /// or check one with --verify.
    Certify(cli::certify::CertifyArgs),
    /// Show which protocol families (activation, chaining, WTX, recovery …), JPKI commands and
    /// JPKI status words the suite exercises, from what its cases did, with their results.
    Coverage(cli::run::CoverageArgs),
    /// List the PC/SC readers and what is on them: the ATR decoded (Type A/B, bit rates, FWI,
    /// largest frame) and the kazasu card profile it looks like.
    Devices,
    /// Measure a reader with a readertest card on it through PC/SC (round trips against answer
    /// length, host overhead, extended APDUs) and write a reader profile with the measured
    /// values marked `sure: measured`.
    Calibrate(cli::calibrate::CalibrateArgs),
    /// The simulated account-onboarding service (registration, reader order, commissioning).
    Onboarding {
        #[command(subcommand)]
        command: cli::onboarding::OnboardingCmd,
    },
    /// Check a `serve` transcript (JSON lines) against expectations (YAML list), in order.
    CheckTranscript(cli::serve::CheckTranscriptArgs),
    /// Print the JSON Schema of scenario files (for editors), or of reader profiles
    /// (`--profile reader`), or a profile format's reference page (`--markdown`).
    Schema(cli::info::SchemaArgs),
    /// List the built-in card and reader profiles, or print one as YAML.
    Profiles(cli::info::ProfilesArgs),
    /// List the test identities a virtual card can carry (`--card PROFILE:IDENTITY`) with their
    /// PINs; the first is the default.
    Identities,
    /// Generate the test PKI (test CAs, keys and certificates of every test identity) into the
    /// fixtures folder. The output is committed; run this only to renew the fixtures.
    GenTestPki(cli::info::GenTestPkiArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Run(a) => cli::run::run(a),
        Cmd::List(select) => cli::run::list(&select),
        Cmd::Validate(a) => cli::run::validate(&a.paths),
        Cmd::Serve(a) => cli::serve::serve(a),
        Cmd::Stack { command } => cli::stack::stack(command),
        Cmd::Import(a) => cli::capture::import(a),
        Cmd::Replay(a) => cli::capture::replay(a),
        Cmd::FuzzHost(a) => cli::fuzz::fuzz_host(a),
        Cmd::Certify(a) => cli::certify::certify(a),
        Cmd::Coverage(a) => cli::run::coverage(a),
        Cmd::Devices => cli::device::devices(),
        Cmd::Calibrate(a) => cli::calibrate::calibrate(a),
        Cmd::Onboarding { command } => cli::onboarding::onboarding(command),
        Cmd::CheckTranscript(a) => cli::serve::check_transcript(&a.transcript, &a.expectations),
        Cmd::Schema(a) => Ok(cli::info::schema(&a)),
        Cmd::Profiles(a) => cli::info::profiles(a.name.as_deref(), a.sureness)
            .map_err(|e| InputFailure(format!("{e:#}"))),
        Cmd::Identities => Ok(cli::info::identities()),
        Cmd::GenTestPki(a) => cli::info::gen_test_pki(&a.fixtures)
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| InputFailure(format!("{e:#}"))),
    };
    match result {
        Ok(code) => code,
        Err(InputFailure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

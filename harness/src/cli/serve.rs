//! `serve` and `check-transcript`: virtual cards on vpcd slots for any PC/SC program, and the
//! check of what crossed the link.

use super::InputFailure;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Attach virtual cards to pcscd's vpcd slots for any PC/SC program (OpenSC, pcsc-tools,
/// your reading software); needs pcscd with vsmartcard-vpcd running (`kazasu stack up`).
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Cards, one per slot: PROFILE[:IDENTITY] (e.g. android-jpki:suzuki-hanako).
    #[arg(long = "card", default_value = "mynumber-card")]
    pub cards: Vec<kazasu::serve::CardSpec>,
    /// The reader model between vpcd and the cards.
    #[arg(long, default_value = "typical-424k")]
    pub reader: String,
    /// First vpcd slot (0 and 1 are "Virtual PCD 00 00" and "… 00 01", n ≥ 2 "Virtual PCD n/2 00 0n%2"; port 35963 + n).
    #[arg(long, default_value_t = 0)]
    pub slot: u16,
    /// `fast`, or `realtime` to wait out the modelled durations.
    #[arg(long, value_enum, default_value = "fast")]
    pub pace: kazasu::link::vpcd::Pace,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write every exchange and event as JSON lines here (secrets redacted).
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,
    /// Write every slot's simulated air (ISO 14443 frames, the field switching) and APDUs here
    /// as pcapng for Wireshark, as they happen, at wall-clock times (secrets masked).
    #[arg(long, value_name = "FILE.pcapng")]
    pub pcap: Option<PathBuf>,
    /// Stop after this long (e.g. 30s); default: until Ctrl-C.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Take each card out of the field after it answered this many APDUs.
    #[arg(long, value_name = "N")]
    pub remove_after_apdus: Option<u64>,
    /// Card-side events (tap, remove, approve at a time or after N APDUs) and faults, as YAML.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Reversed mode: listen on this address for vpcd to connect (reader.conf DEVICENAME with
    /// a host, e.g. 127.0.0.1:0x8C7B) instead of connecting to vpcd.
    #[arg(long, value_name = "IP", conflicts_with = "vpcd")]
    pub listen: Option<std::net::IpAddr>,
    /// Connect to the vpcd of another machine (vsmartcard's vpcd for Windows or macOS):
    /// HOST[:PORT], the port of the first card (default 35963 + --slot), the next cards on the
    /// next ports. The link is unauthenticated and unencrypted: loopback or a trusted network only.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub vpcd: Option<kazasu::serve::VpcdAddress>,
    /// Give up (an error naming vpcd and the port) when a card in the field has no vpcd link
    /// after this long; `0s` waits forever.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub connect_timeout: std::time::Duration,
    /// Write this file (the reader names, one per line) once pcscd has powered every card, so
    /// a script can wait for it before starting the reading software.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
}

/// Check a `serve` transcript (JSON lines) against expectations (YAML list), in order.
#[derive(clap::Args)]
pub struct CheckTranscriptArgs {
    /// The transcript written by `kazasu serve --transcript`.
    pub transcript: PathBuf,
    /// Expectations: `- { command | command_prefix | event, expect: { sw, data_len, data_prefix } }`.
    pub expectations: PathBuf,
}

/// Serves until Ctrl-C or the duration.
pub fn serve(a: ServeArgs) -> Result<ExitCode, InputFailure> {
    let script = match &a.script {
        Some(p) => kazasu::serve::ServeScript::load(p),
        None => Ok(kazasu::serve::ServeScript::default()),
    }?;
    let counts = kazasu::serve::serve(kazasu::serve::ServeOptions {
        cards: a.cards,
        reader: a.reader,
        first_slot: a.slot,
        pace: a.pace,
        seed: a.seed,
        transcript: a.transcript,
        pcap: a.pcap,
        duration: a.duration,
        remove_after_apdus: a.remove_after_apdus,
        script,
        listen: a.listen,
        vpcd: a.vpcd,
        connect_timeout: (!a.connect_timeout.is_zero()).then_some(a.connect_timeout),
        ready_file: a.ready_file,
    })?;
    eprintln!("stopped; APDUs answered per slot: {counts:?}");
    Ok(ExitCode::SUCCESS)
}

pub fn check_transcript(transcript: &Path, expectations: &Path) -> Result<ExitCode, InputFailure> {
    let read = |p: &Path| kazasu::files::read_text(p, kazasu::files::CAPTURES);
    let t = read(transcript)?;
    let x = read(expectations)?;
    let expected: Vec<kazasu::serve::check::Expected> = serde_saphyr::from_str(&x)
        .map_err(|e| InputFailure(format!("{}: {e}", expectations.display())))?;
    let results = kazasu::serve::check::check(&t, &expected).map_err(InputFailure)?;
    let (mut passed, mut failed) = (0, 0);
    for r in &results {
        match r {
            Ok(m) => {
                passed += 1;
                outln!(" PASS {m}");
            }
            Err(m) => {
                failed += 1;
                outln!(" FAIL {m}");
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

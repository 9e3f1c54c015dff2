//! `devices`: the PC/SC readers on this machine and what is on them — the ATR decoded (Type A
//! or B, bit rates, FWI, largest frame) and the kazasu card profile it looks like.
// Without PC/SC there is nothing to list: the decoding is then unused.
#![cfg_attr(not(feature = "pcsc"), allow(dead_code, unused_imports))]

use super::InputFailure;
use kazasu_sim::iso14443::atr::{ContactlessAtr, pcsc_contactless_atr, read_pcsc_contactless_atr};
use kazasu_sim::platform::profile::BUILTIN_CARD_PROFILES;
use std::process::ExitCode;

/// The built-in card profile whose ATR is `atr`, or the one with the same Type B parameters.
fn looks_like(atr: &[u8], read: &ContactlessAtr) -> String {
    let profiles: Vec<_> = BUILTIN_CARD_PROFILES
        .iter()
        .filter_map(|(n, _)| kazasu_sim::CardProfile::builtin(n).ok())
        .collect();
    if let Some(p) = profiles.iter().find(|p| pcsc_contactless_atr(p) == atr) {
        return format!("the ATR of kazasu's `{}`", p.name);
    }
    if let ContactlessAtr::TypeB { max_frame, fwi, .. } = read {
        let near: Vec<&str> = profiles
            .iter()
            .filter(|p| {
                matches!(
                    read_pcsc_contactless_atr(&pcsc_contactless_atr(p)),
                    ContactlessAtr::TypeB { max_frame: m, fwi: f, .. } if m == *max_frame && f == *fwi
                )
            })
            .map(|p| p.name.as_str())
            .collect();
        if !near.is_empty() {
            return format!("same FWI and frame size as kazasu's {}", near.join(", "));
        }
    }
    "no kazasu profile".into()
}

/// What the ATR says, in a line.
fn describe(atr: &[u8]) -> String {
    let read = read_pcsc_contactless_atr(atr);
    let what = match &read {
        ContactlessAtr::Generic => {
            "the reader's generic contactless ATR (it tells nothing about the card)".to_string()
        }
        ContactlessAtr::TypeB {
            application_data,
            bit_rates,
            max_frame,
            fwi,
        } => format!(
            "Type B; application data {}; {} kbit/s; frames up to {max_frame} bytes; FWI {fwi}",
            hex::encode_upper(application_data),
            bit_rates
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join("/")
        ),
        ContactlessAtr::TypeA { historical } => format!(
            "Type A (ISO/IEC 14443-4); historical bytes {}",
            if historical.is_empty() {
                "none".into()
            } else {
                hex::encode_upper(historical)
            }
        ),
        ContactlessAtr::Other => "not a PC/SC contactless ATR (a contact card?)".into(),
    };
    format!("{what}; {}", looks_like(atr, &read))
}

#[cfg(feature = "pcsc")]
pub fn devices() -> Result<ExitCode, InputFailure> {
    use std::time::Duration;
    let ctx = pcsc::Context::establish(pcsc::Scope::User)
        .map_err(|e| InputFailure(format!("pcscd is not reachable ({e}); start it")))?;
    let mut buf = vec![0u8; 16 * 1024];
    let names: Vec<std::ffi::CString> = match ctx.list_readers(&mut buf) {
        Ok(r) => r.map(|n| n.to_owned()).collect(),
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(InputFailure(format!("cannot list the PC/SC readers: {e}"))),
    };
    if names.is_empty() {
        outln!("no PC/SC reader is connected");
        return Ok(ExitCode::SUCCESS);
    }
    let mut states: Vec<_> = names
        .iter()
        .map(|n| pcsc::ReaderState::new(n.as_c_str(), pcsc::State::UNAWARE))
        .collect();
    ctx.get_status_change(Duration::ZERO, &mut states)
        .map_err(|e| InputFailure(format!("SCardGetStatusChange: {e}")))?;
    for s in &states {
        let name = s.name().to_string_lossy();
        let st = s.event_state();
        if st.contains(pcsc::State::PRESENT) {
            let atr = s.atr();
            outln!("{name}: card present, ATR {}", hex::encode_upper(atr));
            outln!("    {}", describe(atr));
        } else if st.contains(pcsc::State::UNAVAILABLE) {
            outln!("{name}: unavailable");
        } else {
            outln!("{name}: empty");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "pcsc"))]
pub fn devices() -> Result<ExitCode, InputFailure> {
    Err(InputFailure(
        "this kazasu was built without PC/SC; build it with `cargo build --release --features pcsc` (needs Debian's libpcsclite-dev)".into(),
    ))
}

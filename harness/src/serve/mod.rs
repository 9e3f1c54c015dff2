//! `kazasu serve`: virtual cards attached to vpcd slots for any external PC/SC program, with a
//! JSONL transcript of everything that crossed the link (secrets redacted).

pub mod check;
pub mod line;

use crate::files::FileError;
use crate::link::vpcd::{self, LinkConfig, LinkControl, LinkEvent, Pace};
use crate::profiles::LoadError;
use crate::serve::line::{Echoes, ServedEvent, ServedLine};
use kazasu_sim::platform::identity::FixtureError;
use kazasu_sim::platform::profile::ProfileError;
use kazasu_sim::vpcd::{Request, Slot};
use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, Subject, hex_spaced};
use rand_core::SeedableRng;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Why cards cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A card.
    #[error(transparent)]
    Card(#[from] CardSetupError),
    /// The reader profile.
    #[error(transparent)]
    Reader(#[from] LoadError),
    /// A file that cannot be read.
    #[error(transparent)]
    Read(#[from] FileError),
    /// A file that cannot be used or written.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A vpcd address.
    #[error("{0}")]
    Address(String),
    /// Ctrl-C cannot be handled.
    #[error("cannot handle Ctrl-C: {0}")]
    Signal(ctrlc::Error),
    /// A script action this build or setup cannot perform.
    #[error("{0}")]
    Script(String),
    /// vpcd did not connect within the time-out.
    #[error(
        "slot {slot}: {what} within {waited}: is pcscd running with vsmartcard's vpcd driver \
         (`ci/pcscd.sh start` in a checkout, or pcscd with vpcd in its reader.conf), and does it \
         have slot {slot}? (--connect-timeout waits longer)"
    )]
    Unreachable {
        /// The slot.
        slot: u16,
        /// What did not happen, with the address.
        what: String,
        /// How long serve waited.
        waited: String,
    },
}

/// What serve knows of one slot's link, from its events.
#[derive(Debug, Default)]
struct SlotWatch {
    /// vpcd connected at least once.
    connected: AtomicBool,
    /// pcscd powered the card (asked for its ATR) at least once.
    powered: AtomicBool,
}

/// A warm reset of the served card through this PC's pcscd, as another program would cause it:
/// connect to the slot's reader, reconnect with `SCARD_RESET_CARD`, leave the card.
#[cfg(feature = "pcsc")]
fn warm_reset_through_pcscd(slot_no: u16) -> Result<(), ServeError> {
    let failed = |what: &str, e: pcsc::Error| ServeError::Script(format!("{what}: {e}"));
    let ctx = pcsc::Context::establish(pcsc::Scope::User)
        .map_err(|e| failed("pcscd is not reachable", e))?;
    let name = std::ffi::CString::new(kazasu_sim::vpcd::reader_name(slot_no))
        .map_err(|e| ServeError::Script(e.to_string()))?;
    let mut card = ctx
        .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .map_err(|e| {
            failed(
                &format!("no card to reset on {}", name.to_string_lossy()),
                e,
            )
        })?;
    card.reconnect(
        pcsc::ShareMode::Shared,
        pcsc::Protocols::ANY,
        pcsc::Disposition::ResetCard,
    )
    .map_err(|e| failed("SCardReconnect with a reset failed", e))?;
    card.disconnect(pcsc::Disposition::LeaveCard)
        .map_err(|(_, e)| failed("SCardDisconnect failed", e))
}

#[cfg(not(feature = "pcsc"))]
fn warm_reset_through_pcscd(_slot_no: u16) -> Result<(), ServeError> {
    Err(ServeError::Script(WARM_RESET_NEEDS_PCSC.into()))
}

/// Why a build without the `pcsc` feature refuses a script with `warm_reset`.
const WARM_RESET_NEEDS_PCSC: &str = "the serve script's `warm_reset` resets the card through \
     pcscd, which needs kazasu built with the pcsc feature: cargo build --release --features pcsc";

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

/// What a serve script can do to a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptAction {
    /// The card enters the field.
    Tap,
    /// The card leaves the field.
    Remove,
    /// The phone approval (iPhone).
    Approve,
    /// A warm reset of the card as another program on the PC causes one: a PC/SC connection
    /// to the slot's reader and `SCardReconnect(…, SCARD_RESET_CARD)`. pcscd resets the card
    /// through vpcd (it keeps its verified PINs) and the reading software's next command gets
    /// `SCARD_W_RESET_CARD`. Needs kazasu built with the `pcsc` feature and the pcscd of this PC.
    WarmReset,
}

/// As a script writes it (`tap`, `remove`, `approve`, `warm_reset`).
impl std::fmt::Display for ScriptAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScriptAction::Tap => "tap",
            ScriptAction::Remove => "remove",
            ScriptAction::Approve => "approve",
            ScriptAction::WarmReset => "warm_reset",
        })
    }
}

/// One scripted event: at a time since the start, or after a number of APDUs on its slot.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptEvent {
    /// Wall time since serving started (e.g. `2s`).
    #[serde(default, with = "humantime_serde_opt")]
    pub at: Option<Duration>,
    /// After the slot answered this many APDUs.
    #[serde(default)]
    pub after_apdus: Option<u64>,
    /// The slot (default: every slot).
    #[serde(default)]
    pub slot: Option<u16>,
    /// What happens.
    #[serde(rename = "do")]
    pub action: ScriptAction,
}

mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A serve script: card-side events and faults.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeScript {
    /// Whether the cards start in the field (default true).
    #[serde(default)]
    pub start_in_field: Option<bool>,
    /// Events in any order.
    #[serde(default)]
    pub events: Vec<ScriptEvent>,
    /// Faults applied by each slot's reader model.
    #[serde(default)]
    pub faults: Vec<kazasu_sim::Fault>,
}

impl ServeScript {
    /// Reads and checks a script file.
    pub fn load(path: &std::path::Path) -> Result<ServeScript, ServeError> {
        let bad = |reason: String| ServeError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = crate::files::read_text(path, crate::files::SMALL_YAML)?;
        let script: ServeScript = serde_saphyr::from_str(&text).map_err(|e| bad(e.to_string()))?;
        for (i, e) in script.events.iter().enumerate() {
            if e.at.is_some() == e.after_apdus.is_some() {
                return Err(bad(format!(
                    "event {}: give exactly one of `at` and `after_apdus`",
                    i + 1
                )));
            }
        }
        for f in &script.faults {
            f.check().map_err(|m| bad(format!("fault: {m}")))?;
        }
        Ok(script)
    }
}

/// What to serve.
pub struct ServeOptions {
    /// Cards, one per slot from `first_slot` on.
    pub cards: Vec<CardSpec>,
    /// Reader model between vpcd and each card.
    pub reader: String,
    /// First vpcd slot.
    pub first_slot: u16,
    /// Pacing.
    pub pace: Pace,
    /// Seed.
    pub seed: u64,
    /// JSONL transcript file.
    pub transcript: Option<std::path::PathBuf>,
    /// Stop after this long (default: until Ctrl-C).
    pub duration: Option<Duration>,
    /// Take the card away after this many APDUs (per slot).
    pub remove_after_apdus: Option<u64>,
    /// Reversed mode: listen for vpcd on this host (slot n on port 35963 + n).
    pub listen: Option<std::net::IpAddr>,
    /// The vpcd to connect to, on this or another machine (default: this machine's, slot n on
    /// port 35963 + n).
    pub vpcd: Option<VpcdAddress>,
    /// Card-side events and faults.
    pub script: ServeScript,
    /// How long a card in the field may wait for its vpcd link before serve gives up with an
    /// error naming vpcd and the port; `None`: wait forever.
    pub connect_timeout: Option<Duration>,
    /// Written (with the reader names, one per line) once every card in the field has been
    /// powered by pcscd — pcscd asked for its ATR, so clients can connect.
    pub ready_file: Option<std::path::PathBuf>,
}

/// Where a vpcd listens: `HOST[:PORT]` (a name, an IPv4 address, or `[IPv6]`); the port in
/// decimal or `0x` hex as in reader.conf, for the first card (the next cards on the next ports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VpcdAddress {
    /// Host name or address.
    pub host: String,
    /// The first card's port (default: 35963 + the first slot).
    pub port: Option<u16>,
}

impl std::str::FromStr for VpcdAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "`{s}` is not a vpcd address ({why}); write HOST or HOST:PORT, e.g. 192.168.1.20:35963 or [::1]:0x8C7B"
            )
        };
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("no closing `]`"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| bad("text after `]`"))?),
                ),
            }
        } else {
            match s.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(bad("an IPv6 address needs brackets"));
                }
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("no host"));
        }
        let port = match port {
            None => None,
            Some(p) => {
                let n = match p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
                    Some(hex) => u16::from_str_radix(hex, 16),
                    None => p.parse::<u16>(),
                }
                .map_err(|_| bad("the port is a number from 1 to 65535"))?;
                if n == 0 {
                    return Err(bad("the port is a number from 1 to 65535"));
                }
                Some(n)
            }
        };
        Ok(VpcdAddress {
            host: host.to_string(),
            port,
        })
    }
}

impl VpcdAddress {
    /// The socket address of the `i`-th card's vpcd slot.
    fn resolve(&self, first_slot: u16, i: u16) -> Result<std::net::SocketAddr, ServeError> {
        use std::net::ToSocketAddrs;
        let port = self
            .port
            .unwrap_or(kazasu_sim::vpcd::BASE_PORT.saturating_add(first_slot))
            .checked_add(i)
            .ok_or_else(|| {
                ServeError::Address(format!("card {} would be past port 65535", i + 1))
            })?;
        (self.host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| {
                ServeError::Address(format!("cannot resolve the vpcd host `{}`: {e}", self.host))
            })?
            // vpcd listens on IPv4 (0.0.0.0) unless built otherwise: a name with both kinds of
            // address is reached on IPv4.
            .min_by_key(|a| a.is_ipv6())
            .ok_or_else(|| ServeError::Address(format!("the vpcd host `{}` has no address", self.host)))
    }
}

/// A JSONL transcript line.
fn line(started: Instant, slot: u16, event: &LinkEvent, echoes: &Echoes) -> String {
    served_line(started, slot, event, echoes).emit()
}

/// What the link saw, as a transcript record (`echoes`: the slot's secrets so far).
pub fn served_line(started: Instant, slot: u16, event: &LinkEvent, echoes: &Echoes) -> ServedLine {
    let event = match event {
        LinkEvent::Connected => ServedEvent::CardInserted,
        LinkEvent::Disconnected(why) => ServedEvent::CardRemoved { why: why.clone() },
        LinkEvent::Exchange {
            request,
            reply,
            sim_ns,
        }
        | LinkEvent::Undelivered {
            request,
            reply,
            sim_ns,
        } => match request {
            Request::Apdu(apdu) => ServedEvent::exchange(apdu, reply, *sim_ns, echoes),
            Request::GetAtr => ServedEvent::GetAtr {
                atr: hex_spaced(reply),
            },
            Request::PowerOn => ServedEvent::PowerOn,
            Request::PowerOff => ServedEvent::PowerOff,
            Request::Reset => ServedEvent::Reset,
        },
    };
    ServedLine {
        t_ms: line::t_ms(started.elapsed()),
        slot,
        event,
    }
}

/// Serves until Ctrl-C (or the duration); returns APDUs answered per slot.
pub fn serve(opts: ServeOptions) -> Result<Vec<u64>, ServeError> {
    let reader_profile = Arc::new(crate::profiles::reader_profile(&opts.reader, None)?);
    let sink: Option<Arc<Mutex<std::fs::File>>> = match &opts.transcript {
        Some(p) => Some(Arc::new(Mutex::new(std::fs::File::create(p).map_err(
            |e| ServeError::File {
                path: p.clone(),
                reason: format!("cannot write: {e}"),
            },
        )?))),
        None => None,
    };
    // A script event for a slot no card is served on would never happen: say so up front.
    let served = opts.first_slot..opts.first_slot.saturating_add(opts.cards.len() as u16);
    if let Some((i, e)) = opts
        .script
        .events
        .iter()
        .enumerate()
        .find(|(_, e)| e.slot.is_some_and(|s| !served.contains(&s)))
    {
        return Err(ServeError::Script(format!(
            "the serve script's event {} is for slot {}, but the cards are served on slots {} to {}: \
             fix its `slot:` or serve more cards (--card, --slot)",
            i + 1,
            e.slot.unwrap_or_default(),
            served.start,
            served.end.saturating_sub(1)
        )));
    }
    let resets = opts
        .script
        .events
        .iter()
        .any(|e| e.action == ScriptAction::WarmReset);
    if resets && cfg!(not(feature = "pcsc")) {
        return Err(ServeError::Script(WARM_RESET_NEEDS_PCSC.into()));
    }
    if resets && opts.vpcd.is_some() {
        return Err(ServeError::Script(
            "the serve script's `warm_reset` resets the card through this PC's pcscd; with \
             --vpcd the card is served to another PC's: reset it there (SCardReconnect with \
             SCARD_RESET_CARD)"
                .into(),
        ));
    }
    let started = Instant::now();
    type Link = (
        LinkControl,
        std::thread::JoinHandle<()>,
        Arc<Mutex<Slot>>,
        u16,
    );
    let mut links: Vec<Link> = Vec::new();
    let mut watches: Vec<Arc<SlotWatch>> = Vec::new();
    let mut addrs: Vec<std::net::SocketAddr> = Vec::new();
    for (i, spec) in opts.cards.iter().enumerate() {
        let seed = opts.seed.wrapping_add(i as u64);
        let card = spec.card(seed)?;
        let card_name = card.profile().name.clone();
        let reader = Reader::new(
            reader_profile.clone(),
            card,
            FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
        );
        let slot_no = opts.first_slot + i as u16;
        let slot = Arc::new(Mutex::new(Slot::new(reader)));
        let mut cfg = LinkConfig::slot(slot_no);
        cfg.pace = opts.pace;
        if let Some(ip) = opts.listen {
            cfg.addr.set_ip(ip);
            cfg.listen = true;
        }
        if let Some(vpcd) = &opts.vpcd {
            cfg.addr = vpcd.resolve(opts.first_slot, i as u16)?;
        }
        let sink = sink.clone();
        let echoes = Echoes::default();
        let watch = Arc::new(SlotWatch::default());
        watches.push(watch.clone());
        let address = cfg.addr;
        let reversed = cfg.listen;
        let reader_name = kazasu_sim::vpcd::reader_name(slot_no);
        let on_event: Arc<dyn Fn(LinkEvent) + Send + Sync> = Arc::new(move |e: LinkEvent| {
            match &e {
                LinkEvent::Connected if !watch.connected.swap(true, Ordering::SeqCst) => {
                    if reversed {
                        eprintln!("slot {slot_no}: vpcd connected to {address}");
                    } else {
                        eprintln!("slot {slot_no}: connected to vpcd at {address}");
                    }
                }
                LinkEvent::Exchange {
                    request: Request::GetAtr,
                    ..
                } if !watch.powered.swap(true, Ordering::SeqCst) => {
                    eprintln!("slot {slot_no}: pcscd powered the card ({reader_name})");
                }
                // A removal the link made itself (after N APDUs) is news on the console too.
                LinkEvent::Disconnected(why)
                    if why.starts_with("the card left the field after") =>
                {
                    eprintln!("slot {slot_no}: {why}");
                }
                _ => {}
            }
            // A link that broke on a malformed frame or a failed read is news for the person
            // running serve, not only for the transcript.
            if let LinkEvent::Disconnected(why) = &e
                && (why.starts_with("protocol error") || why.starts_with("read failed"))
            {
                eprintln!("slot {slot_no}: the vpcd link broke: {why}");
            }
            if let Some(s) = &sink {
                let mut f = s.lock().expect("transcript lock");
                let _ = writeln!(f, "{}", line(started, slot_no, &e, &echoes));
            }
        });
        let place = match &opts.vpcd {
            Some(_) => format!("the vpcd at {}", cfg.addr),
            None => format!(
                "{}, port {}",
                kazasu_sim::vpcd::reader_name(slot_no),
                cfg.addr.port()
            ),
        };
        eprintln!(
            "slot {slot_no} ({place}): {} for {} through {}",
            card_name,
            spec.identity.clone().unwrap_or_else(|| format!(
                "{} (the default identity)",
                Fixtures::embedded().default_subject().identity.id
            )),
            reader_profile.name
        );
        let in_field = opts.script.start_in_field.unwrap_or(true);
        addrs.push(cfg.addr);
        let (control, handle) = vpcd::spawn_with(slot.clone(), cfg, on_event, in_field);
        links.push((control, handle, slot, slot_no));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    ctrlc::set_handler(move || s.store(true, Ordering::SeqCst)).map_err(ServeError::Signal)?;
    eprintln!("serving; Ctrl-C stops and removes the cards");
    let deadline = opts.duration.map(|d| started + d);
    let mut events = opts.script.events.clone();
    if let Some(n) = opts.remove_after_apdus {
        events.push(ScriptEvent {
            at: None,
            after_apdus: Some(n),
            slot: None,
            action: ScriptAction::Remove,
        });
    }
    // (event, slot) pairs that have happened.
    let mut done = std::collections::HashSet::new();
    // A removal after N APDUs happens in the link itself, right after the Nth answer: polling
    // would let a fast host slip more commands in first.
    // (The earliest such removal of each slot; later ones are polled like other events.)
    let mut armed = std::collections::HashSet::new();
    let mut by_count: Vec<(usize, &ScriptEvent)> = events.iter().enumerate().collect();
    by_count.sort_by_key(|(_, e)| e.after_apdus);
    for (k, e) in by_count {
        if let (ScriptAction::Remove, Some(n)) = (e.action, e.after_apdus) {
            for (control, _, _, slot_no) in &links {
                if e.slot.is_none_or(|s| s == *slot_no) && armed.insert(*slot_no) {
                    control.leave_after_apdus(n);
                    done.insert((k, *slot_no));
                }
            }
        }
    }
    let in_field = opts.script.start_in_field.unwrap_or(true);
    let mut ready_written = false;
    let mut failure: Option<ServeError> = None;
    while !stop.load(Ordering::SeqCst) && deadline.is_none_or(|d| Instant::now() < d) {
        std::thread::sleep(Duration::from_millis(10));
        // A card that starts in the field and never got its vpcd link: say so and stop.
        if let Some(limit) = opts.connect_timeout
            && in_field
            && started.elapsed() > limit
            && let Some(k) = watches
                .iter()
                .position(|w| !w.connected.load(Ordering::SeqCst))
        {
            let (slot_no, addr) = (links[k].3, addrs[k]);
            failure = Some(ServeError::Unreachable {
                slot: slot_no,
                what: if opts.listen.is_some() {
                    format!("no vpcd connected to {addr}")
                } else {
                    format!("vpcd at {addr} did not answer")
                },
                waited: humantime::format_duration(limit).to_string(),
            });
            break;
        }
        if !ready_written
            && let Some(path) = &opts.ready_file
            && in_field
            && watches.iter().all(|w| w.powered.load(Ordering::SeqCst))
        {
            let names: String = links
                .iter()
                .map(|l| format!("{}\n", kazasu_sim::vpcd::reader_name(l.3)))
                .collect();
            if let Err(e) = std::fs::write(path, names) {
                failure = Some(ServeError::File {
                    path: path.clone(),
                    reason: format!("cannot write the ready file: {e}"),
                });
                break;
            }
            ready_written = true;
            eprintln!(
                "ready: every card is powered by pcscd; wrote {}",
                path.display()
            );
        }
        for (k, e) in events.iter().enumerate() {
            for (control, _, slot, slot_no) in &links {
                if e.slot.is_some_and(|s| s != *slot_no) || done.contains(&(k, *slot_no)) {
                    continue;
                }
                let due = match (e.at, e.after_apdus) {
                    (Some(t), _) => started.elapsed() >= t,
                    (None, Some(n)) => control.apdus.load(Ordering::Relaxed) >= n,
                    (None, None) => false,
                };
                if !due {
                    continue;
                }
                done.insert((k, *slot_no));
                match e.action {
                    ScriptAction::Tap => {
                        slot.lock().expect("slot lock").lost = false;
                        control.set_present(true);
                    }
                    ScriptAction::Remove => control.set_present(false),
                    ScriptAction::Approve => {
                        slot.lock().expect("slot lock").reader.approve();
                    }
                    ScriptAction::WarmReset => {
                        if let Err(why) = warm_reset_through_pcscd(*slot_no) {
                            eprintln!("slot {slot_no}: warm reset failed: {why}");
                        }
                    }
                }
                eprintln!(
                    "slot {slot_no}: {} at {:.1} s",
                    e.action,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    let counts = links
        .iter()
        .map(|(c, ..)| c.apdus.load(Ordering::Relaxed))
        .collect();
    for (c, ..) in &links {
        c.set_present(false);
        c.stop();
    }
    for (_, h, ..) in links {
        let _ = h.join();
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(counts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpcd_addresses_read_as_reader_conf_writes_them() {
        let a = |s: &str| s.parse::<VpcdAddress>();
        let ok = |host: &str, port: Option<u16>| {
            Ok(VpcdAddress {
                host: host.into(),
                port,
            })
        };
        assert_eq!(a("192.168.1.20"), ok("192.168.1.20", None));
        assert_eq!(a("clinic-pc:35963"), ok("clinic-pc", Some(35963)));
        assert_eq!(a("localhost:0x8C7B"), ok("localhost", Some(0x8C7B)));
        assert_eq!(a("[::1]:35965"), ok("::1", Some(35965)));
        assert_eq!(a("[::1]"), ok("::1", None));
        for bad in [
            "",
            ":35963",
            "::1:35963",
            "host:0",
            "host:65536",
            "host:x",
            "[::1",
            "a b",
        ] {
            let e = a(bad).expect_err(bad);
            assert!(e.contains("HOST:PORT"), "{bad}: {e}");
        }
        // The first card on the given port, the next ones on the next ports; the default is
        // this machine's vpcd port of the slot.
        let loopback = a("127.0.0.1").unwrap();
        assert_eq!(loopback.resolve(3, 1).unwrap().port(), 35963 + 4);
        let given = a("127.0.0.1:40000").unwrap();
        assert_eq!(given.resolve(0, 2).unwrap().port(), 40002);
        assert!(a("127.0.0.1:65535").unwrap().resolve(0, 1).is_err());
    }

    #[test]
    fn the_example_script_loads() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/serve/phone-pulled-away.yaml"
        ));
        let s = ServeScript::load(path).unwrap();
        assert_eq!(s.start_in_field, Some(false));
        assert_eq!(s.events.len(), 4);
        assert_eq!(s.events[2].after_apdus, Some(4));
        assert_eq!(s.events[3].at, Some(Duration::from_secs(4)));
    }

    #[test]
    fn a_script_event_needs_exactly_one_trigger() {
        let dir = std::env::temp_dir().join(format!("kazasu-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.yaml");
        std::fs::write(&f, "events:\n  - { at: 1s, after_apdus: 3, do: remove }\n").unwrap();
        let err = ServeScript::load(&f).unwrap_err();
        assert!(
            err.to_string()
                .contains("exactly one of `at` and `after_apdus`"),
            "{err}"
        );
        std::fs::write(&f, "events:\n  - { at: 1s, do: dance }\n").unwrap();
        assert!(
            ServeScript::load(&f)
                .unwrap_err()
                .to_string()
                .contains("dance")
        );
    }

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

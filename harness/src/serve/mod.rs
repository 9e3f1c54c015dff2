//! `kazasu serve`: virtual cards attached to vpcd slots for any external PC/SC program, with a
//! JSONL transcript of everything that crossed the link (secrets redacted).

mod address;
mod card_spec;
pub mod check;
mod error;
pub mod line;
mod script;

pub use address::VpcdAddress;
pub use card_spec::{CardSetupError, CardSpec};
pub use error::ServeError;
pub use script::{ScriptAction, ScriptEvent, ServeScript, ServedPinPad};

use crate::link::vpcd::{self, LinkConfig, LinkControl, LinkEvent, Pace};
use crate::pcapng::served::{LiveFile, ServedSlot};
use crate::serve::line::{Echoes, ServedEvent, ServedLine};
use kazasu_sim::vpcd::{Request, Slot};
use kazasu_sim::{FaultPlan, Reader, hex_spaced};
use rand_core::SeedableRng;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// pcapng file of every slot's air and APDUs, written as they happen.
    pub pcap: Option<std::path::PathBuf>,
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

/// A JSONL transcript line.
fn line(started: Instant, slot: u16, event: &LinkEvent, echoes: &Echoes) -> String {
    served_line(started, slot, event, echoes).emit()
}

/// What the link saw, as a transcript record (`echoes`: the slot's secrets so far).
pub fn served_line(started: Instant, slot: u16, event: &LinkEvent, echoes: &Echoes) -> ServedLine {
    let event = match event {
        LinkEvent::Connected(via) => ServedEvent::CardInserted {
            via: Some(via.to_string()),
        },
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
            Request::Control { .. } | Request::Attribute(_) => {
                ServedEvent::reader_request(request, reply).expect("a reader request")
            }
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
        Arc<Mutex<ServedSlot>>,
        u16,
    );
    // The capture, with an air and an APDU interface for each slot.
    let pcap = match &opts.pcap {
        Some(path) => {
            let slots: Vec<(u16, String)> = (0..opts.cards.len() as u16)
                .map(|i| {
                    let n = opts.first_slot + i;
                    (n, kazasu_sim::vpcd::reader_name(n))
                })
                .collect();
            let application = concat!("kazasu ", env!("CARGO_PKG_VERSION"));
            let file =
                LiveFile::create(path, application, &slots).map_err(|e| ServeError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            Some(file)
        }
        None => None,
    };
    let mut links: Vec<Link> = Vec::new();
    let mut watches: Vec<Arc<SlotWatch>> = Vec::new();
    let mut addrs: Vec<std::net::SocketAddr> = Vec::new();
    for (i, spec) in opts.cards.iter().enumerate() {
        let seed = opts.seed.wrapping_add(i as u64);
        let card = spec.card(seed)?;
        let card_name = card.profile().name.clone();
        // Whose card it is: its PINs for the pad's operator, the capture's masks, the console.
        let who = spec.subject().map_err(CardSetupError::from)?;
        let reader = Reader::new(
            reader_profile.clone(),
            card,
            // The script's faults, on each slot's reader (its own exchanges counted).
            FaultPlan::new(
                opts.script.faults.clone(),
                rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            ),
        );
        let mut reader = reader;
        if let Some(pad) = &opts.script.pin_pad {
            reader.set_operator(pad.operator(&who)?);
        }
        let slot_no = opts.first_slot + i as u16;
        let slot = Slot::new(reader);
        let slot = Arc::new(Mutex::new(match &pcap {
            Some(file) => {
                let pins = &who.identity.pins;
                let secrets = [
                    &pins.auth,
                    &pins.sign,
                    &pins.card_info,
                    pins.juki(),
                    pins.common(),
                ]
                .iter()
                .map(|p| p.expose().as_bytes().to_vec())
                .collect();
                ServedSlot::listened(slot, file.clone(), i as u32, secrets)
            }
            None => ServedSlot::new(slot),
        }));
        let mut cfg = LinkConfig::slot(slot_no);
        cfg.pace = opts.pace;
        // A vpcd named or listened for is that vpcd, whatever driver this machine's pcscd has.
        if let Some(ip) = opts.listen {
            cfg.addr.set_ip(ip);
            cfg.listen = true;
            cfg.socket = None;
        }
        if let Some(vpcd) = &opts.vpcd {
            cfg = LinkConfig {
                pace: cfg.pace,
                ..LinkConfig::vpcd_at(vpcd.resolve(opts.first_slot, i as u16)?)
            };
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
                LinkEvent::Connected(via) if !watch.connected.swap(true, Ordering::SeqCst) => {
                    if reversed {
                        eprintln!("slot {slot_no}: vpcd connected to {address}");
                    } else {
                        eprintln!("slot {slot_no}: connected to {via}");
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
        let pins = &who.identity.pins;
        eprintln!(
            "slot {slot_no} ({place}): {} for {}{} (auth PIN {}, sign PIN {}, card-info PIN {}; \
             `kazasu identities` lists every identity) through {}",
            card_name,
            who.identity.id,
            if spec.identity.is_none() {
                ", the default identity"
            } else {
                ""
            },
            pins.auth.expose(),
            pins.sign.expose(),
            pins.card_info.expose(),
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
                        slot.lock().expect("slot lock").slot.lost = false;
                        control.set_present(true);
                    }
                    ScriptAction::Remove => control.set_present(false),
                    ScriptAction::Approve => {
                        slot.lock().expect("slot lock").slot.reader.approve();
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
    if let Some(file) = &pcap {
        match file.finish() {
            Ok(()) => eprintln!(
                "pcap: every slot's air and APDUs in {} (open it in Wireshark)",
                file.path().display()
            ),
            Err(e) => eprintln!("pcap: cannot write {}: {e}", file.path().display()),
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(counts),
    }
}

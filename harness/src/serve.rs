//! `kazasu serve`: virtual cards attached to vpcd slots for any external PC/SC program, with a
//! JSONL transcript of everything that crossed the link (secrets redacted).

use crate::transcript::redact_command;
use crate::vpcd_link::{self, LinkConfig, LinkControl, LinkEvent, Pace};
use kazasu_sim::vpcd::{Request, Slot};
use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, ReaderProfile, hex_spaced};
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
    /// Take the card away after this many APDUs (per slot), then tap it again after `retap`.
    pub remove_after_apdus: Option<u64>,
}

fn load_card(spec: &str) -> Result<CardProfile, String> {
    if crate::suite::is_path(spec) {
        let text = std::fs::read_to_string(spec)
            .map_err(|e| format!("cannot read card profile {spec}: {e}"))?;
        CardProfile::from_yaml(&text, spec).map_err(|e| e.to_string())
    } else {
        CardProfile::builtin(spec).map_err(|e| e.to_string())
    }
}

fn load_reader(spec: &str) -> Result<ReaderProfile, String> {
    if crate::suite::is_path(spec) {
        let text = std::fs::read_to_string(spec)
            .map_err(|e| format!("cannot read reader profile {spec}: {e}"))?;
        ReaderProfile::from_yaml(&text, spec).map_err(|e| e.to_string())
    } else {
        ReaderProfile::builtin(spec).map_err(|e| e.to_string())
    }
}

/// A JSONL transcript line.
fn line(started: Instant, slot: u16, event: &LinkEvent) -> String {
    let t_ms = started.elapsed().as_secs_f64() * 1e3;
    let v = match event {
        LinkEvent::Connected => {
            serde_json::json!({ "t_ms": t_ms, "slot": slot, "event": "card_inserted" })
        }
        LinkEvent::Disconnected(why) => {
            serde_json::json!({ "t_ms": t_ms, "slot": slot, "event": "card_removed", "why": why })
        }
        LinkEvent::Exchange {
            request,
            reply,
            sim_ns,
        } => match request {
            Request::Apdu(apdu) => {
                let (data, sw) = if reply.len() >= 2 {
                    reply.split_at(reply.len() - 2)
                } else {
                    (&reply[..], &[][..])
                };
                serde_json::json!({
                    "t_ms": t_ms, "slot": slot, "event": "apdu",
                    "command": redact_command(apdu),
                    "response": hex_spaced(data),
                    "sw": hex_spaced(sw).replace(' ', ""),
                    "sim_ns": sim_ns,
                })
            }
            other => {
                serde_json::json!({ "t_ms": t_ms, "slot": slot, "event": format!("{other:?}").to_lowercase() })
            }
        },
    };
    v.to_string()
}

/// Serves until Ctrl-C (or the duration); returns APDUs answered per slot.
pub fn serve(opts: ServeOptions) -> Result<Vec<u64>, String> {
    let reader_profile = Arc::new(load_reader(&opts.reader)?);
    let fixtures = Fixtures::embedded();
    let sink: Option<Arc<Mutex<std::fs::File>>> = match &opts.transcript {
        Some(p) => Some(Arc::new(Mutex::new(
            std::fs::File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?,
        ))),
        None => None,
    };
    let started = Instant::now();
    let mut links: Vec<(LinkControl, std::thread::JoinHandle<()>)> = Vec::new();
    for (i, spec) in opts.cards.iter().enumerate() {
        let profile = Arc::new(load_card(&spec.profile)?);
        let subject = match &spec.identity {
            Some(id) => fixtures.subject(id)?,
            None => fixtures.default_subject(),
        };
        let seed = opts.seed.wrapping_add(i as u64);
        let card = Card::new(profile.clone(), subject, seed).map_err(|e| e.to_string())?;
        let reader = Reader::new(
            reader_profile.clone(),
            card,
            FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
        );
        let slot_no = opts.first_slot + i as u16;
        let slot = Arc::new(Mutex::new(Slot::new(reader)));
        let mut cfg = LinkConfig::slot(slot_no);
        cfg.pace = opts.pace;
        let sink = sink.clone();
        let on_event: Arc<dyn Fn(LinkEvent) + Send + Sync> = Arc::new(move |e: LinkEvent| {
            if let Some(s) = &sink {
                let mut f = s.lock().expect("transcript lock");
                let _ = writeln!(f, "{}", line(started, slot_no, &e));
            }
        });
        eprintln!(
            "slot {slot_no} (Virtual PCD 00 {slot_no:02}, port {}): {} for {} through {}",
            cfg.addr.port(),
            profile.name,
            spec.identity.as_deref().unwrap_or("the default identity"),
            reader_profile.name
        );
        links.push(vpcd_link::spawn(slot, cfg, on_event));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    ctrlc::set_handler(move || s.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    eprintln!("serving; Ctrl-C stops and removes the cards");
    let deadline = opts.duration.map(|d| started + d);
    let mut removed = vec![false; links.len()];
    while !stop.load(Ordering::SeqCst) && deadline.is_none_or(|d| Instant::now() < d) {
        std::thread::sleep(Duration::from_millis(20));
        if let Some(n) = opts.remove_after_apdus {
            for (i, (c, _)) in links.iter().enumerate() {
                if !removed[i] && c.apdus.load(Ordering::Relaxed) >= n {
                    c.set_present(false);
                    removed[i] = true;
                }
            }
        }
    }
    let counts = links
        .iter()
        .map(|(c, _)| c.apdus.load(Ordering::Relaxed))
        .collect();
    for (c, _) in &links {
        c.stop();
    }
    for (_, h) in links {
        let _ = h.join();
    }
    Ok(counts)
}

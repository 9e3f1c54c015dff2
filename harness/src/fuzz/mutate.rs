//! The card's side of `kazasu fuzz-host`, sans IO: seeded, structure-aware mutations of a
//! served card's answers (what eligibility-check software meets at a counter: a status word
//! nobody expected, a truncated or padded answer, a corrupted certificate, a long answer to a
//! short read, a phone that is slow or asks for waiting time again and again, a phone pulled
//! away half-way, a garbled ATR), and a vpcd slot card that applies them to a virtual card.

use kazasu_sim::reader::fault::{Action, Fault, When};
use kazasu_sim::vpcd::{Reply, Request, Slot, SlotCard, encode};
use kazasu_sim::{Command, LinkError, SimDuration};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::fmt;

/// Status words a host may not expect where it gets them: refusals of every family, warnings,
/// "more data" and "wrong Le" procedure words, and success where a refusal was due.
const SURPRISING_WORDS: &[u16] = &[
    0x9000, 0x6A82, 0x6982, 0x6983, 0x6984, 0x6985, 0x6700, 0x6A86, 0x6B00, 0x6D00, 0x6E00, 0x6F00,
    0x6581, 0x6283, 0x6282, 0x63C0, 0x63C1, 0x6100, 0x6110, 0x6C10, 0x6C00, 0x6A80, 0x6A88, 0x6999,
];

/// One change to what the card answers. `at` counts the APDUs the card received in this run,
/// from 1.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Mutation {
    /// Another status word (the data kept only when the word is a success).
    StatusWord {
        /// The APDU.
        at: u32,
        /// The status word.
        sw: u16,
    },
    /// The answer's data cut to `keep` bytes (a 1-byte answer, no status word, when there was
    /// no data).
    Truncate {
        /// The APDU.
        at: u32,
        /// Data bytes kept.
        keep: usize,
    },
    /// Bytes added after the data.
    Lengthen {
        /// The APDU.
        at: u32,
        /// How many.
        extra: usize,
    },
    /// One byte of the first 64 changed: in a DER answer (a certificate), a tag or length.
    CorruptDer {
        /// The APDU.
        at: u32,
        /// Which byte.
        offset: usize,
        /// XOR mask (never 0).
        xor: u8,
    },
    /// An answer of `len` bytes to a command that asked for a short one.
    ExtendedAnswer {
        /// The APDU.
        at: u32,
        /// Data bytes.
        len: usize,
    },
    /// The answer comes this late.
    Slow {
        /// The APDU.
        at: u32,
        /// Milliseconds.
        delay_ms: u64,
    },
    /// The card asks for waiting time this often before answering (the reader model decides
    /// whether it holds on or gives up).
    WtxStorm {
        /// The APDU.
        at: u32,
        /// S(WTX) requests.
        requests: u32,
    },
    /// The card leaves the field during this APDU and stays away.
    Removal {
        /// The APDU.
        at: u32,
    },
    /// The ATR the reader reports is these bytes.
    GarbageAtr {
        /// The ATR.
        atr: Vec<u8>,
    },
}

impl Mutation {
    /// Its kind.
    pub fn kind(&self) -> MutationKind {
        match self {
            Mutation::StatusWord { .. } => MutationKind::StatusWord,
            Mutation::Truncate { .. } => MutationKind::Truncate,
            Mutation::Lengthen { .. } => MutationKind::Lengthen,
            Mutation::CorruptDer { .. } => MutationKind::CorruptDer,
            Mutation::ExtendedAnswer { .. } => MutationKind::ExtendedAnswer,
            Mutation::Slow { .. } => MutationKind::Slow,
            Mutation::WtxStorm { .. } => MutationKind::WtxStorm,
            Mutation::Removal { .. } => MutationKind::Removal,
            Mutation::GarbageAtr { .. } => MutationKind::GarbageAtr,
        }
    }

    /// The APDU it applies to (none for the ATR).
    pub fn at(&self) -> Option<u32> {
        match self {
            Mutation::StatusWord { at, .. }
            | Mutation::Truncate { at, .. }
            | Mutation::Lengthen { at, .. }
            | Mutation::CorruptDer { at, .. }
            | Mutation::ExtendedAnswer { at, .. }
            | Mutation::Slow { at, .. }
            | Mutation::WtxStorm { at, .. }
            | Mutation::Removal { at } => Some(*at),
            Mutation::GarbageAtr { .. } => None,
        }
    }
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutation::StatusWord { at, sw } => write!(f, "APDU {at}: status word {sw:04X}"),
            Mutation::Truncate { at, keep } => write!(f, "APDU {at}: data cut to {keep} bytes"),
            Mutation::Lengthen { at, extra } => write!(f, "APDU {at}: {extra} bytes added"),
            Mutation::CorruptDer { at, offset, xor } => {
                write!(f, "APDU {at}: byte {offset} XOR {xor:02X}")
            }
            Mutation::ExtendedAnswer { at, len } => {
                write!(f, "APDU {at}: a {len}-byte answer to a short read")
            }
            Mutation::Slow { at, delay_ms } => write!(f, "APDU {at}: answered after {delay_ms} ms"),
            Mutation::WtxStorm { at, requests } => {
                write!(f, "APDU {at}: {requests} waiting-time requests")
            }
            Mutation::Removal { at } => write!(f, "APDU {at}: the card leaves the field"),
            Mutation::GarbageAtr { atr } => write!(f, "ATR {}", kazasu_sim::hex_spaced(atr)),
        }
    }
}

/// A kind of mutation, as `--mutations` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MutationKind {
    /// Another status word.
    StatusWord,
    /// The answer's data cut short.
    Truncate,
    /// Bytes added after the data.
    Lengthen,
    /// A byte of a DER answer's header changed.
    CorruptDer,
    /// A long answer to a short read.
    ExtendedAnswer,
    /// A late answer.
    Slow,
    /// Waiting-time requests.
    WtxStorm,
    /// The card leaves the field.
    Removal,
    /// A garbled ATR.
    GarbageAtr,
}

impl MutationKind {
    /// Every kind, in the order plans draw them.
    pub const ALL: [MutationKind; 9] = [
        MutationKind::StatusWord,
        MutationKind::Truncate,
        MutationKind::Lengthen,
        MutationKind::CorruptDer,
        MutationKind::ExtendedAnswer,
        MutationKind::Slow,
        MutationKind::WtxStorm,
        MutationKind::Removal,
        MutationKind::GarbageAtr,
    ];
}

/// The mutations of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// In the order drawn.
    pub mutations: Vec<Mutation>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mutations.is_empty() {
            return write!(f, "no mutation");
        }
        let parts: Vec<String> = self.mutations.iter().map(|m| m.to_string()).collect();
        write!(f, "{}", parts.join("; "))
    }
}

/// The generator of run `run` of a campaign seeded with `seed`: each run's plan can be drawn
/// again on its own.
pub fn run_rng(seed: u64, run: u32) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ u64::from(run).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Plan {
    /// One to three mutations of every kind for a host that sends about `apdus` commands when
    /// nothing is changed.
    pub fn draw(rng: &mut ChaCha8Rng, apdus: u32) -> Plan {
        Plan::draw_of(rng, apdus, &MutationKind::ALL)
    }

    /// One to three mutations of the given kinds (every kind: the plans [`Plan::draw`] makes,
    /// so a seed draws the same plans as before kinds could be chosen).
    pub fn draw_of(rng: &mut ChaCha8Rng, apdus: u32, kinds: &[MutationKind]) -> Plan {
        let kinds = if kinds.is_empty() {
            &MutationKind::ALL[..]
        } else {
            kinds
        };
        let apdus = apdus.max(1);
        let count = 1 + rng.next_u32() % 3;
        let mut mutations = Vec::new();
        for _ in 0..count {
            let at = 1 + rng.next_u32() % apdus;
            let pick = |rng: &mut ChaCha8Rng, n: u32| rng.next_u32() % n;
            let kind = kinds[pick(rng, kinds.len() as u32) as usize];
            let m = match kind {
                MutationKind::StatusWord => Mutation::StatusWord {
                    at,
                    sw: SURPRISING_WORDS[pick(rng, SURPRISING_WORDS.len() as u32) as usize],
                },
                MutationKind::Truncate => Mutation::Truncate {
                    at,
                    keep: pick(rng, 300) as usize,
                },
                MutationKind::Lengthen => Mutation::Lengthen {
                    at,
                    extra: 1 + pick(rng, 300) as usize,
                },
                MutationKind::CorruptDer => Mutation::CorruptDer {
                    at,
                    offset: pick(rng, 64) as usize,
                    xor: 1 + pick(rng, 255) as u8,
                },
                MutationKind::ExtendedAnswer => Mutation::ExtendedAnswer {
                    at,
                    len: 257 + pick(rng, 4000) as usize,
                },
                MutationKind::Slow => Mutation::Slow {
                    at,
                    delay_ms: [300, 1_000, 3_000, 12_000][pick(rng, 4) as usize],
                },
                MutationKind::WtxStorm => Mutation::WtxStorm {
                    at,
                    requests: [3, 30, 300][pick(rng, 3) as usize],
                },
                MutationKind::Removal => Mutation::Removal { at },
                MutationKind::GarbageAtr => {
                    let mut atr = vec![0u8; 1 + pick(rng, 33) as usize];
                    rng.fill_bytes(&mut atr);
                    Mutation::GarbageAtr { atr }
                }
            };
            // One mutation per APDU (the first drawn) and one ATR.
            let clash = mutations.iter().any(|o: &Mutation| match (o.at(), m.at()) {
                (Some(a), Some(b)) => a == b,
                (None, None) => true,
                _ => false,
            });
            if !clash {
                mutations.push(m);
            }
        }
        Plan { mutations }
    }

    fn for_apdu(&self, n: u32) -> Option<&Mutation> {
        self.mutations.iter().find(|m| m.at() == Some(n))
    }

    fn atr(&self) -> Option<&[u8]> {
        self.mutations.iter().find_map(|m| match m {
            Mutation::GarbageAtr { atr } => Some(atr.as_slice()),
            _ => None,
        })
    }
}

/// Applies a change of data or status word to `response` (data ‖ SW1 SW2) of `command`.
pub fn mutate_answer(m: &Mutation, command: &[u8], response: &[u8]) -> Vec<u8> {
    let (data, sw) = match response.len() {
        n if n >= 2 => (response[..n - 2].to_vec(), response[n - 2..].to_vec()),
        _ => (response.to_vec(), Vec::new()),
    };
    let joined = |mut data: Vec<u8>, sw: &[u8]| {
        data.extend_from_slice(sw);
        data
    };
    match m {
        Mutation::StatusWord { sw: new, .. } => {
            let word = new.to_be_bytes();
            if *new == 0x9000 || word[0] == 0x62 || word[0] == 0x63 && data.is_empty() {
                joined(data, &word)
            } else {
                word.to_vec()
            }
        }
        Mutation::Truncate { keep, .. } => {
            if data.is_empty() {
                // No data to cut: the answer itself is cut to one byte.
                sw.first().map(|b| vec![*b]).unwrap_or_default()
            } else {
                let keep = keep % data.len();
                joined(data[..keep].to_vec(), &sw)
            }
        }
        Mutation::Lengthen { extra, .. } => {
            let mut data = data;
            data.extend((0..*extra).map(|i| (i as u8).wrapping_mul(31).wrapping_add(7)));
            joined(data, &sw)
        }
        Mutation::CorruptDer { offset, xor, .. } => {
            if data.is_empty() {
                let mut r = response.to_vec();
                if let Some(b) = r.first_mut() {
                    *b ^= xor;
                }
                r
            } else {
                let mut data = data;
                let at = offset % data.len().min(64);
                data[at] ^= xor;
                joined(data, &sw)
            }
        }
        Mutation::ExtendedAnswer { len, .. } => {
            let short = Command::parse(command).map_or(true, |c| !c.extended);
            if !short {
                return response.to_vec();
            }
            let fill: Vec<u8> = if data.is_empty() {
                (0..*len).map(|i| i as u8).collect()
            } else {
                data.iter().copied().cycle().take(*len).collect()
            };
            joined(fill, if sw.is_empty() { &[0x90, 0x00] } else { &sw })
        }
        _ => response.to_vec(),
    }
}

/// A served virtual card whose answers follow a [`Plan`].
pub struct MutatingCard {
    /// The virtual reader and card.
    pub slot: Slot,
    plan: Plan,
    apdus: u32,
    gone: bool,
}

impl MutatingCard {
    /// The slot's card, answering as `plan` says.
    pub fn new(slot: Slot, plan: Plan) -> MutatingCard {
        MutatingCard {
            slot,
            plan,
            apdus: 0,
            gone: false,
        }
    }
    /// APDUs received so far.
    pub fn apdus(&self) -> u32 {
        self.apdus
    }
}

impl SlotCard for MutatingCard {
    fn connected(&mut self) -> Result<(), LinkError> {
        if self.gone {
            return Err(LinkError::NoCard);
        }
        self.slot.connected()
    }
    fn disconnected(&mut self) {
        self.slot.disconnected()
    }
    fn handle(&mut self, request: &Request) -> Reply {
        let apdu = match request {
            Request::GetAtr => {
                if let Some(atr) = self.plan.atr() {
                    return Reply::Send {
                        frame: encode(atr).expect("an ATR of at most 34 bytes"),
                        pace: SimDuration::ZERO,
                    };
                }
                return self.slot.handle(request);
            }
            Request::Apdu(apdu) => apdu,
            _ => return self.slot.handle(request),
        };
        self.apdus += 1;
        let Some(m) = self.plan.for_apdu(self.apdus).cloned() else {
            return self.slot.handle(request);
        };
        match m {
            Mutation::Removal { .. } => {
                self.gone = true;
                self.slot.reader.remove();
                Reply::Close
            }
            Mutation::WtxStorm { requests, .. } => {
                let exchange = self.slot.reader.exchanges() + 1;
                self.slot.reader.faults_mut().push(Fault {
                    when: When {
                        exchange: Some(exchange),
                        ..When::default()
                    },
                    action: Action::WtxStorm(requests),
                });
                self.slot.handle(request)
            }
            Mutation::Slow { delay_ms, .. } => match self.slot.handle(request) {
                Reply::Send { frame, pace } => Reply::Send {
                    frame,
                    pace: pace + SimDuration::from_millis(delay_ms),
                },
                other => other,
            },
            m => match self.slot.handle(request) {
                Reply::Send { frame, pace } => {
                    let answer = mutate_answer(&m, apdu, &frame[2..]);
                    match encode(&answer) {
                        Ok(frame) => Reply::Send { frame, pace },
                        Err(_) => Reply::Close,
                    }
                }
                other => other,
            },
        }
    }
    fn stays_away(&self) -> bool {
        self.gone || self.slot.stays_away()
    }
    fn leave_after_reply(&mut self) -> bool {
        self.slot.leave_after_reply()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_reproducible_per_run_and_differ_between_runs() {
        let a = Plan::draw(&mut run_rng(7, 3), 20);
        let b = Plan::draw(&mut run_rng(7, 3), 20);
        assert_eq!(a, b);
        let differ = (0..20).any(|r| Plan::draw(&mut run_rng(7, r), 20) != a);
        assert!(differ);
        for r in 0..200 {
            let p = Plan::draw(&mut run_rng(1, r), 5);
            assert!(!p.mutations.is_empty() && p.mutations.len() <= 3);
            assert!(
                p.mutations
                    .iter()
                    .all(|m| m.at().is_none_or(|a| (1..=5).contains(&a)))
            );
        }
    }

    /// `--mutations` keeps plans to the kinds chosen; every kind draws what `draw` always drew.
    #[test]
    fn plans_keep_to_the_chosen_kinds() {
        for r in 0..50 {
            let only = Plan::draw_of(
                &mut run_rng(3, r),
                12,
                &[MutationKind::StatusWord, MutationKind::Slow],
            );
            assert!(
                only.mutations
                    .iter()
                    .all(|m| matches!(m.kind(), MutationKind::StatusWord | MutationKind::Slow)),
                "{only}"
            );
            assert_eq!(
                Plan::draw_of(&mut run_rng(3, r), 12, &MutationKind::ALL),
                Plan::draw(&mut run_rng(3, r), 12)
            );
        }
    }

    #[test]
    fn answers_change_as_described() {
        let read = [0x00, 0xB0, 0x00, 0x00, 0x04];
        let ok = [0x30, 0x82, 0x01, 0x00, 0x90, 0x00];
        let sw = |sw| Mutation::StatusWord { at: 1, sw };
        assert_eq!(mutate_answer(&sw(0x6A82), &read, &ok), [0x6A, 0x82]);
        assert_eq!(
            mutate_answer(&sw(0x9000), &read, &[0x6A, 0x82]),
            [0x90, 0x00]
        );
        let cut = Mutation::Truncate { at: 1, keep: 2 };
        assert_eq!(mutate_answer(&cut, &read, &ok), [0x30, 0x82, 0x90, 0x00]);
        assert_eq!(mutate_answer(&cut, &read, &[0x90, 0x00]), [0x90]);
        let der = Mutation::CorruptDer {
            at: 1,
            offset: 1,
            xor: 0x01,
        };
        assert_eq!(
            mutate_answer(&der, &read, &ok),
            [0x30, 0x83, 0x01, 0x00, 0x90, 0x00]
        );
        let long = Mutation::ExtendedAnswer { at: 1, len: 300 };
        let r = mutate_answer(&long, &read, &ok);
        assert_eq!(r.len(), 302);
        assert_eq!(&r[300..], [0x90, 0x00]);
        let more = Mutation::Lengthen { at: 1, extra: 3 };
        assert_eq!(mutate_answer(&more, &read, &ok).len(), 9);
    }
}

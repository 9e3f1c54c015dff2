//! A virtual card or phone: a profile's applications on the card OS, with power, persistent
//! memory, the phone's approval state and a seeded RNG. Bytes and a time in; a response and
//! the card's processing time out.

use crate::applets::{athena, card_face, card_info, common_card, jpki, mf, readertest};
use crate::iso7816::apdu::{Command, Response};
use crate::iso7816::nvm::{Nvm, PowerLost};
use crate::iso7816::status::StatusWord as Sw;
use crate::platform::identity::Subject;
use crate::platform::os::{Approval, Ctx, Handled, IsoApp, Persistent, Session, SideChannel, Work};
use crate::platform::profile::{
    AppletName, CardProfile, NfcType, ProfileError, ReadertestParams, UidBehaviour,
};
use crate::time::{SimDuration, SimTime};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::sync::Arc;

enum Applet {
    Iso(IsoApp),
    Readertest(ReadertestParams),
    Athena,
}

impl Applet {
    fn aids(&self) -> Vec<&[u8]> {
        match self {
            Applet::Iso(app) => vec![&app.aid],
            Applet::Readertest(_) => vec![&readertest::APPLET_AID, &readertest::COMBI_AID],
            Applet::Athena => vec![],
        }
    }
}

/// The GlobalPlatform issuer security domain of the physical card (its power-on default).
pub const ISD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00];

/// The card's answer to one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The response APDU.
    pub response: Response,
    /// What the command cost.
    pub work: Work,
    /// The card's processing time for it, from the profile.
    pub processing: SimDuration,
}

/// What happened to a command sent to the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardReply {
    /// The card answered.
    Answered(Answer),
    /// The card lost power while processing; it answers nothing and is now unpowered.
    PowerLost,
    /// The card is not powered (not in the field).
    Unpowered,
}

impl CardReply {
    /// The answer, if the card gave one.
    pub fn answer(self) -> Option<Answer> {
        match self {
            CardReply::Answered(a) => Some(a),
            _ => None,
        }
    }
}

/// A virtual card or phone.
pub struct Card {
    profile: Arc<CardProfile>,
    subject: Arc<Subject>,
    applets: Vec<Applet>,
    default_applet: Option<usize>,
    nvm: Nvm<Persistent>,
    session: Option<Session>,
    approval: Option<Approval>,
    side: SideChannel,
    rng: ChaCha8Rng,
    uid: Vec<u8>,
    atr: Vec<u8>,
    /// The GET DATA objects the card answers at MF level (from the profile).
    mf_objects: Vec<mf::Object>,
    /// An answer given from outside for the next command (a recording replayed through the
    /// air model), instead of the applications'.
    scripted: Option<Answer>,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("profile", &self.profile.name)
            .field("identity", &self.subject.identity.id)
            .field("powered", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl Card {
    /// A card of `profile` for `subject`; `seed` drives every random choice (UIDs).
    /// The card starts unpowered. Fails when the profile is inconsistent.
    pub fn new(
        profile: Arc<CardProfile>,
        subject: Arc<Subject>,
        seed: u64,
    ) -> Result<Card, ProfileError> {
        profile.check(&format!("profile {}", profile.name))?;
        let mut persistent = Persistent::default();
        let mut applets = Vec::new();
        for name in &profile.applets {
            let applet = match name {
                AppletName::Jpki => {
                    let params = profile.jpki.as_ref().expect("checked above");
                    Applet::Iso(jpki::build(
                        params,
                        &subject,
                        profile.device,
                        &mut persistent.pins,
                    ))
                }
                AppletName::CardInfo => {
                    let params = profile.card_info.as_ref().expect("checked above");
                    Applet::Iso(card_info::build(params, &subject, &mut persistent.pins))
                }
                AppletName::CardFace => {
                    let params = profile.card_face.as_ref().expect("checked above");
                    Applet::Iso(card_face::build(params, &subject, &mut persistent.pins))
                }
                AppletName::CommonCard => {
                    let params = profile.common_card.as_ref().expect("checked above");
                    Applet::Iso(common_card::build(params, &subject, &mut persistent.pins))
                }
                AppletName::Juki => {
                    let params = profile.juki.as_ref().expect("checked above");
                    Applet::Iso(common_card::build_juki(
                        params,
                        &subject,
                        &mut persistent.pins,
                    ))
                }
                AppletName::Readertest => {
                    Applet::Readertest(profile.readertest.clone().expect("checked above"))
                }
                AppletName::Athena => Applet::Athena,
            };
            applets.push(applet);
        }
        let default_applet = applets.iter().position(|a| matches!(a, Applet::Athena));
        let atr = profile.atr();
        let uid = profile.contactless.uid_bytes.value.0.clone();
        let mf_objects = profile
            .mf_objects
            .as_ref()
            .map(|o| o.value.clone())
            .unwrap_or_default();
        Ok(Card {
            profile,
            subject,
            applets,
            default_applet,
            nvm: Nvm::new(persistent),
            session: None,
            approval: None,
            side: SideChannel::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            uid,
            atr,
            mf_objects,
            scripted: None,
        })
    }

    /// The card's profile.
    pub fn profile(&self) -> &CardProfile {
        &self.profile
    }
    /// The person on the card.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }
    /// The ATR the host sees.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }
    /// The UID (Type A) or PUPI (Type B) of the current or last tap.
    pub fn uid(&self) -> &[u8] {
        &self.uid
    }
    /// Whether the card is powered (in the field).
    pub fn is_powered(&self) -> bool {
        self.session.is_some()
    }

    /// Powers the card up (it enters the field): a fresh security state, and a new random UID
    /// when the profile says so.
    pub fn power_on(&mut self) {
        if self.profile.contactless.uid.value == UidBehaviour::RandomPerTap {
            self.randomize_uid();
        }
        self.session = Some(Session {
            selected: self.default_applet,
            ..Session::default()
        });
    }

    /// Draws a new random identifier from the seeded RNG: a Type B PUPI is random in all its
    /// bytes; a Type A UID keeps the profile's first byte (08 marks a random UID).
    pub fn randomize_uid(&mut self) {
        let mut uid = self.profile.contactless.uid_bytes.value.0.clone();
        let keep = match self.profile.contactless.nfc_type.value {
            NfcType::B => 0,
            NfcType::A => 1,
        };
        if let Some(random) = uid.get_mut(keep..) {
            self.rng.fill_bytes(random);
        }
        self.uid = uid;
    }

    /// A warm reset: the reader re-activates the card without cutting its power (PC/SC's
    /// `SCardReconnect` with `SCARD_RESET_CARD`). The card keeps its PUPI and, when the profile
    /// says so (the default, reported for the physical card), the current application and the
    /// PINs verified in it; the current EF and a pending response are gone. Otherwise it starts
    /// afresh as after power-up.
    pub fn warm_reset(&mut self) {
        let keeps = self.profile.warm_reset_keeps_verify();
        let default_applet = self.default_applet;
        if let Some(session) = self.session.as_mut() {
            if keeps {
                session.current_ef = None;
                session.pending_response = None;
            } else {
                *session = Session {
                    selected: default_applet,
                    ..Session::default()
                };
            }
        }
    }

    /// Powers the card down (it leaves the field): the security state is lost; the persistent
    /// memory keeps what was committed.
    pub fn power_off(&mut self) {
        self.session = None;
        self.nvm.disarm();
    }

    /// Approves on the phone (Face ID / Touch ID stand-in) at `now`. Returns `false` when the
    /// profile has no approval (not an iPhone).
    pub fn approve(&mut self, now: SimTime) -> bool {
        let Some(params) = &self.profile.approval else {
            return false;
        };
        self.approval = Some(Approval {
            until: now + params.window.value.0,
            signatures_left: params.signatures.value,
        });
        true
    }

    /// The current phone approval, if any (it may have lapsed).
    pub fn approval(&self) -> Option<Approval> {
        self.approval
    }

    /// Arms a power loss before the persistent commit after `commits` more successful ones
    /// (tearing); the command in progress then gets no answer.
    pub fn arm_power_loss(&mut self, commits: u32) {
        self.nvm.arm_power_loss(commits);
    }

    /// Whether an armed power loss has not struck yet.
    pub fn power_loss_pending(&self) -> bool {
        self.nvm.is_armed()
    }

    /// Persistent commits made so far.
    pub fn commits(&self) -> u64 {
        self.nvm.commits()
    }

    /// What an observer could learn from side channels.
    pub fn side_channel(&self) -> SideChannel {
        self.side
    }

    /// Tries left of the PIN `fid` in the application `aid`, as committed.
    pub fn tries_left(&self, aid: &[u8], fid: u16) -> Option<u8> {
        self.applets.iter().find_map(|a| match a {
            Applet::Iso(app) if app.aid == aid => app.files.iter().find_map(|f| match &f.body {
                crate::platform::os::EfBody::Pin { slot, .. } if f.fid == fid => {
                    Some(self.nvm.get().pins[*slot].tries_left)
                }
                _ => None,
            }),
            _ => None,
        })
    }

    /// The card's processing time for a piece of work, from the profile.
    pub fn processing_time(&self, work: Work) -> SimDuration {
        let p = &self.profile.processing;
        match work {
            Work::Select => p.select.value.0,
            Work::Read(n) => p.read.value.0 + p.read_per_kib.value.0.mul_f64(n as f64 / 1024.0),
            Work::Verify => p.verify.value.0,
            Work::ChangePin => p.change_pin.value.0,
            Work::Sign => p.sign.value.0,
            Work::Other => p.other.value.0,
            Work::Timed(ns) => p.other.value.0 + SimDuration::from_nanos(ns),
        }
    }

    /// Answers the next command with `response` after `processing`, whatever the command —
    /// the applications do not see it. A recording replayed as the card uses this to send its
    /// recorded answers through the air model (frame sizes, waiting-time extensions, timing).
    pub fn answer_next_with(&mut self, response: Response, processing: SimDuration) {
        self.scripted = Some(Answer {
            response,
            work: Work::Other,
            processing,
        });
    }

    /// Drops an answer given with [`Card::answer_next_with`] that no command took.
    pub fn clear_scripted(&mut self) -> bool {
        self.scripted.take().is_some()
    }

    /// Processes one command APDU at `now`.
    pub fn process(&mut self, apdu: &[u8], now: SimTime) -> CardReply {
        if self.session.is_none() {
            return CardReply::Unpowered;
        }
        if let Some(answer) = self.scripted.take() {
            return CardReply::Answered(answer);
        }
        let outcome = match Command::parse(apdu) {
            Ok(cmd) => self.dispatch(&cmd, now),
            Err(_) => Ok((Response::status(Sw::WRONG_LENGTH), Work::Other)),
        };
        match outcome {
            Ok((response, work)) => {
                let processing = self.processing_time(work);
                CardReply::Answered(Answer {
                    response,
                    work,
                    processing,
                })
            }
            Err(PowerLost) => {
                self.power_off();
                CardReply::PowerLost
            }
        }
    }

    fn dispatch(&mut self, cmd: &Command<'_>, now: SimTime) -> Handled {
        let refuse = |sw| Ok((Response::status(sw), Work::Other));
        match cmd.logical_channel() {
            None => return refuse(Sw::CLA_NOT_SUPPORTED),
            Some(0) => {}
            Some(_) => return refuse(Sw::LOGICAL_CHANNEL_NOT_SUPPORTED),
        }
        // The JPKI card OS (cards and phones; not the reader-test cards):
        let jpki_os = self.profile.device != crate::platform::profile::Device::TestCard;
        // Secure messaging (CLA 08 / 0C) is not offered: SELECT answers 68 82, READ BINARY and
        // VERIFY 69 FC, as the card does (reported).
        if jpki_os && matches!(cmd.cla, 0x08 | 0x0C) {
            return refuse(match cmd.ins {
                0xB0 | 0x20 => Sw::SM_REFUSED,
                _ => Sw::SM_NOT_SUPPORTED,
            });
        }
        // GET CHALLENGE works in any state: Le random bytes (1..256).
        if jpki_os && cmd.cla == 0x00 && cmd.ins == 0x84 {
            return Ok((self.get_challenge(cmd), Work::Other));
        }
        let session = self.session.as_mut().expect("dispatch needs power");
        if cmd.cla == 0x00 && cmd.ins == 0xA4 && cmd.p1 == 0x04 {
            let has_isd = self.profile.device == crate::platform::profile::Device::Card;
            return Self::select_application(&self.applets, cmd, session, has_isd);
        }
        let physical = self.profile.device == crate::platform::profile::Device::Card;
        let Some(index) = session.selected else {
            // GET DATA at MF level: the card's data objects and its contact ATR.
            let offer = mf::Offer {
                contact_atr: self.profile.contact_atr.as_ref().map(|a| &a.value.0[..]),
                objects: &self.mf_objects,
            };
            if (cmd.cla, cmd.ins) == (0x00, 0xCA)
                && (offer.contact_atr.is_some() || !offer.objects.is_empty())
            {
                return Ok((mf::get_data(cmd, &offer, &self.subject), Work::Other));
            }
            if physical && let Some(answer) = mf::ef_001e(cmd, session) {
                return Ok((Response::status(answer), Work::Other));
            }
            return Self::no_application(cmd);
        };
        // GET DATA inside an application: the instruction exists card-wide, but the MF's objects
        // answer only at MF level (reported); which card generations also give 5F 51 inside an
        // application is not public, so kazasu's card gives it at MF level only.
        if physical && (cmd.cla, cmd.ins) == (0x00, 0xCA) {
            return refuse(Sw::DATA_NOT_FOUND);
        }
        if cmd.extended && !self.profile.extended_apdus.value {
            return refuse(Sw::WRONG_LENGTH);
        }
        let mut ctx = Ctx {
            app_index: index,
            nvm: &mut self.nvm,
            session,
            approval: &mut self.approval,
            side: &mut self.side,
            now,
            rng: &mut self.rng,
        };
        match &self.applets[index] {
            Applet::Iso(app) => app.process(cmd, &mut ctx),
            Applet::Readertest(params) => readertest::process(params, cmd, &mut ctx),
            Applet::Athena => athena::process(cmd, &mut ctx),
        }
    }

    fn select_application(
        applets: &[Applet],
        cmd: &Command<'_>,
        session: &mut Session,
        has_isd: bool,
    ) -> Handled {
        let answer = |sw| Ok((Response::status(sw), Work::Select));
        if !matches!(cmd.p2, 0x00 | 0x0C) {
            return answer(Sw::WRONG_P1P2);
        }
        if cmd.data.is_empty() || cmd.data.len() > 16 {
            return answer(Sw::WRONG_LENGTH);
        }
        // A DF name may be given in part (the readertest package AID selects its applet).
        let found = applets
            .iter()
            .position(|a| a.aids().iter().any(|aid| aid.starts_with(cmd.data)));
        if found.is_none() && has_isd && ISD_AID.starts_with(cmd.data) {
            // The GlobalPlatform issuer security domain: the card leaves the current application
            // and clears its security state; MF-level GET DATA answers again (reported).
            *session = Session::default();
            return answer(Sw::OK);
        }
        match found {
            Some(index) => {
                // Selecting another application starts its security state afresh; selecting the
                // same one again keeps what was verified (reported: a real card does).
                let verified = if session.selected == Some(index) {
                    std::mem::take(&mut session.verified)
                } else {
                    Vec::new()
                };
                *session = Session {
                    selected: Some(index),
                    verified,
                    ..Session::default()
                };
                answer(Sw::OK)
            }
            None => answer(Sw::FILE_NOT_FOUND),
        }
    }

    /// GET CHALLENGE: `00 84 00 00 Le`, Le random bytes from the card's seeded generator; an
    /// extended Le is refused with 69 85 (reported).
    fn get_challenge(&mut self, cmd: &Command<'_>) -> Response {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Response::status(Sw::WRONG_P1P2);
        }
        if cmd.extended {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        }
        match cmd.le {
            Some(le) if cmd.data.is_empty() && (1..=256).contains(&le) => {
                let mut challenge = vec![0u8; le as usize];
                self.rng.fill_bytes(&mut challenge);
                Response::ok(challenge)
            }
            _ => Response::status(Sw::WRONG_LENGTH),
        }
    }

    fn no_application(cmd: &Command<'_>) -> Handled {
        let sw = match (cmd.cla, cmd.ins) {
            (0x00, 0xA4) if cmd.p1 == 0x00 && !cmd.data.is_empty() => Sw::FILE_NOT_FOUND,
            (0x00 | 0x80, 0xA4) if cmd.p1 == 0x00 => Sw::WRONG_P1P2,
            (0x00, 0xA4 | 0xB0 | 0x20 | 0x24) | (0x80, 0x2A) => Sw::FILE_NOT_FOUND,
            (0x00 | 0x80, _) => Sw::INS_NOT_SUPPORTED,
            _ => Sw::CLA_NOT_SUPPORTED,
        };
        Ok((Response::status(sw), Work::Other))
    }
}

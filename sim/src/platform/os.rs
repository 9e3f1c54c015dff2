//! The card OS: ISO/IEC 7816-4 applications with elementary files, PIN objects with retry
//! counters, keys, access rules and a per-application security state.
//!
//! Applications such as the JPKI AP are data built on this OS (see `applets/`);
//! the OS answers SELECT, READ BINARY, READ RECORD, VERIFY, CHANGE REFERENCE DATA, JICSAP's
//! CHANGE KEY, INTERNAL AUTHENTICATE and COMPUTE DIGITAL SIGNATURE for all of them. Persistent state (PIN values and counters) lives in [`Nvm`] and
//! changes only by commits; the security state is volatile and lost on power-off.

use crate::iso7816::apdu::{Command, Response};
use crate::iso7816::nvm::{Nvm, PowerLost};
use crate::iso7816::status::StatusWord as Sw;
use crate::platform::identity::PrivateKey;
use crate::platform::profile::LastCommandIndicator;
use crate::platform::signature::Scheme;
use crate::secret::{Secret, constant_time_eq};
use crate::time::SimTime;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Who may use a file or key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone.
    Always,
    /// Once any of these PINs (by FID, in the same application) is verified.
    AnyPin(Vec<u16>),
    /// While a phone approval is valid (iPhone auth key).
    Approval,
}

/// Characters a PIN may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Charset {
    /// 0–9.
    Digits,
    /// A–Z and 0–9.
    UpperAlnum,
}

/// The form and retry limit of a PIN.
#[derive(Clone, Debug)]
pub(crate) struct PinSpec {
    pub min_len: usize,
    pub max_len: usize,
    pub charset: Charset,
    pub max_tries: u8,
}

impl PinSpec {
    fn accepts_length(&self, len: usize) -> bool {
        (self.min_len..=self.max_len).contains(&len)
    }
    fn accepts_chars(&self, pin: &[u8]) -> bool {
        pin.iter().all(|c| match self.charset {
            Charset::Digits => c.is_ascii_digit(),
            Charset::UpperAlnum => c.is_ascii_uppercase() || c.is_ascii_digit(),
        })
    }
}

/// What an elementary file holds.
#[derive(Clone, Debug)]
pub(crate) enum EfBody {
    /// A transparent file.
    Binary { data: Arc<[u8]>, read: Access },
    /// A record file (READ RECORD; READ BINARY answers 69 81).
    Records {
        records: Vec<Arc<[u8]>>,
        read: Access,
    },
    /// A PIN object; its value and counter are in persistent slot `slot`.
    Pin { slot: usize, spec: PinSpec },
    /// A private key, usable for COMPUTE DIGITAL SIGNATURE.
    Key { key: Arc<PrivateKey>, usage: Access },
}

/// An elementary file.
#[derive(Clone, Debug)]
pub(crate) struct Ef {
    pub fid: u16,
    pub body: EfBody,
}

impl Ef {
    /// A transparent file holding `data`, read under `read`.
    pub(crate) fn binary(fid: u16, data: &[u8], read: Access) -> Ef {
        Ef {
            fid,
            body: EfBody::Binary {
                data: Arc::from(data),
                read,
            },
        }
    }

    /// A PIN of exactly `len` digits in persistent slot `slot`, blocked after `tries`.
    pub(crate) fn digit_pin(fid: u16, slot: usize, len: usize, tries: u8) -> Ef {
        Ef {
            fid,
            body: EfBody::Pin {
                slot,
                spec: PinSpec {
                    min_len: len,
                    max_len: len,
                    charset: Charset::Digits,
                    max_tries: tries,
                },
            },
        }
    }
}

/// Stores a PIN's value with its tries in the persistent PIN records; its slot.
pub(crate) fn store_pin(pins: &mut Vec<PinRecord>, value: &[u8], tries: u8) -> usize {
    pins.push(PinRecord {
        value: Secret::new(value.to_vec()),
        tries_left: tries,
    });
    pins.len() - 1
}

/// An instruction an application knows and refuses, whatever its parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refusal {
    /// Its class byte.
    pub cla: u8,
    /// Its instruction byte.
    pub ins: u8,
    /// What the application answers.
    pub sw: Sw,
}

/// An ISO application: AID, files, and how it answers a few commands that differ by profile.
#[derive(Clone, Debug)]
pub(crate) struct IsoApp {
    pub aid: Vec<u8>,
    pub files: Vec<Ef>,
    /// `00 A4 00 00` with this application selected: 90 00 (true) or 6A 86.
    pub select_mf_ok: bool,
    /// The answer to `80 FC 00 00`; `None`: 6D 00.
    pub last_command: Option<LastCommandIndicator>,
    /// Instructions the application knows but refuses, with the status word it refuses them with
    /// (instead of 6D 00): the JPKI AP's `80 AE`, `80 A2` and INTERNAL AUTHENTICATE.
    pub refused: Vec<Refusal>,
    /// The COMPUTE DIGITAL SIGNATURE schemes (P1) this application offers; others: 6A 86.
    pub sign_schemes: Vec<Scheme>,
    /// The key COMPUTE DIGITAL SIGNATURE uses with P2 = 00 (the card-info AP's own key).
    pub default_key: Option<u16>,
    /// Whether INTERNAL AUTHENTICATE (`00 88 00 <80|key>`) signs a challenge with one of the
    /// application's keys (the 共通カードAP's key 0019); otherwise 6D 00 unless refused.
    pub internal_authenticate: bool,
    /// Whether JICSAP's CHANGE KEY (`80 32 00 <80|pin> Lc <new>`) changes a verified PIN (the
    /// 共通カードAP's and the 住基AP's 001C).
    pub change_key: bool,
}

impl IsoApp {
    fn ef(&self, fid: u16) -> Option<&Ef> {
        self.files.iter().find(|f| f.fid == fid)
    }
}

/// A PIN's persistent record.
#[derive(Clone, Debug)]
pub(crate) struct PinRecord {
    pub value: Secret<Vec<u8>>,
    pub tries_left: u8,
}

/// Everything the card keeps without power.
#[derive(Clone, Debug, Default)]
pub(crate) struct Persistent {
    pub pins: Vec<PinRecord>,
    /// What applications keep beside the PINs; the OS stores it and never looks inside.
    pub applets: AppletMemory,
}

/// Persistent memory of the applications, one slot per type: an application keeps its own
/// record here (the readertest applet its dump memory and tries) without the OS naming it.
#[derive(Debug, Default)]
pub(crate) struct AppletMemory(Vec<Box<dyn Slot>>);

/// A value that can live in an [`AppletMemory`] slot.
pub(crate) trait Slot: Any + Send + Sync + fmt::Debug {
    fn clone_slot(&self) -> Box<dyn Slot>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync + fmt::Debug> Slot for T {
    fn clone_slot(&self) -> Box<dyn Slot> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for AppletMemory {
    fn clone(&self) -> Self {
        AppletMemory(self.0.iter().map(|s| (**s).clone_slot()).collect())
    }
}

impl AppletMemory {
    /// The record of type `T`, if the application has written one.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.iter().find_map(|s| (**s).as_any().downcast_ref())
    }

    /// The record of type `T`, created with its default on first use.
    pub fn get_mut<T: Slot + Default>(&mut self) -> &mut T {
        let at = match self.0.iter().position(|s| (**s).as_any().is::<T>()) {
            Some(at) => at,
            None => {
                self.0.push(Box::new(T::default()));
                self.0.len() - 1
            }
        };
        (*self.0[at])
            .as_any_mut()
            .downcast_mut()
            .unwrap_or_else(|| unreachable!("the slot at {at} holds a T"))
    }
}

/// The volatile state of a powered card.
#[derive(Clone, Debug, Default)]
pub(crate) struct Session {
    pub selected: Option<usize>,
    pub current_ef: Option<u16>,
    /// Verified PINs as (application index, FID).
    pub verified: Vec<(usize, u16)>,
    /// Data waiting for GET RESPONSE (readertest in TPDU mode).
    pub pending_response: Option<Vec<u8>>,
}

impl Session {
    fn is_verified(&self, app: usize, fid: u16) -> bool {
        self.verified.contains(&(app, fid))
    }
    fn set_verified(&mut self, app: usize, fid: u16, yes: bool) {
        self.verified.retain(|v| *v != (app, fid));
        if yes {
            self.verified.push((app, fid));
        }
    }
}

/// A phone approval (Face ID / Touch ID) that authorises the auth key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Approval {
    /// The approval lapses at this instant.
    pub until: SimTime,
    /// Signatures it still allows.
    pub signatures_left: u32,
}

/// What kind of work a command cost the card, to price it with the profile's processing times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// SELECT.
    Select,
    /// READ BINARY returning this many bytes.
    Read(usize),
    /// VERIFY (with data or the counter query).
    Verify,
    /// CHANGE REFERENCE DATA.
    ChangePin,
    /// COMPUTE DIGITAL SIGNATURE.
    Sign,
    /// Anything else, refusals included.
    Other,
    /// A command that asks for a given card time (readertest time request), in nanoseconds.
    Timed(u64),
}

/// Counters an observer could learn from the card's side channels (for tearing tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideChannel {
    /// PIN comparisons the card has performed.
    pub pin_comparisons: u64,
}

/// The state a command may touch.
pub(crate) struct Ctx<'a> {
    pub app_index: usize,
    pub nvm: &'a mut Nvm<Persistent>,
    pub session: &'a mut Session,
    pub approval: &'a mut Option<Approval>,
    pub side: &'a mut SideChannel,
    pub now: SimTime,
    /// The card's seeded generator (PSS salts).
    pub rng: &'a mut rand_chacha::ChaCha8Rng,
}

pub(crate) type Handled = Result<(Response, Work), PowerLost>;

fn status(sw: Sw, work: Work) -> Handled {
    Ok((Response::status(sw), work))
}

/// Reads the target of a P2 that is `80` (the current EF) or `80 | SFI`.
fn p2_target(p2: u8, current: Option<u16>) -> Result<u16, Sw> {
    match p2 {
        0x80 => current.ok_or(Sw::FILE_NOT_FOUND),
        0x81..=0x9E => Ok(u16::from(p2 & 0x1F)),
        _ => Err(Sw::WRONG_P1P2),
    }
}

impl IsoApp {
    /// Processes a command addressed to this application (the card has dealt with SELECT by
    /// AID, the class byte's channel bits and malformed bytes).
    pub(crate) fn process(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        let iso = cmd.cla == 0x00;
        let proprietary = cmd.cla == 0x80;
        if !iso && !proprietary {
            return status(Sw::CLA_NOT_SUPPORTED, Work::Other);
        }
        if let Some(r) = self
            .refused
            .iter()
            .find(|r| (r.cla, r.ins) == (cmd.cla, cmd.ins))
        {
            return status(r.sw, Work::Other);
        }
        match (cmd.ins, iso) {
            (0xA4, true) => self.select(cmd, ctx),
            (0xB0, true) => self.read_binary(cmd, ctx),
            (0xB2, true) => self.read_record(cmd, ctx),
            (0x88, true) if self.internal_authenticate => self.internal_authenticate(cmd, ctx),
            (0x32, false) if self.change_key => self.change_key(cmd, ctx),
            (0x20, true) => self.verify(cmd, ctx),
            (0x24, true) => self.change_reference_data(cmd, ctx),
            (0x2A, false) => self.sign(cmd, ctx),
            (0xFC, false) if self.last_command.is_some() => self.last_command_indicator(cmd),
            (0xA4 | 0xB0 | 0x20 | 0x24, false) | (0x2A, true) => {
                status(Sw::CLA_NOT_SUPPORTED, Work::Other)
            }
            (0xFC, true) if self.last_command.is_some() => {
                status(Sw::CLA_NOT_SUPPORTED, Work::Other)
            }
            _ => status(Sw::INS_NOT_SUPPORTED, Work::Other),
        }
    }

    fn select(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        match cmd.p1 {
            // `00 A4 00 0C 02 3F 00`: the MF by its file id is not found, whatever is selected
            // (reported).
            0x00 if !cmd.data.is_empty() => status(Sw::FILE_NOT_FOUND, Work::Select),
            // Select MF / by FID from the MF: no effect with an application selected.
            0x00 => {
                let sw = if self.select_mf_ok {
                    Sw::OK
                } else {
                    Sw::WRONG_P1P2
                };
                status(sw, Work::Select)
            }
            // Select EF under the current DF.
            0x02 => {
                if !matches!(cmd.p2, 0x0C | 0x00) {
                    return status(Sw::WRONG_P1P2, Work::Select);
                }
                if cmd.data.len() != 2 || cmd.le.is_some() && cmd.p2 == 0x0C {
                    return status(Sw::WRONG_LENGTH, Work::Select);
                }
                let fid = u16::from_be_bytes([cmd.data[0], cmd.data[1]]);
                if self.ef(fid).is_none() {
                    return status(Sw::FILE_NOT_FOUND, Work::Select);
                }
                ctx.session.current_ef = Some(fid);
                status(Sw::OK, Work::Select)
            }
            _ => status(Sw::WRONG_P1P2, Work::Select),
        }
    }

    fn read_binary(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        let (fid, offset) = if cmd.p1 & 0x80 != 0 {
            if cmd.p1 & 0x60 != 0 || cmd.p1 & 0x1F == 0 {
                return status(Sw::WRONG_P1P2, Work::Other);
            }
            (u16::from(cmd.p1 & 0x1F), usize::from(cmd.p2))
        } else {
            let Some(fid) = ctx.session.current_ef else {
                return status(Sw::FILE_NOT_FOUND, Work::Other);
            };
            (fid, usize::from(u16::from_be_bytes([cmd.p1, cmd.p2])))
        };
        let Some(le) = cmd.le else {
            return status(Sw::WRONG_LENGTH, Work::Other);
        };
        if !cmd.data.is_empty() {
            return status(Sw::WRONG_LENGTH, Work::Other);
        }
        let Some(ef) = self.ef(fid) else {
            return status(Sw::FILE_NOT_FOUND, Work::Other);
        };
        ctx.session.current_ef = Some(fid);
        let (data, read) = match &ef.body {
            EfBody::Binary { data, read } => (data, read),
            EfBody::Records { .. } => return status(Sw::INCOMPATIBLE_WITH_FILE, Work::Other),
            _ => return status(Sw::SECURITY_STATUS_NOT_SATISFIED, Work::Other),
        };
        if !self.allowed(read, ctx) {
            return status(Sw::SECURITY_STATUS_NOT_SATISFIED, Work::Other);
        }
        if offset >= data.len() {
            return status(Sw::OFFSET_BEYOND_END, Work::Other);
        }
        let end = data.len().min(offset + le as usize);
        let chunk = data[offset..end].to_vec();
        let n = chunk.len();
        Ok((Response::ok(chunk), Work::Read(n)))
    }

    /// READ RECORD `00 B2 <record> <SFI<<3 | 4> Le`: the record numbered P1 of the current EF
    /// (SFI 0) or of the EF whose short identifier P2 carries, which becomes current — no SELECT
    /// needed (reported: the 共通カードAP read as `00 B2 01 0C 00`). Only "record number in P1"
    /// (P2's low bits 100) is offered; a record longer than Le answers 6C with its length.
    fn read_record(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        if cmd.p2 & 0x07 != 0x04 || cmd.p1 == 0 {
            return status(Sw::WRONG_P1P2, Work::Other);
        }
        let fid = match cmd.p2 >> 3 {
            0 => match ctx.session.current_ef {
                Some(fid) => fid,
                None => return status(Sw::FILE_NOT_FOUND, Work::Other),
            },
            sfi => u16::from(sfi),
        };
        let (Some(le), true) = (cmd.le, cmd.data.is_empty()) else {
            return status(Sw::WRONG_LENGTH, Work::Other);
        };
        let Some(ef) = self.ef(fid) else {
            return status(Sw::FILE_NOT_FOUND, Work::Other);
        };
        ctx.session.current_ef = Some(fid);
        let EfBody::Records { records, read } = &ef.body else {
            return status(Sw::INCOMPATIBLE_WITH_FILE, Work::Other);
        };
        if !self.allowed(read, ctx) {
            return status(Sw::SECURITY_STATUS_NOT_SATISFIED, Work::Other);
        }
        let Some(record) = records.get(usize::from(cmd.p1) - 1) else {
            return status(Sw::RECORD_NOT_FOUND, Work::Other);
        };
        if (le as usize) < record.len() {
            let exact = u8::try_from(record.len()).unwrap_or(0);
            return status(Sw::from_bytes(0x6C, exact), Work::Other);
        }
        Ok((Response::ok(record.to_vec()), Work::Read(record.len())))
    }

    /// INTERNAL AUTHENTICATE `00 88 00 <80|key> Lc <challenge> Le`: a PKCS#1 v1.5 signature of
    /// the SHA-256 DigestInfo of the challenge (1 to 255 bytes) with the key P2 names, under the
    /// key's usage rule (reported: the 共通カードAP's 0019 answers with no credential).
    fn internal_authenticate(&self, cmd: &Command<'_>, ctx: &Ctx<'_>) -> Handled {
        if cmd.p1 != 0x00 {
            return status(Sw::WRONG_P1P2, Work::Sign);
        }
        let fid = match p2_target(cmd.p2, ctx.session.current_ef) {
            Ok(fid) => fid,
            Err(sw) => return status(sw, Work::Sign),
        };
        let Some(EfBody::Key { key, usage }) = self.ef(fid).map(|e| &e.body) else {
            return status(Sw::FILE_NOT_FOUND, Work::Sign);
        };
        if cmd.data.is_empty() || cmd.data.len() > 255 {
            return status(Sw::WRONG_LENGTH, Work::Sign);
        }
        if cmd.le.is_some_and(|le| (le as usize) < key.size()) {
            return status(Sw::WRONG_LENGTH, Work::Sign);
        }
        if !self.allowed(usage, ctx) {
            return status(Sw::SECURITY_STATUS_NOT_SATISFIED, Work::Sign);
        }
        let digest_info = [
            &crate::platform::signature::SHA256_DIGEST_INFO_PREFIX[..],
            &openssl::sha::sha256(cmd.data),
        ]
        .concat();
        match key.sign_pkcs1(&digest_info) {
            Ok(signature) => Ok((Response::ok(signature), Work::Sign)),
            Err(_) => status(Sw::WRONG_DATA, Work::Sign),
        }
    }

    /// JICSAP's CHANGE KEY `80 32 00 <80|pin> Lc <new>`: like CHANGE REFERENCE DATA with only
    /// the new value, after the PIN is verified in this session.
    fn change_key(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        if cmd.p1 != 0x00 {
            return status(Sw::WRONG_P1P2, Work::ChangePin);
        }
        self.change_pin(cmd, ctx)
    }

    fn allowed(&self, access: &Access, ctx: &Ctx<'_>) -> bool {
        match access {
            Access::Always => true,
            Access::AnyPin(fids) => fids
                .iter()
                .any(|f| ctx.session.is_verified(ctx.app_index, *f)),
            Access::Approval => ctx
                .approval
                .is_some_and(|a| ctx.now < a.until && a.signatures_left > 0),
        }
    }

    fn pin_target(&self, p2: u8, ctx: &Ctx<'_>) -> Result<(u16, usize, &PinSpec), Sw> {
        let fid = p2_target(p2, ctx.session.current_ef)?;
        match self.ef(fid).map(|e| &e.body) {
            Some(EfBody::Pin { slot, spec }) => Ok((fid, *slot, spec)),
            _ => Err(Sw::FILE_NOT_FOUND),
        }
    }

    fn verify(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        if cmd.p1 != 0x00 {
            return status(Sw::WRONG_P1P2, Work::Verify);
        }
        let (fid, slot, spec) = match self.pin_target(cmd.p2, ctx) {
            Ok(t) => t,
            Err(sw) => return status(sw, Work::Verify),
        };
        if cmd.le.is_some() {
            return status(Sw::WRONG_LENGTH, Work::Verify);
        }
        let tries_left = ctx.nvm.get().pins[slot].tries_left;
        if cmd.data.is_empty() {
            // The counter query uses no try and answers the tries left, 63 Cx, whether or not
            // the PIN is verified — a JPKI card never answers 90 00 to it (reported: the trace
            // of OpenSC's JPKI driver author) — and 63 C0 on a blocked PIN (reported), not
            // 69 84, which is for a VERIFY with data on a blocked PIN.
            return status(Sw::verify_failed(tries_left), Work::Verify);
        }
        if tries_left == 0 {
            return status(Sw::PIN_BLOCKED, Work::Verify);
        }
        if !spec.accepts_length(cmd.data.len()) {
            return status(Sw::WRONG_LENGTH, Work::Verify);
        }
        // Decrement and commit before comparing: a power loss from here on cannot give a free
        // guess, because the try is already spent when the comparison happens.
        ctx.nvm
            .commit(|p| p.pins[slot].tries_left = tries_left - 1)?;
        ctx.side.pin_comparisons += 1;
        let matches = constant_time_eq(ctx.nvm.get().pins[slot].value.expose(), cmd.data);
        if matches {
            let max = spec.max_tries;
            ctx.nvm.commit(|p| p.pins[slot].tries_left = max)?;
            ctx.session.set_verified(ctx.app_index, fid, true);
            status(Sw::OK, Work::Verify)
        } else {
            ctx.session.set_verified(ctx.app_index, fid, false);
            status(Sw::verify_failed(tries_left - 1), Work::Verify)
        }
    }

    fn change_reference_data(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        if cmd.p1 != 0x01 {
            return status(Sw::WRONG_P1P2, Work::ChangePin);
        }
        self.change_pin(cmd, ctx)
    }

    /// Sets the PIN P2 names to the command's data, once it is verified in this session.
    fn change_pin(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        let (fid, slot, spec) = match self.pin_target(cmd.p2, ctx) {
            Ok(t) => t,
            Err(sw) => return status(sw, Work::ChangePin),
        };
        if ctx.nvm.get().pins[slot].tries_left == 0 {
            return status(Sw::PIN_BLOCKED, Work::ChangePin);
        }
        if !ctx.session.is_verified(ctx.app_index, fid) {
            return status(Sw::SECURITY_STATUS_NOT_SATISFIED, Work::ChangePin);
        }
        if cmd.le.is_some() || !spec.accepts_length(cmd.data.len()) {
            return status(Sw::WRONG_LENGTH, Work::ChangePin);
        }
        if !spec.accepts_chars(cmd.data) {
            return status(Sw::WRONG_DATA, Work::ChangePin);
        }
        let new = Secret::new(cmd.data.to_vec());
        ctx.nvm.commit(|p| p.pins[slot].value = new)?;
        status(Sw::OK, Work::ChangePin)
    }

    fn sign(&self, cmd: &Command<'_>, ctx: &mut Ctx<'_>) -> Handled {
        let Some(scheme) = Scheme::from_p1(cmd.p1).filter(|s| self.sign_schemes.contains(s)) else {
            return status(Sw::WRONG_P1P2, Work::Sign);
        };
        let target = match (cmd.p2, self.default_key) {
            (0x00, Some(key)) => Ok(key),
            (p2, _) => p2_target(p2, ctx.session.current_ef),
        };
        let fid = match target {
            Ok(fid) => fid,
            Err(sw) => return status(sw, Work::Sign),
        };
        let Some(EfBody::Key { key, usage }) = self.ef(fid).map(|e| &e.body) else {
            return status(Sw::FILE_NOT_FOUND, Work::Sign);
        };
        if let Err(sw) = scheme.check_input(cmd.data, key) {
            return status(sw, Work::Sign);
        }
        if cmd.le.is_some_and(|le| (le as usize) < key.size()) {
            return status(Sw::WRONG_LENGTH, Work::Sign);
        }
        if !self.allowed(usage, ctx) {
            return status(Sw::SECURITY_STATUS_NOT_SATISFIED, Work::Sign);
        }
        let rng = &mut *ctx.rng;
        let mut salt = || {
            let mut s = [0u8; 32];
            rand_core::RngCore::fill_bytes(rng, &mut s);
            s
        };
        let Ok(signature) = scheme.sign(key, cmd.data, &mut salt) else {
            return status(Sw::WRONG_DATA, Work::Sign);
        };
        if *usage == Access::Approval
            && let Some(a) = ctx.approval.as_mut()
        {
            a.signatures_left -= 1;
        }
        Ok((Response::ok(signature), Work::Sign))
    }

    fn last_command_indicator(&self, cmd: &Command<'_>) -> Handled {
        let sw = match self.last_command {
            Some(LastCommandIndicator::Accept) if cmd.p1 == 0 && cmd.p2 == 0 => Sw::OK,
            Some(LastCommandIndicator::Accept) => Sw::WRONG_P1P2,
            Some(LastCommandIndicator::WrongLength) => Sw::WRONG_LENGTH,
            Some(LastCommandIndicator::InsNotSupported) | None => Sw::INS_NOT_SUPPORTED,
        };
        status(sw, Work::Other)
    }
}

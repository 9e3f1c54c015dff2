//! The real reading stack as a backend: the case's reader model and card sit behind a vpcd slot
//! (our link connects to vpcd inside pcscd), and the host side talks to them through the `pcsc`
//! crate — `SCardGetStatusChange` for presence, `SCardConnect`, `SCardTransmit` — exactly as
//! eligibility-check software does. The stack's own failure forms (a 0-byte success after a
//! disconnect, `SCARD_E_NOT_TRANSACTED`, `SCARD_W_REMOVED_CARD`) become transport errors, and
//! every wait has a time-out: a dead link or pcscd never hangs a run.

use crate::link::backend::Backend;
use crate::link::presence::{self, Presence, PresenceError};
use crate::link::transport::{Transport, TransportError};
use crate::link::vpcd::{self, LinkConfig, LinkControl, Pace};
use kazasu_sim::reader::FrameRecord;
use kazasu_sim::reader::pcsc::{ControlError, Operator};
use kazasu_sim::vpcd::Slot;
use kazasu_sim::{LinkError, Reader, SimDuration, SimTime, Transmitted};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time-outs of the real-stack backend.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// pcscd noticing an insertion or removal (it polls vpcd every 400 ms).
    pub presence: Duration,
    /// One transmit through the stack.
    pub transmit: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            presence: Duration::from_secs(5),
            transmit: Duration::from_secs(10),
        }
    }
}

/// A case's card behind vpcd slot `slot`, reached through pcscd.
pub struct PcscBackend {
    slot: Arc<Mutex<Slot>>,
    control: LinkControl,
    link: Option<std::thread::JoinHandle<()>>,
    ctx: Option<pcsc::Context>,
    reader_name: CString,
    card: Option<pcsc::Card>,
    timeouts: Timeouts,
    /// Set while a transmit is in flight; the watchdog drops the link when it overstays.
    in_flight: Arc<Mutex<Option<Instant>>>,
    watchdog_stop: Arc<AtomicBool>,
    /// Wall time of the last transmit through the stack.
    pub last_wall: Duration,
    /// When the card was lost during an exchange: pcscd must poll the empty slot before the
    /// card may come back, or it never reports the new insertion.
    lost_at: Option<Instant>,
}

/// How long the slot stays empty after a loss: more than two of pcscd's 400 ms polls of vpcd.
/// kazasu's driver shows pcscd every departure as it happens: no hold.
const EMPTY_AFTER_LOSS: Duration = Duration::from_millis(1000);

/// When a backend last found pcscd gone after waiting for it: later cases then try once instead
/// of waiting again, so a run without pcscd ends quickly with clear errors.
static PCSCD_GONE: Mutex<Option<Instant>> = Mutex::new(None);

fn ctx_error(e: pcsc::Error) -> String {
    format!("pcscd is not reachable ({e}); start it with `kazasu stack up`")
}

/// How many vpcd slots pcscd has, counting from slot 0 (`kazasu_sim::vpcd::reader_name`).
pub fn configured_slots() -> Result<u16, String> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(ctx_error)?;
    let mut buf = vec![0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(5);
    let names: Vec<String> = loop {
        match ctx.list_readers(&mut buf) {
            Ok(r) => break r.map(|r| r.to_string_lossy().into_owned()).collect(),
            // A fresh pcscd lists its readers a moment after it starts.
            Err(pcsc::Error::NoReadersAvailable) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(pcsc::Error::NoReadersAvailable) => break Vec::new(),
            Err(e) => return Err(ctx_error(e)),
        }
    };
    let count = (0..kazasu_sim::vpcd::MAX_SLOTS)
        .take_while(|&n| names.contains(&kazasu_sim::vpcd::reader_name(n)))
        .count() as u16;
    if count == 0 {
        return Err(format!(
            "pcscd has no vpcd reader `{}` (readers: {}); is vsmartcard-vpcd installed and pcscd started by `kazasu stack up`?",
            kazasu_sim::vpcd::reader_name(0),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ));
    }
    Ok(count)
}

impl PcscBackend {
    /// Puts `model` behind vpcd slot `slot` (`kazasu_sim::vpcd::reader_name`); the card starts out of
    /// the field.
    pub fn new(
        slot_no: u16,
        model: Reader,
        pace: Pace,
        timeouts: Timeouts,
    ) -> Result<PcscBackend, String> {
        // pcscd may be restarting: keep trying for the presence time-out (once, if it was
        // already found gone).
        let gone = PCSCD_GONE.lock().expect("flag lock").is_some();
        let deadline = Instant::now()
            + if gone {
                Duration::ZERO
            } else {
                timeouts.presence
            };
        let ctx = loop {
            match pcsc::Context::establish(pcsc::Scope::User) {
                Ok(c) => {
                    *PCSCD_GONE.lock().expect("flag lock") = None;
                    break c;
                }
                Err(e) if Instant::now() >= deadline => {
                    *PCSCD_GONE.lock().expect("flag lock") = Some(Instant::now());
                    return Err(ctx_error(e));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let reader_name = CString::new(kazasu_sim::vpcd::reader_name(slot_no)).expect("no NUL");
        let mut buf = vec![0u8; 4096];
        let names: Vec<String> = loop {
            match ctx.list_readers(&mut buf) {
                Ok(r) => break r.map(|r| r.to_string_lossy().into_owned()).collect(),
                // A fresh pcscd lists its readers a moment after it starts.
                Err(pcsc::Error::NoReadersAvailable) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => return Err(ctx_error(e)),
            }
        };
        if !names.iter().any(|n| n.as_bytes() == reader_name.as_bytes()) {
            return Err(format!(
                "pcscd has no reader `{}` (readers: {}); is vsmartcard-vpcd installed and pcscd started by `kazasu stack up`?",
                reader_name.to_string_lossy(),
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ));
        }
        let slot = Arc::new(Mutex::new(Slot::new(model)));
        let mut cfg = LinkConfig::slot(slot_no);
        cfg.pace = pace;
        let (control, link) = vpcd::spawn_with(slot.clone(), cfg, Arc::new(|_| {}), false);
        let in_flight: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
        let watchdog_stop = Arc::new(AtomicBool::new(false));
        {
            let (in_flight, stop, control, limit) = (
                in_flight.clone(),
                watchdog_stop.clone(),
                control.clone(),
                timeouts.transmit,
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                    let overdue = in_flight
                        .lock()
                        .expect("watchdog lock")
                        .is_some_and(|t| t.elapsed() > limit);
                    if overdue {
                        // Our own time-out: take the card away so pcscd ends the transmit.
                        control.set_present(false);
                    }
                }
            });
        }
        // Start from an empty slot: wait until pcscd sees no card there.
        let mut b = PcscBackend {
            slot,
            control,
            link: Some(link),
            ctx: Some(ctx),
            reader_name,
            card: None,
            timeouts,
            in_flight,
            watchdog_stop,
            last_wall: Duration::ZERO,
            lost_at: None,
        };
        b.wait_for(false).map_err(|e| e.to_string())?;
        Ok(b)
    }

    fn context(&mut self) -> Result<&pcsc::Context, LinkError> {
        if self.ctx.as_ref().is_none_or(|c| c.is_valid().is_err()) {
            // pcscd restarted: a new context.
            self.ctx = pcsc::Context::establish(pcsc::Scope::User).ok();
            self.card = None;
        }
        self.ctx.as_ref().ok_or(LinkError::NoCard)
    }

    /// Waits until pcscd reports the card present (`true`) or absent, through a restart of
    /// pcscd (a new context each time it went away).
    fn wait_for(&mut self, present: bool) -> Result<(), PresenceError> {
        let waited = self.timeouts.presence;
        let deadline = Instant::now() + waited;
        let name = self.reader_name.clone();
        loop {
            let ctx = self
                .context()
                .map_err(|_| PresenceError::ServiceGone(pcsc::Error::NoService))?;
            match presence::wait(ctx, &name, Presence::of(present), deadline, waited) {
                Err(PresenceError::ServiceGone(_)) if Instant::now() < deadline => {
                    self.ctx = None;
                    std::thread::sleep(Duration::from_millis(100));
                }
                done => return done,
            }
        }
    }

    /// After a loss, keeps the slot empty long enough for pcscd to notice, then lets the link
    /// bring back a card that is still in the field in the model.
    fn settle_after_loss(&mut self) {
        if let Some(t) = self.lost_at.take() {
            if let Some(rest) = self.empty_after_loss().checked_sub(t.elapsed()) {
                std::thread::sleep(rest);
            }
            self.model(|s| s.lost = !s.reader.is_present());
        }
    }

    /// How long the slot stays empty after a loss, on the driver in use.
    fn empty_after_loss(&self) -> Duration {
        if self.control.on_kazasu_driver() {
            Duration::ZERO
        } else {
            EMPTY_AFTER_LOSS
        }
    }

    fn connect(&mut self) -> Result<(), LinkError> {
        if self.card.is_some() {
            return Ok(());
        }
        self.settle_after_loss();
        if !self.control.is_present() {
            return Err(LinkError::NoCard);
        }
        // pcscd may still be noticing a removal and a new insertion: retry until the deadline.
        let deadline = Instant::now() + self.timeouts.presence;
        let name = self.reader_name.clone();
        loop {
            self.wait_for(true).map_err(|_| LinkError::NoCard)?;
            match self.context()?.connect(
                name.as_c_str(),
                pcsc::ShareMode::Shared,
                pcsc::Protocols::ANY,
            ) {
                Ok(card) => {
                    self.card = Some(card);
                    return Ok(());
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(_) => return Err(LinkError::NoCard),
            }
        }
    }

    /// The card's PC/SC connection, made if there is none.
    fn connected(&mut self) -> Result<&pcsc::Card, LinkError> {
        self.connect()?;
        self.card.as_ref().ok_or(LinkError::NoCard)
    }

    fn model<T>(&self, f: impl FnOnce(&mut Slot) -> T) -> T {
        f(&mut self.slot.lock().expect("slot lock"))
    }
}

impl Drop for PcscBackend {
    fn drop(&mut self) {
        self.card = None;
        self.control.set_present(false);
        self.control.stop();
        self.watchdog_stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.link.take() {
            let _ = h.join();
        }
    }
}

/// The `pcsc` crate's name of an attribute tag kazasu's scenarios name.
fn attribute_of(tag: u32) -> Option<pcsc::Attribute> {
    use kazasu_sim::reader::pcsc::code;
    use pcsc::Attribute as A;
    Some(match tag {
        code::ATTR_VENDOR_NAME => A::VendorName,
        code::ATTR_VENDOR_IFD_TYPE => A::VendorIfdType,
        code::ATTR_VENDOR_IFD_VERSION => A::VendorIfdVersion,
        code::ATTR_VENDOR_IFD_SERIAL_NO => A::VendorIfdSerialNo,
        code::ATTR_CHANNEL_ID => A::ChannelId,
        code::ATTR_MAX_IFSD => A::MaxIfsd,
        code::ATTR_CURRENT_IFSC => A::CurrentIfsc,
        code::ATTR_CURRENT_IFSD => A::CurrentIfsd,
        code::ATTR_MAXINPUT => A::Maxinput,
        code::ATTR_ICC_PRESENCE => A::IccPresence,
        code::ATTR_ICC_INTERFACE_STATUS => A::IccInterfaceStatus,
        _ => return None,
    })
}

/// What pcscd's refusal of a reader request means.
fn refusal(code: u32, e: pcsc::Error) -> ControlError {
    match e {
        pcsc::Error::UnsupportedFeature => ControlError::Unsupported(code),
        e => ControlError::Failed(e.to_string()),
    }
}

/// `SCardControl` on a connected card's reader.
pub fn control_through(card: &pcsc::Card, code: u32, data: &[u8]) -> Result<Vec<u8>, ControlError> {
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    card.control(pcsc::ffi::DWORD::from(code), data, &mut buf)
        .map(<[u8]>::to_vec)
        .map_err(|e| refusal(code, e))
}

/// `SCardGetAttrib` on a connected card's reader (the attributes kazasu's scenarios name).
pub fn attribute_through(card: &pcsc::Card, tag: u32) -> Result<Vec<u8>, ControlError> {
    let attribute = attribute_of(tag).ok_or(ControlError::Unsupported(tag))?;
    card.get_attribute_owned(attribute)
        .map_err(|e| refusal(tag, e))
}

impl Backend for PcscBackend {
    fn tap(&mut self) -> Result<(), LinkError> {
        if self.control.is_present() && self.card.is_some() {
            return Ok(());
        }
        self.settle_after_loss();
        // The model's activation first (faults at the tap apply), then the link connects.
        self.model(|s| {
            s.lost = false;
            s.reader.tap()
        })?;
        self.control.set_present(true);
        self.connect()
    }

    fn remove(&mut self) {
        if let Some(card) = self.card.take() {
            let _ = card.disconnect(pcsc::Disposition::LeaveCard);
        }
        self.control.set_present(false);
        let _ = self.wait_for(false);
        self.model(|s| s.reader.remove());
    }

    fn disconnect(&mut self) -> Result<(), LinkError> {
        // PC/SC disconnect powering the card down: the next command starts afresh, as
        // in-process (a reset would be a warm one, which keeps the card's verified PINs).
        if let Some(card) = self.card.take() {
            let _ = card.disconnect(pcsc::Disposition::UnpowerCard);
        }
        self.model(|s| s.reader.disconnect())
    }

    fn warm_reset(&mut self) -> Result<(), LinkError> {
        // pcscd resets the card through vpcd; our slot answers with a warm reset of the model.
        self.connect()?;
        let card = self.card.as_mut().ok_or(LinkError::NoCard)?;
        card.reconnect(
            pcsc::ShareMode::Shared,
            pcsc::Protocols::ANY,
            pcsc::Disposition::ResetCard,
        )
        .map_err(|_| LinkError::NoCard)
    }
    fn approve(&mut self) -> bool {
        self.model(|s| s.reader.approve())
    }
    fn wait(&mut self, d: SimDuration) {
        self.model(|s| s.reader.wait(d))
    }
    fn bit_rate(&self) -> u32 {
        self.model(|s| s.reader.bit_rate())
    }
    fn uid(&self) -> Vec<u8> {
        self.model(|s| s.reader.card().uid().to_vec())
    }
    fn atr(&self) -> Result<Vec<u8>, LinkError> {
        // What pcscd reports for the connected card: the real stack's answer, not the model's.
        let card = self.card.as_ref().ok_or(LinkError::NoCard)?;
        if let Ok(status) = card.status2_owned() {
            return Ok(status.atr().to_vec());
        }
        // The connection went stale under us (pcscd still settling the slot on a loaded
        // machine): the reader's state carries the same ATR.
        let ctx = self.ctx.as_ref().ok_or(LinkError::NoCard)?;
        let mut states = [pcsc::ReaderState::new(
            self.reader_name.clone(),
            pcsc::State::UNAWARE,
        )];
        ctx.get_status_change(Duration::ZERO, &mut states)
            .map_err(|_| LinkError::NoCard)?;
        let state = &states[0];
        if state.event_state().contains(pcsc::State::PRESENT) && !state.atr().is_empty() {
            Ok(state.atr().to_vec())
        } else {
            Err(LinkError::NoCard)
        }
    }
    fn card_name(&self) -> String {
        self.model(|s| s.reader.card().profile().name.clone())
    }
    fn missed_faults(&self) -> Vec<String> {
        self.model(|s| crate::link::backend::describe_missed(&s.reader))
    }
    fn control(&mut self, code: u32, data: &[u8]) -> Result<Vec<u8>, ControlError> {
        control_through(self.connected().map_err(ControlError::Link)?, code, data)
    }
    fn attribute(&mut self, tag: u32) -> Result<Vec<u8>, ControlError> {
        attribute_through(self.connected().map_err(ControlError::Link)?, tag)
    }
    fn set_operator(&mut self, operator: Operator) {
        self.model(|s| s.reader.set_operator(operator))
    }
    fn reader_unreachable(&self) -> Option<String> {
        (!self.control.on_kazasu_driver()).then(|| {
            "the slot is vpcd's, which carries no SCardControl or SCardGetAttrib to kazasu: \
             start the stack with kazasu's driver (`kazasu stack up --driver kazasu`)"
                .into()
        })
    }
    fn finish(&mut self) {
        // A card lost at the end of a case: give pcscd time to see the slot empty before the
        // next case's card arrives.
        if let Some(t) = self.lost_at.take()
            && let Some(rest) = self.empty_after_loss().checked_sub(t.elapsed())
        {
            std::thread::sleep(rest);
        }
        self.remove();
    }
}

impl Transport for PcscBackend {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Transmitted, TransportError> {
        self.connect()?;
        self.model(|s| s.last_exchange = None);
        let started = Instant::now();
        *self.in_flight.lock().expect("watchdog lock") = Some(started);
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let result = self
            .card
            .as_ref()
            .expect("connected")
            .transmit(apdu, &mut buf)
            .map(<[u8]>::to_vec);
        *self.in_flight.lock().expect("watchdog lock") = None;
        self.last_wall = started.elapsed();
        let model = self.model(|s| s.last_exchange.take());
        match (result, model) {
            (Ok(response), Some(Ok(duration))) if response.len() >= 2 => {
                Ok(Transmitted { response, duration })
            }
            (Ok(response), None) if response.len() >= 2 => {
                // Answered without reaching our slot (pcscd itself): no model time.
                Ok(Transmitted {
                    response,
                    duration: SimDuration::ZERO,
                })
            }
            (_, Some(Err(e))) => {
                self.card = None;
                self.lost_at = Some(Instant::now());
                Err(e)
            }
            (Ok(_), _) | (Err(_), _) => {
                // A 0-byte "success" after the link closed, SCARD_E_NOT_TRANSACTED,
                // SCARD_W_REMOVED_CARD, or our watchdog: the card is gone for the host.
                self.card = None;
                self.lost_at = Some(Instant::now());
                if !self.control.is_present() {
                    self.model(|s| s.reader.remove());
                }
                Err(LinkError::CardRemoved)
            }
        }
    }
    fn now(&self) -> SimTime {
        self.model(|s| s.reader.now())
    }
    fn last_frames(&self) -> Vec<FrameRecord> {
        self.model(|s| s.reader.last_frames().to_vec())
    }
}

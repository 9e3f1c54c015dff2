//! Any PC/SC reader as a backend (`run --backend pcsc --device NAME`): the card on it is whatever
//! the operator holds there — a physical card, a phone, or another program's virtual card. A
//! `tap` or `remove` step becomes a prompt on the terminal and a wait for pcscd to see the
//! card arrive or leave, with a time-out; with `unattended`, a step that needs a tap or a removal
//! kazasu cannot cause fails instead. Faults cannot be injected into a real card: the runner
//! reports such cases not applicable. Time is wall time.

use crate::link::backend::Backend;
use crate::link::presence::{self, Presence, PresenceError};
use crate::link::transport::{Transport, TransportError};
use kazasu_sim::reader::pcsc::ControlError;
use kazasu_sim::{FrameRecord, LinkError, SimDuration, SimTime, Transmitted};
use std::ffi::CString;
use std::time::{Duration, Instant};

/// Why the operator's tap or removal did not happen.
#[derive(Debug, thiserror::Error)]
enum OperatorError {
    /// Nobody is there to do it.
    #[error(
        "--unattended: the case needs the card {} {reader}, which kazasu cannot do without an operator",
        match .awaited { Presence::Present => "tapped on", Presence::Absent => "taken off" }
    )]
    Unattended { awaited: Presence, reader: String },
    /// pcscd did not see it happen in time, or could not be asked.
    #[error(transparent)]
    Wait(#[from] PresenceError),
}

/// How the device backend waits for the operator.
#[derive(Clone, Copy, Debug)]
pub struct Operator {
    /// Longest wait for a card to arrive or leave.
    pub timeout: Duration,
    /// No one is there: a tap or removal that has not already happened fails.
    pub unattended: bool,
}

/// A PC/SC reader's name containing `part`; an error naming the readers when none or several do.
pub fn find_reader(ctx: &pcsc::Context, part: &str) -> Result<CString, String> {
    let mut buf = vec![0u8; 16 * 1024];
    let names: Vec<CString> = match ctx.list_readers(&mut buf) {
        Ok(r) => r.map(|n| n.to_owned()).collect(),
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(format!("cannot list the PC/SC readers: {e}")),
    };
    let matching: Vec<&CString> = names
        .iter()
        .filter(|n| n.to_string_lossy().contains(part))
        .collect();
    let list = || {
        if names.is_empty() {
            "no reader is connected".to_string()
        } else {
            format!(
                "readers: {}",
                names
                    .iter()
                    .map(|n| format!("`{}`", n.to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    match matching[..] {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "no PC/SC reader's name contains `{part}` ({}); `kazasu devices` lists them",
            list()
        )),
        _ => Err(format!(
            "{} PC/SC readers' names contain `{part}` ({}); give more of the name",
            matching.len(),
            list()
        )),
    }
}

/// A physical (or foreign) card on a PC/SC reader.
pub struct DeviceBackend {
    ctx: pcsc::Context,
    reader: CString,
    card: Option<pcsc::Card>,
    operator: Operator,
    started: Instant,
    /// The card has been taken off (in the scenario's view) and not tapped since.
    off: bool,
    /// The case's first tap accepts a card already on the reader.
    tapped_once: bool,
}

impl DeviceBackend {
    /// The reader whose name contains `name`.
    pub fn new(name: &str, operator: Operator) -> Result<DeviceBackend, String> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| {
            format!("pcscd is not reachable ({e}); start it (e.g. `systemctl start pcscd`)")
        })?;
        let reader = find_reader(&ctx, name)?;
        Ok(DeviceBackend {
            ctx,
            reader,
            card: None,
            operator,
            started: Instant::now(),
            off: false,
            tapped_once: false,
        })
    }

    /// The reader's full name.
    pub fn reader_name(&self) -> String {
        self.reader.to_string_lossy().into_owned()
    }

    fn present(&self) -> Result<bool, PresenceError> {
        presence::is_present(&self.ctx, &self.reader)
    }

    /// Waits until the card is there (`true`) or gone, telling the operator what to do.
    fn wait_for(&self, present: bool, prompt: &str) -> Result<(), OperatorError> {
        if self.present()? == present {
            return Ok(());
        }
        let awaited = Presence::of(present);
        if self.operator.unattended {
            return Err(OperatorError::Unattended {
                awaited,
                reader: self.reader_name(),
            });
        }
        eprintln!(
            "{prompt} (waiting up to {} s)",
            self.operator.timeout.as_secs()
        );
        let waited = self.operator.timeout;
        presence::wait(
            &self.ctx,
            &self.reader,
            awaited,
            Instant::now() + waited,
            waited,
        )?;
        Ok(())
    }

    fn connect(&mut self) -> Result<&pcsc::Card, LinkError> {
        if self.off {
            return Err(LinkError::NoCard);
        }
        if self.card.is_none() {
            let card = self
                .ctx
                .connect(
                    self.reader.as_c_str(),
                    pcsc::ShareMode::Shared,
                    pcsc::Protocols::ANY,
                )
                .map_err(|_| LinkError::NoCard)?;
            self.card = Some(card);
        }
        Ok(self.card.as_ref().expect("connected"))
    }
}

impl Transport for DeviceBackend {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Transmitted, TransportError> {
        let started = Instant::now();
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let result = self.connect()?.transmit(apdu, &mut buf).map(<[u8]>::to_vec);
        let duration = SimDuration::from_nanos(started.elapsed().as_nanos() as u64);
        match result {
            Ok(response) if response.len() >= 2 => Ok(Transmitted { response, duration }),
            _ => {
                self.card = None;
                Err(LinkError::CardRemoved)
            }
        }
    }
    fn now(&self) -> SimTime {
        SimTime::from_nanos(self.started.elapsed().as_nanos() as u64)
    }
    fn last_frames(&self) -> Vec<FrameRecord> {
        Vec::new()
    }
}

impl Backend for DeviceBackend {
    fn tap(&mut self) -> Result<(), LinkError> {
        let first = !self.tapped_once;
        self.tapped_once = true;
        if first && !self.off && self.present().unwrap_or(false) {
            // The operator put the card there before the case began.
            return Ok(());
        }
        if self.present().unwrap_or(false) {
            // A new tap needs the card to leave first (also when a removal did not happen).
            if let Err(e) = self.wait_for(
                false,
                &format!("Take the card off {} for a new tap", self.reader_name()),
            ) {
                eprintln!("{e}");
                return Err(LinkError::NoCard);
            }
        }
        self.card = None;
        if let Err(e) = self.wait_for(
            true,
            &format!("Hold the test card on {} now", self.reader_name()),
        ) {
            eprintln!("{e}");
            return Err(LinkError::NoCard);
        }
        self.off = false;
        self.connect().map(|_| ())
    }
    fn remove(&mut self) {
        self.card = None;
        if let Err(e) = self.wait_for(
            false,
            &format!("Take the card off {} now", self.reader_name()),
        ) {
            eprintln!("{e}");
        }
        // Whether or not it left, the scenario's card is out of the field: commands fail until
        // the next tap (which, if the card never left, cannot happen either).
        self.off = true;
    }
    fn disconnect(&mut self) -> Result<(), LinkError> {
        // The card's session ends and the next command finds it started afresh, as after the
        // model's DESELECT: a reset would not do — a real card keeps its selection and verified
        // PINs across a warm reset — so the reader powers it down.
        if let Some(card) = self.card.take() {
            card.disconnect(pcsc::Disposition::UnpowerCard)
                .map_err(|_| LinkError::NoCard)?;
        }
        Ok(())
    }
    fn warm_reset(&mut self) -> Result<(), LinkError> {
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
        // A phone's approval is the operator's (Face ID, Touch ID): it cannot be caused here.
        false
    }
    fn wait(&mut self, d: SimDuration) {
        std::thread::sleep(Duration::from_nanos(d.as_nanos()));
    }
    fn bit_rate(&self) -> u32 {
        0
    }
    fn uid(&self) -> Vec<u8> {
        // PC/SC part 3 GET DATA: the reader answers with the UID (Type B: PUPI).
        let mut buf = [0u8; 64];
        self.card
            .as_ref()
            .and_then(|c| c.transmit(&[0xFF, 0xCA, 0x00, 0x00, 0x00], &mut buf).ok())
            .filter(|r| r.len() >= 2 && r[r.len() - 2..] == [0x90, 0x00])
            .map(|r| r[..r.len() - 2].to_vec())
            .unwrap_or_default()
    }
    fn atr(&self) -> Result<Vec<u8>, LinkError> {
        if self.off {
            return Err(LinkError::NoCard);
        }
        let mut states = [pcsc::ReaderState::new(
            self.reader.as_c_str(),
            pcsc::State::UNAWARE,
        )];
        self.ctx
            .get_status_change(Duration::ZERO, &mut states)
            .map_err(|_| LinkError::NoCard)?;
        let atr = states[0].atr().to_vec();
        if atr.is_empty() {
            Err(LinkError::NoCard)
        } else {
            Ok(atr)
        }
    }
    fn card_name(&self) -> String {
        format!("the card on {}", self.reader_name())
    }
    fn finish(&mut self) {
        // The next case starts from a card powered up afresh, whatever this one verified
        // (dropping the connection would reset the card, which keeps its verified PINs).
        if let Some(card) = self.card.take() {
            let _ = card.disconnect(pcsc::Disposition::UnpowerCard);
        }
    }
    fn missed_faults(&self) -> Vec<String> {
        Vec::new()
    }
    fn injects_faults(&self) -> bool {
        false
    }
    fn control(&mut self, code: u32, data: &[u8]) -> Result<Vec<u8>, ControlError> {
        let card = self.connect().map_err(ControlError::Link)?;
        crate::link::pcsc::control_through(card, code, data)
    }
    fn attribute(&mut self, tag: u32) -> Result<Vec<u8>, ControlError> {
        let card = self.connect().map_err(ControlError::Link)?;
        crate::link::pcsc::attribute_through(card, tag)
    }
}

//! The C interface pcscd calls (pcsc-lite's `ifdhandler.h`, version 3), written by hand: its
//! types, the constants used (a test checks each against the installed headers), and the ten
//! functions pcscd looks up, each a thin wrapper that catches panics and turns pointers into
//! slices before the safe code sees them.

#![allow(non_snake_case)]

use crate::slot::Sent;
use std::ffi::{CStr, c_char, c_int, c_long, c_uchar, c_ulong};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// pcsc-lite's `DWORD` on Linux: `unsigned long`.
pub type Dword = c_ulong;
/// `RESPONSECODE`: `long`.
pub type ResponseCode = c_long;

/// `SCARD_IO_HEADER`, passed by value.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ScardIoHeader {
    /// The protocol.
    pub protocol: Dword,
    /// Its length.
    pub length: Dword,
}

/// The constants of `ifdhandler.h` and `reader.h` the driver uses, by their C names.
pub mod constants {
    use super::{Dword, ResponseCode};
    /// Success.
    pub const IFD_SUCCESS: ResponseCode = 0;
    /// Unknown tag.
    pub const IFD_ERROR_TAG: ResponseCode = 600;
    /// A set-capability failed.
    pub const IFD_ERROR_SET_FAILURE: ResponseCode = 601;
    /// A protocol the driver does not speak.
    pub const IFD_PROTOCOL_NOT_SUPPORTED: ResponseCode = 607;
    /// Power-up failed.
    pub const IFD_ERROR_POWER_ACTION: ResponseCode = 608;
    /// A control code the driver does not know (what libccid answers one with).
    pub const IFD_ERROR_NOT_SUPPORTED: ResponseCode = 606;
    /// A generic communication failure.
    pub const IFD_COMMUNICATION_ERROR: ResponseCode = 612;
    /// No answer in time.
    pub const IFD_RESPONSE_TIMEOUT: ResponseCode = 613;
    /// A request the driver does not support.
    pub const IFD_NOT_SUPPORTED: ResponseCode = 614;
    /// A card is present.
    pub const IFD_ICC_PRESENT: ResponseCode = 615;
    /// No card.
    pub const IFD_ICC_NOT_PRESENT: ResponseCode = 616;
    /// The device is gone.
    pub const IFD_NO_SUCH_DEVICE: ResponseCode = 617;
    /// The caller's buffer is too small.
    pub const IFD_ERROR_INSUFFICIENT_BUFFER: ResponseCode = 618;
    /// Power up.
    pub const IFD_POWER_UP: Dword = 500;
    /// Power down.
    pub const IFD_POWER_DOWN: Dword = 501;
    /// Warm reset.
    pub const IFD_RESET: Dword = 502;
    /// The ATR.
    pub const TAG_IFD_ATR: Dword = 0x0303;
    /// Slots of a reader may be used at once.
    pub const TAG_IFD_SLOT_THREAD_SAFE: Dword = 0x0FAC;
    /// The driver may be called from several threads.
    pub const TAG_IFD_THREAD_SAFE: Dword = 0x0FAD;
    /// Slots per reader.
    pub const TAG_IFD_SLOTS_NUMBER: Dword = 0x0FAE;
    /// Readers the driver serves at once.
    pub const TAG_IFD_SIMULTANEOUS_ACCESS: Dword = 0x0FAF;
    /// The polling thread may be cancelled.
    pub const TAG_IFD_POLLING_THREAD_KILLABLE: Dword = 0x0FB1;
    /// The function that stops the polling function.
    pub const TAG_IFD_STOP_POLLING_THREAD: Dword = 0x0FB2;
    /// The polling function with a time-out.
    pub const TAG_IFD_POLLING_THREAD_WITH_TIMEOUT: Dword = 0x0FB3;
    /// `SCARD_ATTR_ATR_STRING`.
    pub const SCARD_ATTR_ATR_STRING: Dword = 0x0009_0303;
    /// `SCARD_PROTOCOL_T1`.
    pub const SCARD_PROTOCOL_T1: Dword = 0x0002;
}

use constants::*;

/// The longest a command waits for kazasu's answer (a card paced in real time takes seconds
/// at most; kazasu gone is seen at once).
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

/// The longest a reader request waits for kazasu: a PIN pad gives its operator up to 255 s.
const READER_ANSWER_WITHIN: Duration = Duration::from_secs(300);

/// Attribute tags carry a class in their high 16 bits; the driver's own `TAG_IFD_*` do not.
const FIRST_ATTRIBUTE: Dword = 0x1_0000;

/// Asks the reader kazasu holds on `link`'s slot (`kind`: [`crate::link::CONTROL`] or
/// [`crate::link::ATTRIBUTE`]): its data, or the response code that says why there is none.
fn ask_reader(
    link: &crate::link::Link,
    kind: u8,
    code: Dword,
    data: &[u8],
) -> Result<Vec<u8>, ResponseCode> {
    let code = u32::try_from(code).map_err(|_| IFD_ERROR_NOT_SUPPORTED)?;
    // A holder that did not greet the driver as kazasu does not answer reader requests: refuse
    // at once rather than wait for it.
    if !link.speaks_kazasu() {
        return Err(IFD_ERROR_NOT_SUPPORTED);
    }
    match link.slot.ask(
        || link.send_reader_request(kind, code, data),
        READER_ANSWER_WITHIN,
    ) {
        Sent::Answer(frame) => match crate::link::ReaderAnswer::split(&frame) {
            (crate::link::ReaderAnswer::Done, data) => Ok(data.to_vec()),
            (crate::link::ReaderAnswer::Unsupported, _) => Err(IFD_ERROR_NOT_SUPPORTED),
            (crate::link::ReaderAnswer::Failed, _) => Err(IFD_COMMUNICATION_ERROR),
        },
        Sent::NoCard => Err(IFD_ICC_NOT_PRESENT),
        Sent::Lost | Sent::Fault(_) => Err(IFD_COMMUNICATION_ERROR),
        Sent::TimedOut => Err(IFD_RESPONSE_TIMEOUT),
    }
}

/// What pcscd is told of a fault of kazasu's reader model.
fn fault_code(code: u8) -> ResponseCode {
    match code {
        crate::link::FAULT_RESPONSE_TIMEOUT => IFD_RESPONSE_TIMEOUT,
        crate::link::FAULT_UNPLUGGED => IFD_NO_SUCH_DEVICE,
        _ => IFD_COMMUNICATION_ERROR,
    }
}

/// Runs `f`, turning a panic into `IFD_COMMUNICATION_ERROR`.
fn guarded(f: impl FnOnce() -> ResponseCode) -> ResponseCode {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(IFD_COMMUNICATION_ERROR)
}

/// Writes `value` to the caller's buffer of `*length` bytes.
///
/// # Safety
/// `length` and `out` must be valid for the sizes pcscd gives.
unsafe fn give(length: *mut Dword, out: *mut c_uchar, value: &[u8]) -> ResponseCode {
    if length.is_null() || out.is_null() {
        return IFD_COMMUNICATION_ERROR;
    }
    // SAFETY: pcscd passes a valid length and a buffer of that many bytes.
    unsafe {
        if (*length as usize) < value.len() {
            return IFD_ERROR_INSUFFICIENT_BUFFER;
        }
        std::ptr::copy_nonoverlapping(value.as_ptr(), out, value.len());
        *length = value.len() as Dword;
    }
    IFD_SUCCESS
}

/// pcsc-lite's version-3 entry: opens channel `Lun` on the socket named in `reader.conf`.
///
/// # Safety
/// `DeviceName` is a NUL-terminated string (pcscd's).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHCreateChannelByName(
    Lun: Dword,
    DeviceName: *const c_char,
) -> ResponseCode {
    if DeviceName.is_null() {
        return IFD_NO_SUCH_DEVICE;
    }
    // SAFETY: pcscd passes a NUL-terminated device name.
    let name = unsafe { CStr::from_ptr(DeviceName) }
        .to_string_lossy()
        .into_owned();
    guarded(|| match crate::open(Lun, &name) {
        Ok(()) => IFD_SUCCESS,
        Err(_) => IFD_NO_SUCH_DEVICE,
    })
}

/// The version-2 entry, by channel number: refused (a socket path is needed).
#[unsafe(no_mangle)]
pub extern "C" fn IFDHCreateChannel(_Lun: Dword, _Channel: Dword) -> ResponseCode {
    IFD_NO_SUCH_DEVICE
}

/// Closes channel `Lun`.
#[unsafe(no_mangle)]
pub extern "C" fn IFDHCloseChannel(Lun: Dword) -> ResponseCode {
    guarded(|| {
        crate::close(Lun);
        IFD_SUCCESS
    })
}

/// The polling function pcscd's event thread calls: returns once the slot has something to
/// show (or pcscd asked it to stop, or `timeout_ms` passed) — always `IFD_SUCCESS`, as
/// anything else makes pcscd sleep 400 ms anyway.
extern "C" fn poll_for_event(Lun: Dword, timeout_ms: c_int) -> ResponseCode {
    let _ = guarded(|| {
        if let Some(link) = crate::channel(Lun) {
            let ms = u64::try_from(timeout_ms).unwrap_or(0);
            link.slot.wait_for_event(Duration::from_millis(ms));
        }
        IFD_SUCCESS
    });
    IFD_SUCCESS
}

/// pcscd's request to end a wait of [`poll_for_event`] (latched when it is not waiting).
extern "C" fn stop_polling(Lun: Dword) -> ResponseCode {
    guarded(|| {
        if let Some(link) = crate::channel(Lun) {
            link.slot.stop();
        }
        IFD_SUCCESS
    })
}

/// Capabilities and attributes.
///
/// # Safety
/// `Length` and `Value` are pcscd's: `*Length` bytes at `Value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHGetCapabilities(
    Lun: Dword,
    Tag: Dword,
    Length: *mut Dword,
    Value: *mut c_uchar,
) -> ResponseCode {
    type Polling = extern "C" fn(Dword, c_int) -> ResponseCode;
    type Stop = extern "C" fn(Dword) -> ResponseCode;
    let Some(link) = crate::channel(Lun) else {
        return IFD_NO_SUCH_DEVICE;
    };
    let give_fn = |f: usize| {
        // SAFETY: as `give`; pcscd reads the pointer back from the buffer.
        unsafe { give(Length, Value, &f.to_ne_bytes()) }
    };
    guarded(|| match Tag {
        TAG_IFD_ATR | SCARD_ATTR_ATR_STRING => match link.slot.atr() {
            // SAFETY: pcscd's buffer and length.
            Some(atr) => unsafe { give(Length, Value, &atr) },
            None => IFD_ICC_NOT_PRESENT,
        },
        // SAFETY (all below): pcscd's buffer and length.
        TAG_IFD_SLOTS_NUMBER => unsafe { give(Length, Value, &[crate::slots(Lun).min(255) as u8]) },
        TAG_IFD_THREAD_SAFE => unsafe { give(Length, Value, &[1]) },
        TAG_IFD_SLOT_THREAD_SAFE => unsafe { give(Length, Value, &[1]) },
        TAG_IFD_SIMULTANEOUS_ACCESS => unsafe { give(Length, Value, &[16]) },
        TAG_IFD_POLLING_THREAD_WITH_TIMEOUT => give_fn(poll_for_event as Polling as usize),
        TAG_IFD_STOP_POLLING_THREAD => give_fn(stop_polling as Stop as usize),
        // Reader attributes: the reader model kazasu holds answers (none without a card).
        tag if tag >= FIRST_ATTRIBUTE => {
            match ask_reader(&link, crate::link::ATTRIBUTE, tag, &[]) {
                // SAFETY: pcscd's buffer and length.
                Ok(value) => unsafe { give(Length, Value, &value) },
                Err(_) => IFD_ERROR_TAG,
            }
        }
        _ => IFD_ERROR_TAG,
    })
}

/// Capabilities pcscd sets: none is taken.
#[unsafe(no_mangle)]
pub extern "C" fn IFDHSetCapabilities(
    _Lun: Dword,
    _Tag: Dword,
    _Length: Dword,
    _Value: *mut c_uchar,
) -> ResponseCode {
    IFD_ERROR_SET_FAILURE
}

/// T=1 is the contactless card's protocol (a PC/SC part 3 reader's); T=0 is refused.
#[unsafe(no_mangle)]
pub extern "C" fn IFDHSetProtocolParameters(
    _Lun: Dword,
    Protocol: Dword,
    _Flags: c_uchar,
    _PTS1: c_uchar,
    _PTS2: c_uchar,
    _PTS3: c_uchar,
) -> ResponseCode {
    if Protocol == SCARD_PROTOCOL_T1 {
        IFD_SUCCESS
    } else {
        IFD_PROTOCOL_NOT_SUPPORTED
    }
}

/// Powers the card up (the ATR back), down, or resets it; kazasu is told.
///
/// # Safety
/// `Atr` holds `*AtrLength` bytes (pcscd's `MAX_ATR_SIZE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHPowerICC(
    Lun: Dword,
    Action: Dword,
    Atr: *mut c_uchar,
    AtrLength: *mut Dword,
) -> ResponseCode {
    let Some(link) = crate::channel(Lun) else {
        return IFD_NO_SUCH_DEVICE;
    };
    guarded(|| {
        let request: u8 = match Action {
            IFD_POWER_DOWN => 0x00,
            IFD_POWER_UP => 0x01,
            IFD_RESET => 0x02,
            _ => return IFD_NOT_SUPPORTED,
        };
        if Action == IFD_POWER_DOWN {
            let _ = link.send(&[request]);
            if !AtrLength.is_null() {
                // SAFETY: pcscd's length.
                unsafe { *AtrLength = 0 };
            }
            return IFD_SUCCESS;
        }
        // No card, or a mute one (its ATR empty): the power-up fails.
        let Some(atr) = link.slot.atr().filter(|a| !a.is_empty()) else {
            return IFD_ERROR_POWER_ACTION;
        };
        // A card that already left (its departure queued behind this arrival) still powered
        // up with its ATR: pcscd shows the tap, then the removal.
        let _ = link.send(&[request]);
        // SAFETY: pcscd's buffer and length.
        unsafe { give(AtrLength, Atr, &atr) }
    })
}

/// Sends an APDU to the card and gives back its answer.
///
/// # Safety
/// `TxBuffer` holds `TxLength` bytes, `RxBuffer` `*RxLength`; `RecvPci` may be null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHTransmitToICC(
    Lun: Dword,
    _SendPci: ScardIoHeader,
    TxBuffer: *const c_uchar,
    TxLength: Dword,
    RxBuffer: *mut c_uchar,
    RxLength: *mut Dword,
    RecvPci: *mut ScardIoHeader,
) -> ResponseCode {
    let Some(link) = crate::channel(Lun) else {
        return IFD_NO_SUCH_DEVICE;
    };
    if TxBuffer.is_null() {
        return IFD_COMMUNICATION_ERROR;
    }
    // SAFETY: pcscd's command of TxLength bytes.
    let apdu = unsafe { std::slice::from_raw_parts(TxBuffer, TxLength as usize) }.to_vec();
    // Nothing received until an answer is given: pcscd logs `*RxLength` bytes of the buffer as
    // the answer even when the transmit fails.
    let capacity = if RxLength.is_null() {
        return IFD_COMMUNICATION_ERROR;
    } else {
        // SAFETY: pcscd's length.
        unsafe { std::mem::replace(&mut *RxLength, 0) }
    };
    guarded(|| {
        #[cfg(feature = "panic-test")]
        if apdu == [0xFF, 0xEE, 0x00, 0x00, 0x00] {
            panic!("a panic injected by the panic-test build");
        }
        match link.slot.transmit(|| link.send(&apdu), ANSWER_WITHIN) {
            Sent::Answer(answer) => {
                if !RecvPci.is_null() {
                    // SAFETY: pcscd's header.
                    unsafe { (*RecvPci).protocol = SCARD_PROTOCOL_T1 };
                }
                // SAFETY: pcscd's buffer and length (its capacity restored for `give`).
                unsafe {
                    *RxLength = capacity;
                    let given = give(RxLength, RxBuffer, &answer);
                    if given != IFD_SUCCESS {
                        *RxLength = 0;
                    }
                    given
                }
            }
            Sent::NoCard => IFD_ICC_NOT_PRESENT,
            Sent::Lost => IFD_COMMUNICATION_ERROR,
            Sent::TimedOut => IFD_RESPONSE_TIMEOUT,
            Sent::Fault(code) => fault_code(code),
        }
    })
}

/// `SCardControl`: forwarded to the reader model kazasu holds on the slot (PC/SC part 10's
/// features, a PIN pad's commands, vendor escapes).
///
/// # Safety
/// `TxBuffer` holds `TxLength` bytes (or is null), `RxBuffer` `RxLength`; `pdwBytesReturned`
/// is pcscd's count (or null).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHControl(
    Lun: Dword,
    dwControlCode: Dword,
    TxBuffer: *const c_uchar,
    TxLength: Dword,
    RxBuffer: *mut c_uchar,
    RxLength: Dword,
    pdwBytesReturned: *mut Dword,
) -> ResponseCode {
    if pdwBytesReturned.is_null() {
        return IFD_COMMUNICATION_ERROR;
    }
    // SAFETY: pcscd's count.
    unsafe { *pdwBytesReturned = 0 };
    let Some(link) = crate::channel(Lun) else {
        return IFD_NO_SUCH_DEVICE;
    };
    let data = if TxBuffer.is_null() || TxLength == 0 {
        Vec::new()
    } else {
        // SAFETY: pcscd's request of TxLength bytes.
        unsafe { std::slice::from_raw_parts(TxBuffer, TxLength as usize) }.to_vec()
    };
    guarded(|| {
        match ask_reader(&link, crate::link::CONTROL, dwControlCode, &data) {
            Ok(answer) => {
                if answer.len() > RxLength as usize || (RxBuffer.is_null() && !answer.is_empty()) {
                    return IFD_ERROR_INSUFFICIENT_BUFFER;
                }
                if !answer.is_empty() {
                    // SAFETY: pcscd's buffer of RxLength bytes, checked above.
                    unsafe {
                        std::ptr::copy_nonoverlapping(answer.as_ptr(), RxBuffer, answer.len())
                    };
                }
                // SAFETY: pcscd's count.
                unsafe { *pdwBytesReturned = answer.len() as Dword };
                IFD_SUCCESS
            }
            Err(code) => code,
        }
    })
}

/// Whether a card is shown present.
#[unsafe(no_mangle)]
pub extern "C" fn IFDHICCPresence(Lun: Dword) -> ResponseCode {
    guarded(|| match crate::channel(Lun) {
        Some(link) if link.slot.present() => IFD_ICC_PRESENT,
        Some(_) => IFD_ICC_NOT_PRESENT,
        None => IFD_NO_SUCH_DEVICE,
    })
}

//! The card side of vsmartcard's vpcd protocol, sans-IO (`docs/vpcd.md`).
//!
//! Both directions frame a payload as a 2-byte big-endian length and the bytes. A 1-byte
//! payload is a control code (power off, power on, reset, get ATR); anything longer is a
//! command APDU. kazasu's own pcscd driver adds two requests vpcd never sends: a 1-byte
//! [`CONTROL`] or [`ATTRIBUTE`] announces that the next frame is an `SCardControl` request
//! (the control code, 4 bytes big-endian, then its data) or an `SCardGetAttrib` tag (4 bytes
//! big-endian); their answer is a [`ReaderAnswer`] byte and the data. [`Decoder`] turns a byte stream into requests, [`encode`] builds a reply as one
//! buffer (so the IO shell writes length and payload in one write), and [`Slot`] answers the
//! requests with a virtual reader and card — the same model as in-process runs.

use crate::reader::Reader;
use crate::time::SimDuration;

/// Largest payload the framing carries.
pub const MAX_PAYLOAD: usize = 0xFFFF;
/// The first vpcd port; slot n listens on `BASE_PORT + n`.
pub const BASE_PORT: u16 = 35963;

/// The most vpcd slots pcscd serves (its limit of 16 readers).
pub const MAX_SLOTS: u16 = 16;

/// The PC/SC name of vpcd slot `slot` as kazasu's pcscd configuration sets it up: vpcd drives
/// two slots per configured reader, and pcscd names the slots of the first "Virtual PCD 00 00"
/// and "Virtual PCD 00 01" (Debian's default configuration), those of the k-th further reader
/// "Virtual PCD k 00 00" and "Virtual PCD k 00 01" (`ci/pcscd.sh`).
pub fn reader_name(slot: u16) -> String {
    match slot / 2 {
        0 => format!("Virtual PCD 00 {:02}", slot % 2),
        k => format!("Virtual PCD {k} 00 {:02}", slot % 2),
    }
}

/// kazasu's link says it speaks kazasu's additions: its first frame on a connection to kazasu's
/// driver, before the ATR (which never starts with `k`). After it, every answer frame starts
/// with a byte: [`ANSWER`] and the answer, or [`FAULT`] and a [`ReaderFault`].
pub const KAZASU_HELLO: &[u8] = b"kazasu/1";
/// The answer follows.
pub const ANSWER: u8 = 0x00;
/// The reader failed the request: its [`ReaderFault`] follows.
pub const FAULT: u8 = 0x01;

/// A failure of the reader itself, which kazasu's driver reports to pcscd as such (vpcd has no
/// way to: there the card leaves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ReaderFault {
    /// The card gave no answer after the reader's retries (`IFD_RESPONSE_TIMEOUT`; pcscd:
    /// `SCARD_E_NOT_TRANSACTED`); the card stays in the field.
    ResponseTimeout = 1,
    /// The reader went away (`IFD_NO_SUCH_DEVICE`; pcscd: `SCARD_E_READER_UNAVAILABLE`); the
    /// card with it.
    Unplugged = 2,
    /// The answer to the ATR request of a card that never answered its activation: the driver
    /// shows it present and fails its power-up (`IFD_ERROR_POWER_ACTION`; pcscd:
    /// `SCARD_W_UNPOWERED_CARD`).
    Mute = 3,
}

/// The frame of [`KAZASU_HELLO`].
pub fn kazasu_hello() -> Vec<u8> {
    encode(KAZASU_HELLO).expect("eight bytes fit")
}

/// The answer continues in the next frame (an answer of 65,535 bytes does not fit one frame
/// with its mark).
pub const ANSWER_PART: u8 = 0x02;

/// An answer in kazasu's form: the payload of a vpcd `frame` behind [`ANSWER`], its first
/// part behind [`ANSWER_PART`] when it is too long for one frame with the mark.
pub fn kazasu_answer(frame: &[u8]) -> Result<Vec<u8>, VpcdError> {
    let payload = frame.get(2..).unwrap_or_default();
    let mut parts = payload.chunks(MAX_PAYLOAD - 1).peekable();
    if parts.peek().is_none() {
        return encode(&[ANSWER]);
    }
    let mut out = Vec::with_capacity(payload.len() + 6);
    while let Some(part) = parts.next() {
        let mark = if parts.peek().is_some() {
            ANSWER_PART
        } else {
            ANSWER
        };
        out.extend(encode(&[&[mark][..], part].concat())?);
    }
    Ok(out)
}

/// A fault frame in kazasu's form.
pub fn kazasu_fault(fault: ReaderFault) -> Vec<u8> {
    encode(&[FAULT, fault as u8]).expect("two bytes fit")
}

/// kazasu's driver: the next frame is an `SCardControl` request.
pub const CONTROL: u8 = 0x10;
/// kazasu's driver: the next frame is an `SCardGetAttrib` tag.
pub const ATTRIBUTE: u8 = 0x11;

/// The first byte of the answer to a [`CONTROL`] or [`ATTRIBUTE`] request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ReaderAnswer {
    /// The data follows.
    Done = 0,
    /// No such feature or attribute, or a malformed request (pcscd:
    /// `SCARD_E_UNSUPPORTED_FEATURE`).
    Unsupported = 1,
    /// The reader failed the request (pcscd: `SCARD_E_NOT_TRANSACTED`).
    Failed = 2,
}

impl ReaderAnswer {
    /// An answer payload read back: its verdict and data (a byte it does not know: failed).
    pub fn of(payload: &[u8]) -> (ReaderAnswer, &[u8]) {
        match payload.split_first() {
            Some((0, data)) => (ReaderAnswer::Done, data),
            Some((1, _)) => (ReaderAnswer::Unsupported, &[]),
            _ => (ReaderAnswer::Failed, &[]),
        }
    }
}

/// A request from vpcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `00`: power off.
    PowerOff,
    /// `01`: power on.
    PowerOn,
    /// `02`: reset.
    Reset,
    /// `04`: get the ATR (answered at any time, powered or not).
    GetAtr,
    /// A command APDU.
    Apdu(Vec<u8>),
    /// `SCardControl` (kazasu's driver only).
    Control {
        /// The control code.
        code: u32,
        /// Its data.
        data: Vec<u8>,
    },
    /// `SCardGetAttrib` (kazasu's driver only).
    Attribute(u32),
}

/// The peer broke the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VpcdError {
    /// A 1-byte payload that is not a known control code.
    #[error("unknown vpcd control code {0:02X}")]
    UnknownControl(u8),
    /// A zero-length frame (vpcd never sends one).
    #[error("empty vpcd frame")]
    Empty,
    /// A control or attribute request shorter than its 4-byte code.
    #[error("a reader request of {0} bytes, shorter than its 4-byte code")]
    ShortReaderRequest(usize),
    /// A reply too long for the 2-byte length.
    #[error("reply of {0} bytes does not fit the vpcd framing (at most 65535)")]
    TooLong(usize),
}

/// Reassembles frames from a byte stream.
#[derive(Default, Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// A [`CONTROL`] or [`ATTRIBUTE`] byte came: the next frame is its body.
    announced: Option<u8>,
}

impl Decoder {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
    /// The next complete request, if one is buffered.
    pub fn next_request(&mut self) -> Option<Result<Request, VpcdError>> {
        if self.buf.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
        if self.buf.len() < 2 + len {
            return None;
        }
        let payload: Vec<u8> = self.buf.drain(..2 + len).skip(2).collect();
        match (self.announced.take(), payload.as_slice()) {
            (Some(kind), _) => Some(reader_request(kind, payload)),
            (None, [k @ (CONTROL | ATTRIBUTE)]) => {
                self.announced = Some(*k);
                self.next_request()
            }
            (None, _) => Some(parse(payload)),
        }
    }
    /// Bytes buffered but not yet a whole frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn parse(payload: Vec<u8>) -> Result<Request, VpcdError> {
    match payload.as_slice() {
        [] => Err(VpcdError::Empty),
        [0x00] => Ok(Request::PowerOff),
        [0x01] => Ok(Request::PowerOn),
        [0x02] => Ok(Request::Reset),
        [0x04] => Ok(Request::GetAtr),
        [c] => Err(VpcdError::UnknownControl(*c)),
        _ => Ok(Request::Apdu(payload)),
    }
}

/// The body of a [`CONTROL`] or [`ATTRIBUTE`] request.
fn reader_request(kind: u8, body: Vec<u8>) -> Result<Request, VpcdError> {
    let Some(code) = body.first_chunk::<4>().map(|c| u32::from_be_bytes(*c)) else {
        return Err(VpcdError::ShortReaderRequest(body.len()));
    };
    Ok(if kind == CONTROL {
        Request::Control {
            code,
            data: body[4..].to_vec(),
        }
    } else {
        Request::Attribute(code)
    })
}

/// The frames of a [`CONTROL`] request (the announcing byte and the body), as kazasu's driver
/// sends them.
pub fn encode_control(code: u32, data: &[u8]) -> Result<Vec<u8>, VpcdError> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(data);
    let mut out = encode(&[CONTROL])?;
    out.extend(encode(&body)?);
    Ok(out)
}

/// The frames of an [`ATTRIBUTE`] request.
pub fn encode_attribute(tag: u32) -> Vec<u8> {
    let mut out = encode(&[ATTRIBUTE]).expect("one byte fits");
    out.extend(encode(&tag.to_be_bytes()).expect("four bytes fit"));
    out
}

/// The answer frame to a reader request.
pub fn encode_reader_answer(answer: ReaderAnswer, data: &[u8]) -> Result<Vec<u8>, VpcdError> {
    let mut payload = Vec::with_capacity(1 + data.len());
    payload.push(answer as u8);
    payload.extend_from_slice(data);
    encode(&payload)
}

/// A frame: the 2-byte length and the payload in one buffer.
pub fn encode(payload: &[u8]) -> Result<Vec<u8>, VpcdError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(VpcdError::TooLong(payload.len()));
    }
    let mut out = Vec::with_capacity(payload.len() + 2);
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// What the link does after a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send this frame (already encoded); `pace` is the modelled duration to wait out first
    /// when pacing in real time.
    Send {
        /// The encoded frame.
        frame: Vec<u8>,
        /// Modelled duration of the exchange.
        pace: SimDuration,
    },
    /// Nothing to send (power commands).
    Nothing,
    /// The card leaves: close the connection (pcscd sees a removal).
    Close,
    /// The reader itself failed: kazasu's driver reports it to pcscd (then, for an unplugged
    /// reader, the connection closes); on vpcd the card leaves, as with [`Reply::Close`].
    ReaderFault(ReaderFault),
}

/// What sits behind a vpcd slot: something that answers vpcd's requests. The virtual reader and
/// card ([`Slot`]) is one; a recorded card replaying a capture is another.
pub trait SlotCard {
    /// The link connected to vpcd: the card enters the field. An error keeps the link away.
    fn connected(&mut self) -> Result<(), crate::reader::LinkError>;
    /// The link closed: the card left the field.
    fn disconnected(&mut self);
    /// Answers one request.
    fn handle(&mut self, request: &Request) -> Reply;
    /// The card is out of the field on its own account: the link stays away until this is false.
    fn stays_away(&self) -> bool;
    /// The card leaves the field right after the reply just sent.
    fn leave_after_reply(&mut self) -> bool {
        false
    }
    /// A [`ReaderFault::ResponseTimeout`] reached pcscd as such (through kazasu's driver): the
    /// card stays in the field rather than being kept away as after a loss.
    fn stays_after_timeout(&mut self) {}
}

impl SlotCard for Slot {
    fn connected(&mut self) -> Result<(), crate::reader::LinkError> {
        Slot::connected(self)
    }
    fn disconnected(&mut self) {
        Slot::disconnected(self)
    }
    fn handle(&mut self, request: &Request) -> Reply {
        Slot::handle(self, request)
    }
    fn stays_away(&self) -> bool {
        self.lost
    }
    fn stays_after_timeout(&mut self) {
        self.lost = false;
    }
}

/// A vpcd slot holding a virtual reader and card: tap = the link connects, removal = it closes.
pub struct Slot {
    /// The reader model the APDUs go through.
    pub reader: Reader,
    /// How the last APDU went in the model: its simulated duration, or why it failed.
    pub last_exchange: Option<Result<SimDuration, crate::reader::LinkError>>,
    /// The link dropped the card during an exchange (a removal, or an error the real stack can
    /// only see as one): the link stays away until the host side lets it back.
    pub lost: bool,
}

impl Slot {
    /// A slot around a reader (the card is tapped when the link connects).
    pub fn new(reader: Reader) -> Slot {
        Slot {
            reader,
            last_exchange: None,
            lost: false,
        }
    }

    /// The link connected to vpcd: the card enters the field (unless it already has).
    pub fn connected(&mut self) -> Result<(), crate::reader::LinkError> {
        self.lost = false;
        if self.reader.is_present() {
            Ok(())
        } else {
            match self.reader.tap() {
                // In the field, mute: pcscd is shown a card it cannot power up.
                Err(crate::reader::LinkError::Unresponsive) => Ok(()),
                other => other,
            }
        }
    }

    /// The link closed: the card left the field.
    pub fn disconnected(&mut self) {
        self.reader.remove();
    }

    /// Answers one request.
    pub fn handle(&mut self, request: &Request) -> Reply {
        match request {
            Request::GetAtr if self.reader.is_mute() => Reply::ReaderFault(ReaderFault::Mute),
            Request::GetAtr => {
                let atr = self.reader.reported_atr();
                Reply::Send {
                    frame: encode(&atr).expect("an ATR fits"),
                    pace: SimDuration::ZERO,
                }
            }
            Request::PowerOff => {
                let _ = self.reader.disconnect();
                Reply::Nothing
            }
            Request::PowerOn => {
                // The reader re-activates the card: a cold start of its session.
                let _ = self.reader.disconnect();
                match self.reader.connect() {
                    Ok(_) => Reply::Nothing,
                    Err(_) => Reply::Close,
                }
            }
            // pcscd resets the card (a client's SCardReconnect or SCardDisconnect with
            // SCARD_RESET_CARD): a warm reset, the field left on.
            Request::Reset => match self.reader.warm_reset() {
                Ok(_) => Reply::Nothing,
                Err(_) => Reply::Close,
            },
            Request::Control { code, data } => {
                let before = self.reader.now();
                let (answer, data) = match self.reader.control(*code, data) {
                    Ok(data) => (ReaderAnswer::Done, data),
                    Err(
                        crate::reader::pcsc::ControlError::Unsupported(_)
                        | crate::reader::pcsc::ControlError::Malformed { .. },
                    ) => (ReaderAnswer::Unsupported, Vec::new()),
                    Err(_) => (ReaderAnswer::Failed, Vec::new()),
                };
                match encode_reader_answer(answer, &data) {
                    Ok(frame) => Reply::Send {
                        frame,
                        pace: self.reader.now().since(before),
                    },
                    Err(_) => Reply::Close,
                }
            }
            Request::Attribute(tag) => {
                let frame = match self.reader.attribute(*tag) {
                    Some(v) => encode_reader_answer(ReaderAnswer::Done, &v),
                    None => encode_reader_answer(ReaderAnswer::Unsupported, &[]),
                };
                Reply::Send {
                    frame: frame.expect("an attribute fits"),
                    pace: SimDuration::ZERO,
                }
            }
            Request::Apdu(apdu) => match self.reader.transmit(apdu) {
                Ok(t) => {
                    self.last_exchange = Some(Ok(t.duration));
                    match encode(&t.response) {
                        Ok(frame) => Reply::Send {
                            frame,
                            pace: t.duration,
                        },
                        // More than vpcd's framing carries (65,535 bytes with the status word).
                        Err(_) => {
                            self.lost = true;
                            Reply::Close
                        }
                    }
                }
                // The model lost the card (removal, no answer after the retries, the reader
                // gone): through vpcd a card leaving mid-APDU; kazasu's driver tells pcscd a
                // reader's time-out or its going away as such.
                Err(e) => {
                    self.last_exchange = Some(Err(e));
                    self.lost = true;
                    match e {
                        crate::reader::LinkError::NoAnswer => {
                            Reply::ReaderFault(ReaderFault::ResponseTimeout)
                        }
                        crate::reader::LinkError::ReaderUnplugged => {
                            Reply::ReaderFault(ReaderFault::Unplugged)
                        }
                        _ => Reply::Close,
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_follow_pcscds_naming_of_two_slot_readers() {
        assert_eq!(reader_name(0), "Virtual PCD 00 00");
        assert_eq!(reader_name(1), "Virtual PCD 00 01");
        assert_eq!(reader_name(2), "Virtual PCD 1 00 00");
        assert_eq!(reader_name(15), "Virtual PCD 7 00 01");
    }

    #[test]
    fn frames_split_anywhere_reassemble() {
        let stream = [
            0x00, 0x01, 0x04, 0x00, 0x05, 0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00,
        ];
        for cut in 0..stream.len() {
            let mut d = Decoder::default();
            d.push(&stream[..cut]);
            let mut got = Vec::new();
            while let Some(r) = d.next_request() {
                got.push(r.unwrap());
            }
            d.push(&stream[cut..]);
            while let Some(r) = d.next_request() {
                got.push(r.unwrap());
            }
            assert_eq!(
                got,
                [
                    Request::GetAtr,
                    Request::Apdu(vec![0x00, 0xA4, 0x04, 0x00, 0x00]),
                    Request::PowerOff
                ],
                "cut {cut}"
            );
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn reader_requests_of_kazasus_driver_decode_split_anywhere() {
        let mut stream = encode_control(0x4233_0012, &[0xAB]).expect("fits");
        stream.extend(encode_attribute(0x0001_0100));
        stream.extend(encode(&[0x04]).expect("fits"));
        for cut in 0..stream.len() {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                d.push(part);
                while let Some(r) = d.next_request() {
                    got.push(r.expect("valid"));
                }
            }
            assert_eq!(
                got,
                [
                    Request::Control {
                        code: 0x4233_0012,
                        data: vec![0xAB]
                    },
                    Request::Attribute(0x0001_0100),
                    Request::GetAtr
                ],
                "cut {cut}"
            );
        }
        let mut d = Decoder::default();
        d.push(&[0x00, 0x01, CONTROL, 0x00, 0x02, 0x42, 0x00]);
        assert_eq!(
            d.next_request(),
            Some(Err(VpcdError::ShortReaderRequest(2)))
        );
    }

    #[test]
    fn control_codes_and_errors() {
        let mut d = Decoder::default();
        d.push(&[0x00, 0x01, 0x03, 0x00, 0x00]);
        assert_eq!(d.next_request(), Some(Err(VpcdError::UnknownControl(3))));
        assert_eq!(d.next_request(), Some(Err(VpcdError::Empty)));
        assert_eq!(encode(&[0x90, 0x00]).unwrap(), [0x00, 0x02, 0x90, 0x00]);
        assert_eq!(encode(&vec![0; 65536]), Err(VpcdError::TooLong(65536)));
    }
}

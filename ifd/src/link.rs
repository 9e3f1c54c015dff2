//! The driver's side of the link to kazasu: a Unix socket per slot, speaking vsmartcard's vpcd
//! protocol (a 2-byte big-endian length, then a 1-byte power or ATR request or an APDU; the
//! answer framed the same way), so that kazasu's vpcd link serves it as it serves vpcd, plus two
//! requests of kazasu's own for what vpcd cannot carry: `SCardControl` and `SCardGetAttrib`. kazasu
//! connecting is a card arriving (the driver asks for its ATR at once), the connection closing
//! the card leaving. Every wait has a time-out; the thread ends when the channel closes.

use crate::slot::Slot;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// vpcd's request for the ATR.
const GET_ATR: u8 = 0x04;
/// kazasu's first frame on a connection, before the ATR (which never starts with `k`): kazasu
/// speaks its additions, and each of its answers then starts with [`ANSWER`] (the answer
/// follows) or [`FAULT`] (a fault code follows: [`FAULT_RESPONSE_TIMEOUT`],
/// [`FAULT_UNPLUGGED`], [`FAULT_MUTE`]). A holder that does not say so (vsmartcard's vicc, a test's stand-in)
/// answers plainly.
pub const KAZASU_HELLO: &[u8] = b"kazasu/1";
/// An answer follows.
pub const ANSWER: u8 = 0x00;
/// A part of an answer follows, the rest in the next frames (an answer too long for one frame
/// with its mark).
pub const ANSWER_PART: u8 = 0x02;
/// A fault code follows.
pub const FAULT: u8 = 0x01;
/// The card gave no answer after the reader's retries: `IFD_RESPONSE_TIMEOUT`.
pub const FAULT_RESPONSE_TIMEOUT: u8 = 1;
/// The reader went away: `IFD_NO_SUCH_DEVICE`.
pub const FAULT_UNPLUGGED: u8 = 2;
/// The answer to the ATR request of a card that never answered its activation: shown present,
/// its power-up fails (`IFD_ERROR_POWER_ACTION`).
pub const FAULT_MUTE: u8 = 3;

/// kazasu's addition: the next frame is an `SCardControl` request (code, 4 bytes big-endian,
/// and data); its answer is a [`ReaderAnswer`] byte and the data.
pub const CONTROL: u8 = 0x10;
/// kazasu's addition: the next frame is an `SCardGetAttrib` tag (4 bytes big-endian).
pub const ATTRIBUTE: u8 = 0x11;

/// The first byte of kazasu's answer to a [`CONTROL`] or [`ATTRIBUTE`] request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderAnswer {
    /// The data follows.
    Done,
    /// No such feature or attribute (or a malformed request).
    Unsupported,
    /// The reader failed the request.
    Failed,
}

impl ReaderAnswer {
    /// Splits an answer frame into its verdict and data.
    pub fn split(frame: &[u8]) -> (ReaderAnswer, &[u8]) {
        match frame.split_first() {
            Some((0, data)) => (ReaderAnswer::Done, data),
            Some((1, _)) => (ReaderAnswer::Unsupported, &[]),
            _ => (ReaderAnswer::Failed, &[]),
        }
    }
}
/// How long a read waits before the thread looks at whether it should end.
const POLL: Duration = Duration::from_millis(50);
/// How long kazasu has to send the ATR after connecting.
const ATR_WITHIN: Duration = Duration::from_secs(2);

/// One slot's socket and the card attached to it.
#[derive(Debug)]
pub struct Link {
    /// The slot pcscd sees.
    pub slot: Arc<Slot>,
    path: PathBuf,
    writer: Mutex<Option<UnixStream>>,
    closing: AtomicBool,
    /// The card's holder greeted the driver as kazasu: it answers reader requests.
    kazasu: AtomicBool,
}

impl Link {
    /// Listens on `path` (a stale socket file there is replaced) and serves kazasu's connections
    /// on a thread of its own, one at a time.
    pub fn start(path: &Path) -> std::io::Result<(Arc<Link>, JoinHandle<()>)> {
        if std::fs::symlink_metadata(path).is_ok() {
            std::fs::remove_file(path)?;
        }
        // A blocking accept: kazasu connecting is seen at once (closing wakes it, see `close`).
        let listener = UnixListener::bind(path)?;
        let link = Arc::new(Link {
            slot: Arc::new(Slot::default()),
            path: path.to_path_buf(),
            writer: Mutex::new(None),
            closing: AtomicBool::new(false),
            kazasu: AtomicBool::new(false),
        });
        let me = link.clone();
        let thread = std::thread::Builder::new()
            .name("kazasu-ifd link".into())
            .spawn(move || me.accept_loop(&listener))?;
        Ok((link, thread))
    }

    /// Ends the thread (within [`POLL`]) and removes the socket file.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        // Wake the accept: a connection the loop drops at once, seeing it is closing.
        let _ = UnixStream::connect(&self.path);
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    fn accept_loop(&self, listener: &UnixListener) {
        while !self.closing() {
            match listener.accept() {
                Ok(_) if self.closing() => break,
                Ok((stream, _)) => self.serve(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }

    /// Sends one request (a power byte or an APDU) to the attached card.
    pub fn send(&self, payload: &[u8]) -> std::io::Result<()> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        match writer.as_mut() {
            Some(w) => write_frame(w, payload),
            None => Err(ErrorKind::NotConnected.into()),
        }
    }

    /// Whether the card's holder is kazasu, which answers reader requests (a plain vpcd holder
    /// would never answer them).
    pub fn speaks_kazasu(&self) -> bool {
        self.kazasu.load(Ordering::SeqCst)
    }

    /// Sends a reader request: the announcing byte ([`CONTROL`] or [`ATTRIBUTE`]) and its body,
    /// in one write.
    pub fn send_reader_request(&self, kind: u8, code: u32, data: &[u8]) -> std::io::Result<()> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = writer.as_mut() else {
            return Err(ErrorKind::NotConnected.into());
        };
        w.write_all(&reader_request(kind, code, data)?)
    }

    fn serve(&self, stream: UnixStream) {
        let ready = stream.set_nonblocking(false).is_ok()
            && stream.set_read_timeout(Some(POLL)).is_ok()
            && stream.set_write_timeout(Some(ATR_WITHIN)).is_ok();
        let Some(mut writer) = ready.then(|| stream.try_clone().ok()).flatten() else {
            return;
        };
        let mut frames = Frames::new(stream);
        // The ATR request comes first on every connection: pcscd's requests (a power-up for a
        // card that came and went just before) reach the card only once it is attached.
        let first = match write_frame(&mut writer, &[GET_ATR]) {
            Ok(()) => frames.next(Instant::now() + ATR_WITHIN, &self.closing),
            Err(_) => Got::Closed,
        };
        // The card's ATR; empty for a card kazasu says is mute (shown present, never powered).
        let (kazasu, atr) = match first {
            Got::Frame(hello) if hello == KAZASU_HELLO => {
                match frames.next(Instant::now() + ATR_WITHIN, &self.closing) {
                    Got::Frame(reply) => match reply.split_first() {
                        Some((&ANSWER, atr)) if !atr.is_empty() => (true, Some(atr.to_vec())),
                        Some((&FAULT, [FAULT_MUTE, ..])) => (true, Some(Vec::new())),
                        _ => (true, None),
                    },
                    _ => (true, None),
                }
            }
            Got::Frame(atr) if !atr.is_empty() => (false, Some(atr)),
            _ => (false, None),
        };
        self.kazasu.store(kazasu, Ordering::SeqCst);
        if let Some(atr) = atr {
            *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
            self.slot.arrive(atr);
            let mut parts = Vec::new();
            loop {
                match frames.next(Instant::now() + POLL, &self.closing) {
                    Got::Frame(reply) if kazasu => match reply.split_first() {
                        Some((&ANSWER_PART, part)) => parts.extend_from_slice(part),
                        Some((&ANSWER, last)) => {
                            parts.extend_from_slice(last);
                            self.slot.answered(std::mem::take(&mut parts));
                        }
                        Some((&FAULT, [code, ..])) => self.slot.faulted(*code),
                        // Neither: kazasu broke its own protocol; the card is gone.
                        _ => break,
                    },
                    Got::Frame(answer) => self.slot.answered(answer),
                    Got::TimedOut => {}
                    Got::Closed => break,
                }
            }
            self.slot.leave();
        }
        *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// One vpcd frame: the 2-byte big-endian length and the payload.
pub fn frame(payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let len = u16::try_from(payload.len())
        .map_err(|_| std::io::Error::new(ErrorKind::InvalidInput, "longer than 65,535 bytes"))?;
    let mut frame = Vec::with_capacity(2 + payload.len());
    frame.extend(len.to_be_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// The two frames of a reader request: the announcing byte, then the code and the data.
pub fn reader_request(kind: u8, code: u32, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(data);
    let mut both = frame(&[kind])?;
    both.extend(frame(&body)?);
    Ok(both)
}

/// Writes one vpcd frame in one write.
fn write_frame(w: &mut UnixStream, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(&frame(payload)?)
}

/// What a read of the stream gave.
enum Got {
    Frame(Vec<u8>),
    TimedOut,
    /// The stream closed or failed, or the link is closing.
    Closed,
}

/// vpcd frames read from a stream with time-outs.
struct Frames {
    stream: UnixStream,
    pending: Vec<u8>,
    buf: Vec<u8>,
}

impl Frames {
    fn new(stream: UnixStream) -> Frames {
        Frames {
            stream,
            pending: Vec::new(),
            buf: vec![0; 70_000],
        }
    }

    fn take(&mut self) -> Option<Vec<u8>> {
        if self.pending.len() < 2 {
            return None;
        }
        let n = usize::from(u16::from_be_bytes([self.pending[0], self.pending[1]]));
        if self.pending.len() < 2 + n {
            return None;
        }
        let frame = self.pending[2..2 + n].to_vec();
        self.pending.drain(..2 + n);
        Some(frame)
    }

    /// The next frame, or why there is none by `deadline`.
    fn next(&mut self, deadline: Instant, closing: &AtomicBool) -> Got {
        loop {
            if let Some(f) = self.take() {
                return Got::Frame(f);
            }
            if closing.load(Ordering::SeqCst) {
                return Got::Closed;
            }
            if Instant::now() >= deadline {
                return Got::TimedOut;
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Got::Closed,
                Ok(n) => self.pending.extend_from_slice(&self.buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => return Got::Closed,
            }
        }
    }
}

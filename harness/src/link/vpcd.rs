//! The IO shell of a vpcd slot: a TCP connection to vsmartcard's vpcd driver inside pcscd — or a
//! Unix socket to kazasu's own driver (`kazasu-ifd`), which speaks the same protocol and is used
//! whenever its slot socket is there — carrying the sans-IO [`kazasu_sim::vpcd`] protocol. Tap =
//! connect, removal = close. The
//! socket is tuned for the real stack (TCP_NODELAY, TCP_QUICKACK re-armed before every read,
//! length and payload in one write — see "the 44 ms trap" in `docs/vpcd.md`), every
//! wait has a time-out, and the link reconnects with back-off when vpcd is not there yet or
//! restarts.

use kazasu_sim::vpcd::{
    Decoder, ReaderFault, Reply, Request, SlotCard, kazasu_answer, kazasu_fault, kazasu_hello,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whether the link waits out the modelled durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Pace {
    /// Answer as fast as possible.
    Fast,
    /// Wait out each exchange's simulated duration, so host software sees real timing.
    Realtime,
}

/// How often a link to kazasu's driver looks at its flags (a tap, a removal, stop).
const UNIX_POLL: Duration = Duration::from_millis(2);

/// How long before the end of a paced exchange the link stops sleeping and spins instead.
const SPIN_FOR: Duration = Duration::from_millis(1);

/// Where and how the link runs.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// vpcd's address (slot n: port 35963 + n).
    pub addr: SocketAddr,
    /// Pacing.
    pub pace: Pace,
    /// Longest wait for a read before the link checks whether it should stop.
    pub poll: Duration,
    /// A write that takes longer than this means a dead peer: the link closes.
    pub write_timeout: Duration,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
    /// Reversed mode: listen on `addr` for vpcd to connect (reader.conf with a host name)
    /// instead of connecting to it.
    pub listen: bool,
    /// kazasu's driver's socket for this slot: used instead of `addr` when it is there.
    pub socket: Option<PathBuf>,
}

/// Where kazasu's own pcscd driver (`kazasu-ifd`, `kazasu stack up --driver kazasu`) puts slot
/// `n`'s socket: one place per machine, as vpcd's ports are.
pub fn ifd_socket(n: u16) -> PathBuf {
    std::env::temp_dir()
        .join("kazasu-ifd")
        .join(format!("slot-{n}.sock"))
}

/// A connection to the driver: vpcd's TCP, or kazasu's driver's Unix socket.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn tune(&self, cfg: &LinkConfig) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => tune(s, cfg),
            // Local and cheap: look at the flags often, so a removal reaches the driver (and
            // pcscd, which it tells at once) within milliseconds.
            Stream::Unix(s) => {
                s.set_read_timeout(Some(cfg.poll.min(UNIX_POLL)))?;
                s.set_write_timeout(Some(cfg.write_timeout))
            }
        }
    }
    /// Before every read: Linux clears TCP_QUICKACK after use.
    fn rearm(&self) {
        if let Stream::Tcp(s) = self {
            let _ = socket2::SockRef::from(s).set_tcp_quickack(true);
        }
    }
    fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
    fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
    fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => (&*s).write_all(buf),
            Stream::Unix(s) => (&*s).write_all(buf),
        }
    }
}

impl LinkConfig {
    /// Defaults for slot `n` on this machine.
    pub fn slot(n: u16) -> LinkConfig {
        LinkConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], kazasu_sim::vpcd::BASE_PORT + n)),
            pace: Pace::Fast,
            poll: Duration::from_millis(100),
            write_timeout: Duration::from_secs(5),
            max_backoff: Duration::from_secs(1),
            listen: false,
            socket: Some(ifd_socket(n)),
        }
    }

    /// Defaults for a vpcd at `addr` (another machine's, or a stand-in): that vpcd, whatever
    /// driver this machine's pcscd has.
    pub fn vpcd_at(addr: SocketAddr) -> LinkConfig {
        LinkConfig {
            addr,
            socket: None,
            ..LinkConfig::slot(0)
        }
    }
}

/// Something the link saw, for transcripts.
#[derive(Clone, Debug)]
pub enum LinkEvent {
    /// Connected to the driver: the card is in the field.
    Connected(Via),
    /// The connection closed: the card left the field.
    Disconnected(String),
    /// A request and the reply bytes (the reply without the length prefix; empty for none).
    Exchange {
        /// The request.
        request: Request,
        /// The reply payload.
        reply: Vec<u8>,
        /// Modelled duration of the exchange.
        sim_ns: u64,
    },
    /// An answer the link was still pacing when the card left the field or serving stopped:
    /// the host never got it. Recorded with its due time, so that a real-time replay keeps the
    /// host waiting just as long.
    Undelivered {
        /// The request.
        request: Request,
        /// The reply payload that was due.
        reply: Vec<u8>,
        /// When it was due (modelled duration), nanoseconds.
        sim_ns: u64,
    },
}

/// The driver a link connected to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// vsmartcard's vpcd, at this address.
    Vpcd(SocketAddr),
    /// kazasu's own driver, on this socket.
    KazasuDriver(PathBuf),
    /// No driver: the host runs against the slot in-process.
    InProcess,
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Vpcd(a) => write!(f, "vpcd at {a}"),
            Via::KazasuDriver(p) => write!(f, "kazasu's driver at {}", p.display()),
            Via::InProcess => f.write_str("the host in-process"),
        }
    }
}

/// Control of a running link.
#[derive(Clone)]
pub struct LinkControl {
    present: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// APDUs answered so far.
    pub apdus: Arc<AtomicU64>,
    /// The card leaves the field right after answering this many APDUs (0: never).
    leave_after: Arc<AtomicU64>,
    /// The last connection went to kazasu's driver (not vpcd).
    on_kazasu_driver: Arc<AtomicBool>,
}

impl LinkControl {
    /// The card enters (`true`) or leaves (`false`) the field.
    pub fn set_present(&self, present: bool) {
        self.present.store(present, Ordering::SeqCst);
    }
    /// Whether the card should be in the field.
    pub fn is_present(&self) -> bool {
        self.present.load(Ordering::SeqCst)
    }
    /// The card leaves the field right after its answer to APDU number `n` (counted over the
    /// link's life), exactly there, however fast the host sends.
    pub fn leave_after_apdus(&self, n: u64) {
        self.leave_after.store(n, Ordering::SeqCst);
    }
    /// Whether the link's last connection went to kazasu's driver, which shows pcscd every
    /// arrival and departure as it happens (vpcd's are seen at pcscd's next 400 ms poll).
    pub fn on_kazasu_driver(&self) -> bool {
        self.on_kazasu_driver.load(Ordering::SeqCst)
    }
    /// Ends the link thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn tune(stream: &TcpStream, cfg: &LinkConfig) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(cfg.poll))?;
    stream.set_write_timeout(Some(cfg.write_timeout))?;
    socket2::SockRef::from(stream).set_tcp_quickack(true)?;
    Ok(())
}

/// Runs a link for `slot` on the current thread until stopped; `on_event` sees what happens.
pub fn run<S: SlotCard + ?Sized>(
    slot: Arc<Mutex<S>>,
    cfg: LinkConfig,
    control: LinkControl,
    on_event: &(dyn Fn(LinkEvent) + Sync),
) {
    let mut backoff = Duration::from_millis(20);
    let mut early = EarlyCloses::default();
    let listener = if cfg.listen {
        match std::net::TcpListener::bind(cfg.addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
        {
            Ok(l) => Some(l),
            Err(e) => {
                on_event(LinkEvent::Disconnected(format!(
                    "cannot listen on {}: {e}",
                    cfg.addr
                )));
                return;
            }
        }
    } else {
        None
    };
    while !control.stop.load(Ordering::SeqCst) {
        // Out of the field: removed by the user, or lost during an exchange (until the next tap).
        if !control.present.load(Ordering::SeqCst) || slot.lock().expect("slot lock").stays_away() {
            let nap = if control.on_kazasu_driver() {
                UNIX_POLL
            } else {
                Duration::from_millis(20)
            };
            std::thread::sleep(cfg.poll.min(nap));
            continue;
        }
        let attempt = match &listener {
            // Reversed mode: wait (briefly, then look at the flags again) for vpcd to connect.
            Some(l) => l
                .accept()
                .map(|(s, _)| s)
                .and_then(|s| s.set_nonblocking(false).map(|()| s))
                .map(Stream::Tcp),
            // kazasu's driver where its socket is there (and answers), vpcd otherwise.
            None => match cfg.socket.as_deref().map(UnixStream::connect) {
                Some(Ok(s)) => Ok(Stream::Unix(s)),
                _ => TcpStream::connect_timeout(&cfg.addr, Duration::from_secs(1)).map(Stream::Tcp),
            },
        };
        let Ok(stream) = attempt else {
            // vpcd is not there (yet): try again, a little later each time.
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(cfg.max_backoff);
            continue;
        };
        backoff = Duration::from_millis(20);
        control
            .on_kazasu_driver
            .store(matches!(stream, Stream::Unix(_)), Ordering::SeqCst);
        if stream.tune(&cfg).is_err() {
            continue;
        }
        // To kazasu's driver, kazasu says so first: its answers then carry a reader's faults.
        let kazasu = matches!(stream, Stream::Unix(_));
        if kazasu && stream.write_all(&kazasu_hello()).is_err() {
            continue;
        }
        if slot.lock().expect("slot lock").connected().is_err() {
            std::thread::sleep(cfg.poll);
            continue;
        }
        // A peer that accepts and closes at once (not vpcd, or a vpcd in trouble) would be
        // reconnected to thousands of times a second: within a burst of such connections only
        // the first is reported, and each next attempt waits longer.
        if early.closed == 0 {
            on_event(LinkEvent::Connected(match (&stream, &cfg.socket) {
                (Stream::Unix(_), Some(path)) => Via::KazasuDriver(path.clone()),
                _ => Via::Vpcd(cfg.addr),
            }));
        }
        let opened = Instant::now();
        let apdus_before = control.apdus.load(Ordering::SeqCst);
        let why = serve_connection(&stream, kazasu, &slot, &cfg, &control, on_event);
        stream.shutdown();
        if !control.present.load(Ordering::SeqCst) {
            slot.lock().expect("slot lock").disconnected();
        }
        let closed_early = opened.elapsed() < HEALTHY_SESSION
            && control.apdus.load(Ordering::SeqCst) == apdus_before
            && control.present.load(Ordering::SeqCst)
            && !control.stop.load(Ordering::SeqCst);
        if !closed_early {
            if early.closed > 1 {
                on_event(LinkEvent::Disconnected(format!(
                    "{} more connections closed at once before this one held",
                    early.closed - 1
                )));
            }
            early = EarlyCloses::default();
            on_event(LinkEvent::Disconnected(why));
            continue;
        }
        if early.closed == 0 {
            on_event(LinkEvent::Disconnected(format!(
                "{why}; the peer closed the connection at once: retrying with back-off \
                 ({} to {})",
                humantime::format_duration(EARLY_BACKOFF_FIRST),
                humantime::format_duration(EARLY_BACKOFF_MAX)
            )));
        }
        early.closed += 1;
        let pause = early.next_pause();
        let until = Instant::now() + pause;
        while Instant::now() < until && !control.stop.load(Ordering::SeqCst) {
            std::thread::sleep(cfg.poll.min(Duration::from_millis(20)));
        }
    }
}

/// A connection that ends sooner than this without serving an APDU closed "at once".
const HEALTHY_SESSION: Duration = Duration::from_secs(1);
/// The first pause after a connection that closed at once.
const EARLY_BACKOFF_FIRST: Duration = Duration::from_millis(50);
/// The longest pause between attempts while connections keep closing at once.
const EARLY_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A burst of connections that closed at once, and the back-off it earned.
#[derive(Default)]
struct EarlyCloses {
    /// Connections of the burst so far.
    closed: u64,
    /// A small generator for the jitter (seeded from the clock at the burst's first pause).
    jitter: u64,
}

impl EarlyCloses {
    /// The pause before the next attempt: 50 ms doubling up to 5 s, each within ±25 %.
    fn next_pause(&mut self) -> Duration {
        if self.jitter == 0 {
            self.jitter = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x9E37_79B9, |d| d.subsec_nanos() as u64)
                | 1;
        }
        // xorshift64
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let doublings = (self.closed.saturating_sub(1)).min(16) as u32;
        let base = EARLY_BACKOFF_FIRST
            .saturating_mul(1 << doublings)
            .min(EARLY_BACKOFF_MAX);
        let spread = (self.jitter % 501) as f64 / 1000.0 + 0.75;
        base.mul_f64(spread).min(EARLY_BACKOFF_MAX)
    }
}

fn serve_connection<S: SlotCard + ?Sized>(
    stream: &Stream,
    kazasu: bool,
    slot: &Mutex<S>,
    cfg: &LinkConfig,
    control: &LinkControl,
    on_event: &(dyn Fn(LinkEvent) + Sync),
) -> String {
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 70_000];
    loop {
        if control.stop.load(Ordering::SeqCst) {
            return "stopped".into();
        }
        if !control.present.load(Ordering::SeqCst) {
            return "card removed".into();
        }
        stream.rearm();
        let n = match stream.read(&mut buf) {
            Ok(0) => return "vpcd closed the connection".into(),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return format!("read failed: {e}"),
        };
        decoder.push(&buf[..n]);
        while let Some(request) = decoder.next_request() {
            let request = match request {
                Ok(r) => r,
                Err(e) => return format!("protocol error: {e}"),
            };
            let started = Instant::now();
            let reply = slot.lock().expect("slot lock").handle(&request);
            match reply {
                Reply::Nothing => on_event(LinkEvent::Exchange {
                    request,
                    reply: Vec::new(),
                    sim_ns: 0,
                }),
                Reply::Close => {
                    on_event(LinkEvent::Exchange {
                        request,
                        reply: Vec::new(),
                        sim_ns: 0,
                    });
                    return "the card left the field during the exchange".into();
                }
                Reply::ReaderFault(fault) => {
                    if kazasu && let Err(e) = stream.write_all(&kazasu_fault(fault)) {
                        return format!("write failed: {e}");
                    }
                    on_event(LinkEvent::Exchange {
                        request,
                        reply: Vec::new(),
                        sim_ns: 0,
                    });
                    match fault {
                        _ if !kazasu => {
                            return "the card left the field during the exchange".into();
                        }
                        ReaderFault::Unplugged => {
                            return "the reader was unplugged during the exchange".into();
                        }
                        ReaderFault::ResponseTimeout => {
                            slot.lock().expect("slot lock").stays_after_timeout();
                        }
                        // A mute card stays, shown to pcscd as one it cannot power up.
                        ReaderFault::Mute => {}
                    }
                }
                Reply::Send { frame, pace } => {
                    // What goes on the wire: to kazasu's driver, marked as an answer.
                    let wire = if kazasu {
                        match kazasu_answer(&frame) {
                            Ok(f) => f,
                            Err(e) => return format!("protocol error: {e}"),
                        }
                    } else {
                        frame.clone()
                    };
                    if cfg.pace == Pace::Realtime {
                        // Wait out the modelled duration, in steps, so that a removal (or the
                        // host's watchdog) still ends a long exchange at once.
                        let target: Duration = pace.into();
                        while let Some(rest) = target.checked_sub(started.elapsed()) {
                            if rest.is_zero()
                                || !control.present.load(Ordering::SeqCst)
                                || control.stop.load(Ordering::SeqCst)
                            {
                                break;
                            }
                            // A sleep wakes up late, by tens to hundreds of microseconds on a
                            // busy machine: sleep until shortly before the end, then spin until
                            // it (at most a millisecond of a core per exchange).
                            if rest > SPIN_FOR {
                                std::thread::sleep(
                                    (rest - SPIN_FOR).min(Duration::from_millis(20)),
                                );
                            } else {
                                std::hint::spin_loop();
                            }
                        }
                        if !control.present.load(Ordering::SeqCst) {
                            on_event(LinkEvent::Undelivered {
                                request,
                                reply: frame[2..].to_vec(),
                                sim_ns: pace.as_nanos(),
                            });
                            return "card removed during the exchange".into();
                        }
                    }
                    // Counted before the write, so that whoever reads the answer sees the count.
                    if matches!(request, Request::Apdu(_)) {
                        control.apdus.fetch_add(1, Ordering::SeqCst);
                    }
                    if let Err(e) = stream.write_all(&wire) {
                        return format!("write failed: {e}");
                    }
                    on_event(LinkEvent::Exchange {
                        request,
                        reply: frame[2..].to_vec(),
                        sim_ns: pace.as_nanos(),
                    });
                    if slot.lock().expect("slot lock").leave_after_reply() {
                        return "the card left the field".into();
                    }
                    let limit = control.leave_after.load(Ordering::SeqCst);
                    if limit > 0 && control.apdus.load(Ordering::SeqCst) >= limit {
                        control.leave_after.store(0, Ordering::SeqCst);
                        control.set_present(false);
                        let apdus = if limit == 1 { "APDU" } else { "APDUs" };
                        return format!("the card left the field after {limit} {apdus}");
                    }
                }
            }
        }
    }
}

/// Starts a link on its own thread; the card starts in the field.
pub fn spawn<S: SlotCard + Send + ?Sized + 'static>(
    slot: Arc<Mutex<S>>,
    cfg: LinkConfig,
    on_event: Arc<dyn Fn(LinkEvent) + Send + Sync>,
) -> (LinkControl, std::thread::JoinHandle<()>) {
    spawn_with(slot, cfg, on_event, true)
}

/// Starts a link on its own thread, with the card in the field or not.
pub fn spawn_with<S: SlotCard + Send + ?Sized + 'static>(
    slot: Arc<Mutex<S>>,
    cfg: LinkConfig,
    on_event: Arc<dyn Fn(LinkEvent) + Send + Sync>,
    present: bool,
) -> (LinkControl, std::thread::JoinHandle<()>) {
    let control = LinkControl {
        present: Arc::new(AtomicBool::new(present)),
        stop: Arc::new(AtomicBool::new(false)),
        apdus: Arc::new(AtomicU64::new(0)),
        leave_after: Arc::new(AtomicU64::new(0)),
        on_kazasu_driver: Arc::new(AtomicBool::new(false)),
    };
    let c = control.clone();
    let handle = std::thread::spawn(move || run(slot, cfg, c, &*on_event));
    (control, handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_50_ms_to_5_s_with_jitter() {
        let mut e = EarlyCloses::default();
        let mut pauses = Vec::new();
        for n in 1..=12 {
            e.closed = n;
            pauses.push(e.next_pause());
        }
        assert!(pauses[0] >= Duration::from_millis(37) && pauses[0] <= Duration::from_millis(63));
        assert!(pauses[3] >= Duration::from_millis(300) && pauses[3] <= Duration::from_millis(500));
        assert!(pauses.iter().all(|p| *p <= EARLY_BACKOFF_MAX));
        assert!(pauses[11] >= Duration::from_millis(3750));
    }
}

//! The vpcd link against a stand-in for vpcd's side of the socket (no pcscd needed): framing,
//! control codes, GET ATR at any time, APDUs through the reader model, reconnection, and the
//! reversed (listening) mode.

mod common;
use common::{frame, read_frame};
use kazasu::link::vpcd::{self, LinkConfig};
use kazasu_sim::vpcd::Slot;
use kazasu_sim::{Card, CardProfile, FaultPlan, Fixtures, Reader, ReaderProfile};
use rand_core::SeedableRng;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SELECT_JPKI: [u8; 15] = [
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];
const ATR: [u8; 13] = [
    0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x05, 0xE0, 0xB3, 0x81, 0xA1, 0x00, 0x7F,
];

fn slot() -> Arc<Mutex<Slot>> {
    let card = Card::new(
        Arc::new(CardProfile::builtin("mynumber-card").unwrap()),
        Fixtures::embedded().default_subject(),
        1,
    )
    .unwrap();
    let reader = Reader::new(
        Arc::new(ReaderProfile::builtin("typical-424k").unwrap()),
        card,
        FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    );
    Arc::new(Mutex::new(Slot::new(reader)))
}

/// Drives a connection as vpcd would: GET ATR, power off, GET ATR, power on, an APDU.
fn talk_like_vpcd(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&frame(&[0x04])).unwrap();
    assert_eq!(read_frame(s), ATR);
    s.write_all(&frame(&[0x00])).unwrap();
    s.write_all(&frame(&[0x04])).unwrap();
    assert_eq!(read_frame(s), ATR, "GET ATR is answered while powered off");
    s.write_all(&frame(&[0x01])).unwrap();
    s.write_all(&frame(&SELECT_JPKI)).unwrap();
    assert_eq!(read_frame(s), [0x90, 0x00]);
    // Two frames in one write, and one frame split over two writes.
    let mut two = frame(&[0x00, 0xB0, 0x86, 0x00, 0x20]);
    two.extend(frame(&[0x04]));
    s.write_all(&two).unwrap();
    let token = read_frame(s);
    assert_eq!(&token[..15], b"JPKIAPICCTOKEN2");
    assert_eq!(read_frame(s), ATR);
    let split = frame(&[0x00, 0xB0, 0x86, 0x00, 0x04]);
    s.write_all(&split[..3]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(&split[3..]).unwrap();
    assert_eq!(read_frame(s), [0x4A, 0x50, 0x4B, 0x49, 0x90, 0x00]);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_link_connects_to_vpcd_and_reconnects_after_it_restarts() {
    let vpcd = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = LinkConfig::vpcd_at(vpcd.local_addr().unwrap());
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let (control, handle) = vpcd::spawn(
        slot(),
        cfg,
        Arc::new(move |e| ev.lock().unwrap().push(format!("{e:?}"))),
    );
    let (mut s, _) = vpcd.accept().unwrap();
    talk_like_vpcd(&mut s);
    // vpcd goes away; the link comes back to the next one.
    drop(s);
    let (mut s, _) = vpcd.accept().unwrap();
    talk_like_vpcd(&mut s);
    assert_eq!(control.apdus.load(std::sync::atomic::Ordering::Relaxed), 6);
    control.stop();
    handle.join().unwrap();
    let log = events.lock().unwrap().join("\n");
    assert_eq!(log.matches("Connected").count(), 2, "{log}");
}

#[test]
fn reversed_mode_listens_for_vpcd() {
    let port = free_port();
    let mut cfg = LinkConfig::vpcd_at(SocketAddr::from(([127, 0, 0, 1], port)));
    cfg.listen = true;
    let (control, handle) = vpcd::spawn(slot(), cfg, Arc::new(|_| {}));
    let mut s = (0..100)
        .find_map(|_| {
            TcpStream::connect(("127.0.0.1", port)).ok().or_else(|| {
                std::thread::sleep(Duration::from_millis(20));
                None
            })
        })
        .expect("the link listens");
    talk_like_vpcd(&mut s);
    control.stop();
    handle.join().unwrap();
}

#[test]
fn a_removal_closes_the_connection() {
    let vpcd = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = LinkConfig::vpcd_at(vpcd.local_addr().unwrap());
    let (control, handle) = vpcd::spawn(slot(), cfg, Arc::new(|_| {}));
    let (mut s, _) = vpcd.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&frame(&[0x04])).unwrap();
    assert_eq!(read_frame(&mut s), ATR);
    control.set_present(false);
    let mut buf = [0u8; 8];
    assert_eq!(
        s.read(&mut buf).unwrap(),
        0,
        "vpcd sees the card leave: the socket closes"
    );
    control.stop();
    handle.join().unwrap();
}

/// `serve --vpcd` to a peer that accepts and closes at once once reconnected 85,000 times in
/// 10 s at 62 % CPU, its transcript growing 1.2 MB/s. Now each next attempt waits longer (50 ms
/// doubling to 5 s, with jitter), and the transcript holds one removal line for the burst.
#[test]
fn a_peer_that_closes_at_once_gets_back_off_not_a_flood() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let closer = std::thread::spawn(move || {
        while !stopped.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((s, _)) => {
                    counter.fetch_add(1, Ordering::SeqCst);
                    drop(s);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    let dir = std::env::temp_dir().join(format!("kazasu-closer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let transcript = dir.join("t.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args([
            "serve",
            "--vpcd",
            &format!("127.0.0.1:{port}"),
            "--duration",
            "5s",
        ])
        .arg("--transcript")
        .arg(&transcript)
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    closer.join().unwrap();
    let n = accepted.load(Ordering::SeqCst);
    // 50 + 100 + 200 + 400 + 800 + 1600 + 3200 ms (±25 %): about eight attempts in 5 s.
    assert!((2..=20).contains(&n), "{n} connections in 5 s");
    let lines = std::fs::read_to_string(&transcript).unwrap();
    let removals = lines.lines().filter(|l| l.contains("card_removed")).count();
    assert!(removals <= 2, "{removals} removal lines: {lines}");
    assert!(
        lines.contains("retrying with back-off"),
        "{lines}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! A card emulator that does nothing: it answers GET ATR with a fixed ATR and every APDU with
//! 90 00, over vpcd's protocol with the same socket settings as kazasu's link (TCP_NODELAY,
//! TCP_QUICKACK re-armed before every read, length and payload in one write). Through pcscd it
//! measures the floor of the stack: what pcscd + vpcd cost with a card that costs nothing.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The ATR it presents (a generic ISO 14443-4 card as a PC/SC part 3 reader shows it).
pub const ATR: [u8; 6] = [0x3B, 0x81, 0x80, 0x01, 0x80, 0x80];

/// Runs until `stop`; connects to vpcd at `addr`.
pub fn run(addr: SocketAddr, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = Vec::with_capacity(70_000);
        let mut chunk = vec![0u8; 70_000];
        'conn: while !stop.load(Ordering::SeqCst) {
            let _ = socket2::SockRef::from(&s).set_tcp_quickack(true);
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(_) => break,
            }
            while buf.len() >= 2 {
                let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
                if buf.len() < 2 + len {
                    break;
                }
                let payload: Vec<u8> = buf.drain(..2 + len).skip(2).collect();
                let reply: &[u8] = match payload.as_slice() {
                    [0x04] => &ATR,
                    [_] => continue,
                    _ => &[0x90, 0x00],
                };
                let mut frame = (reply.len() as u16).to_be_bytes().to_vec();
                frame.extend_from_slice(reply);
                if s.write_all(&frame).is_err() {
                    break 'conn;
                }
            }
        }
    }
}

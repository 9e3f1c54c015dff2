//! Helpers shared by the integration tests.

/// Runs the `kazasu` binary; returns its exit code, stdout and stderr.
#[allow(dead_code)]
pub fn kazasu(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kazasu"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A vpcd frame: 2-byte big-endian length, then the payload.
#[allow(dead_code)]
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// Reads one vpcd frame's payload.
#[allow(dead_code)]
pub fn read_frame(s: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut payload).unwrap();
    payload
}

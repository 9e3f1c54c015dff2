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

/// Runs `program` in `dir` with the kazasu binary's folder first on PATH, as a user with kazasu
/// installed runs it from a folder of theirs; returns its exit code and stdout + stderr.
#[allow(dead_code)]
pub fn run_in(dir: &std::path::Path, program: &str, args: &[&str]) -> (Option<i32>, String) {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_kazasu"))
        .parent()
        .expect("the binary's folder")
        .display()
        .to_string();
    let out = std::process::Command::new(program)
        .current_dir(dir)
        .args(args)
        .env(
            "PATH",
            format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default()),
        )
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

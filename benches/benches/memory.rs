//! Memory for big but legal inputs, by peak resident size of the kazasu binary: importing and
//! replaying a 250 MiB pcscd capture (a certificate read over and over, every answer the virtual
//! card's own, so the replay matches), and running a scenario of 45,000 reads with `--json` and
//! `--html`. Targets (targets.rs): each at most 512 MB.
//!
//! The binary measured is `target/release/kazasu` (or `$KAZASU_BIN`); `ci/bench-check.sh`
//! builds it first. Each command runs under this bench started again as a wrapper, whose only
//! child is that command: the wrapper's `getrusage(RUSAGE_CHILDREN)` is the command's own peak.
//!
//! `cargo build --release && cargo bench -p kazasu-benches --bench memory`

use kazasu_benches::powered_card;
use kazasu_benches::targets::{IMPORT_PEAK, REPLAY_PEAK, RUN_PEAK, Target};
use kazasu_sim::SimTime;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The capture's length.
const CAPTURE_BYTES: usize = 250 << 20;
/// The scenario's reads.
const READS: usize = 45_000;
/// The wrapper's first argument.
const WRAP: &str = "--peak-of";

/// The commands of a certificate read as reading software sends them, with the virtual card's
/// answers: SELECT the JPKI AP, SELECT EF 000A, READ BINARY in 255-byte chunks to its end.
fn certificate_read() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut card = powered_card("mynumber-card");
    let mut exchange = |command: Vec<u8>| {
        let answer = card
            .process(&command, SimTime::START)
            .answer()
            .expect("a powered card answers")
            .response;
        let mut bytes = answer.data.clone();
        bytes.extend_from_slice(&answer.sw.0.to_be_bytes());
        (command, bytes)
    };
    let mut out = vec![
        exchange(vec![
            0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00,
            0x01,
        ]),
        exchange(vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A]),
    ];
    let mut offset = 0u16;
    loop {
        let (command, answer) = exchange(vec![0x00, 0xB0, (offset >> 8) as u8, offset as u8, 0xFF]);
        let ok = answer.ends_with(&[0x90, 0x00]);
        let full = answer.len() == 257;
        out.push((command, answer));
        if !ok || !full {
            break;
        }
        offset += 0xFF;
    }
    out
}

fn spaced(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X} ")).collect()
}

/// A pcscd `--debug --apdu` log of `CAPTURE_BYTES`, with the lines pcscd writes around each
/// APDU; one card session.
fn write_capture(path: &Path) -> usize {
    let read = certificate_read();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("capture file"));
    let head = "00000050 debuglog.c:411:DebugLogSetCategory() Debug options: APDU\n\
        00000003 eventhandler.c:423:EHStatusHandlerThread() Card inserted into Virtual PCD 00 00\n\
        00000005 Card ATR: 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F \n\
        00000066 winscard_svc.c:361:ContextThread() Received command: CONNECT from client 12\n\
        00000003 winscard.c:258:SCardConnect() Attempting Connect to Virtual PCD 00 00 using protocol: 3\n";
    let mut written = head.len();
    f.write_all(head.as_bytes()).unwrap();
    let mut exchanges = 0;
    'fill: loop {
        for (command, answer) in &read {
            let block = format!(
                "00000181 winscard_svc.c:361:ContextThread() Received command: TRANSMIT from client 12\n\
                 00000009 readerfactory.c:866:RFReaderInfoById() RefReader() count was: 1\n\
                 00000002 winscard.c:1596:SCardTransmit() Send Protocol: T=1\n\
                 00000003 APDU: {}\n\
                 00000076 SW: {}\n\
                 00000002 winscard.c:1649:SCardTransmit() UnrefReader() count was: 2\n\
                 00000002 winscard_svc.c:694:ContextThread() TRANSMIT for client 12, rv=SCARD_S_SUCCESS\n",
                spaced(command),
                spaced(answer)
            );
            if written + block.len() > CAPTURE_BYTES {
                break 'fill;
            }
            f.write_all(block.as_bytes()).unwrap();
            written += block.len();
            exchanges += 1;
        }
    }
    f.flush().unwrap();
    exchanges
}

/// A scenario of `READS` READ BINARY commands on the authentication certificate.
fn write_reads(path: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("scenario file"));
    writeln!(
        f,
        "name: {READS} reads\ncard: mynumber-card\nbudget: {{ total: 2h }}\nsteps:\n  - tap\n  \
         - select: jpki\n  - apdu: 00 A4 02 0C 02 00 0A\n    expect: {{ sw: \"9000\" }}"
    )
    .unwrap();
    for _ in 0..READS {
        writeln!(
            f,
            "  - apdu: 00 B0 00 00 FF\n    expect: {{ sw: \"9000\", data_len: 255 }}"
        )
        .unwrap();
    }
    f.flush().unwrap();
}

/// The kazasu binary to measure.
fn kazasu_bin() -> PathBuf {
    let bin = std::env::var_os("KAZASU_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/kazasu"));
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build --release` (or set KAZASU_BIN)",
        bin.display()
    );
    bin
}

/// Runs `args` under a wrapper (this bench again) and returns the command's peak in MB and
/// its exit code.
fn peak_of(args: &[&std::ffi::OsStr]) -> (f64, i32) {
    let out = Command::new(std::env::current_exe().expect("this bench"))
        .arg(WRAP)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("the wrapper runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("peak_kb "))
        .unwrap_or_else(|| panic!("the wrapper printed no peak: {text}"));
    let mut parts = line.split_whitespace();
    let kb: f64 = parts.next().and_then(|k| k.parse().ok()).expect("peak");
    let code: i32 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .expect("exit code");
    (kb * 1024.0 / 1e6, code)
}

/// The wrapper: runs its arguments as a command (its output discarded, the end of its errors
/// shown when it fails) and prints its peak.
fn wrap(args: Vec<std::ffi::OsString>) -> ! {
    let out = Command::new(&args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("the measured command starts");
    let status = out.status;
    if !status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        for l in tail.iter().rev() {
            eprintln!("  | {l}");
        }
    }
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    println!(
        "peak_kb {} {}",
        usage.max_rss(),
        status.code().unwrap_or(-1)
    );
    std::process::exit(0)
}

fn judge(what: &str, target: Target, mb: f64, code: i32, want_code: i32) -> bool {
    let ok = code == want_code;
    println!(
        "{what}: peak {mb:.0} MB (exit {code}{}); target {} MB: {}",
        if ok { "" } else { ", NOT as expected" },
        target.bound,
        if ok { target.verdict(mb) } else { "MISS" }
    );
    ok && target.met(mb)
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == WRAP) {
        wrap(args.collect());
    }
    let bin = kazasu_bin();
    let dir = std::env::temp_dir().join(format!("kazasu-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("clinic.pcscd.log");
    let exchanges = write_capture(&capture);
    let imported = dir.join("clinic.yaml");
    let reads = dir.join("reads.yaml");
    write_reads(&reads);
    let (json, html) = (dir.join("reads.json"), dir.join("reads.html"));
    println!(
        "== memory: a {} MiB pcscd capture of {exchanges} exchanges; a scenario of {READS} reads",
        CAPTURE_BYTES >> 20
    );
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let (import_mb, import_code) = peak_of(&[
        bin.as_os_str(),
        os("import"),
        os("pcscd"),
        capture.as_os_str(),
        os("-o"),
        imported.as_os_str(),
    ]);
    let (replay_mb, replay_code) = peak_of(&[
        bin.as_os_str(),
        os("replay"),
        os("--as"),
        os("host"),
        capture.as_os_str(),
    ]);
    let (run_mb, run_code) = peak_of(&[
        bin.as_os_str(),
        os("run"),
        reads.as_os_str(),
        os("--json"),
        json.as_os_str(),
        os("--html"),
        html.as_os_str(),
    ]);
    let all = [
        judge(IMPORT_PEAK.ratio, IMPORT_PEAK, import_mb, import_code, 0),
        judge(REPLAY_PEAK.ratio, REPLAY_PEAK, replay_mb, replay_code, 0),
        judge(RUN_PEAK.ratio, RUN_PEAK, run_mb, run_code, 0),
    ];
    let _ = std::fs::remove_dir_all(&dir);
    if all.contains(&false) {
        std::process::exit(1);
    }
}

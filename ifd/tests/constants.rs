//! Every constant the driver hands pcscd, and the width of its C types, against pcsc-lite's own
//! headers (`ifdhandler.h`, `reader.h`, from libpcsclite-dev): a small C program including them
//! prints each value, compiled with the system's C compiler. A wrong constant in a driver is easy
//! to write and hard to see (pcscd just behaves as if the capability were missing).

use kazasu_ifd::ffi::constants::*;
use kazasu_ifd::ffi::{Dword, ResponseCode};

/// Whether a missing header or compiler must fail the test (CI, or asked for).
fn must_run() -> bool {
    std::env::var_os("CI").is_some_and(|v| v == "true") || std::env::var_os("KAZASU_PCSC").is_some()
}

#[test]
fn every_constant_matches_pcsc_lites_headers() {
    let names: Vec<(&str, i128)> = vec![
        ("IFD_SUCCESS", IFD_SUCCESS as i128),
        ("IFD_ERROR_TAG", IFD_ERROR_TAG as i128),
        ("IFD_ERROR_SET_FAILURE", IFD_ERROR_SET_FAILURE as i128),
        ("IFD_ERROR_NOT_SUPPORTED", IFD_ERROR_NOT_SUPPORTED as i128),
        (
            "IFD_PROTOCOL_NOT_SUPPORTED",
            IFD_PROTOCOL_NOT_SUPPORTED as i128,
        ),
        ("IFD_ERROR_POWER_ACTION", IFD_ERROR_POWER_ACTION as i128),
        ("IFD_COMMUNICATION_ERROR", IFD_COMMUNICATION_ERROR as i128),
        ("IFD_RESPONSE_TIMEOUT", IFD_RESPONSE_TIMEOUT as i128),
        ("IFD_NOT_SUPPORTED", IFD_NOT_SUPPORTED as i128),
        ("IFD_ICC_PRESENT", IFD_ICC_PRESENT as i128),
        ("IFD_ICC_NOT_PRESENT", IFD_ICC_NOT_PRESENT as i128),
        ("IFD_NO_SUCH_DEVICE", IFD_NO_SUCH_DEVICE as i128),
        (
            "IFD_ERROR_INSUFFICIENT_BUFFER",
            IFD_ERROR_INSUFFICIENT_BUFFER as i128,
        ),
        ("IFD_POWER_UP", IFD_POWER_UP as i128),
        ("IFD_POWER_DOWN", IFD_POWER_DOWN as i128),
        ("IFD_RESET", IFD_RESET as i128),
        ("TAG_IFD_ATR", TAG_IFD_ATR as i128),
        ("TAG_IFD_SLOT_THREAD_SAFE", TAG_IFD_SLOT_THREAD_SAFE as i128),
        ("TAG_IFD_THREAD_SAFE", TAG_IFD_THREAD_SAFE as i128),
        ("TAG_IFD_SLOTS_NUMBER", TAG_IFD_SLOTS_NUMBER as i128),
        (
            "TAG_IFD_SIMULTANEOUS_ACCESS",
            TAG_IFD_SIMULTANEOUS_ACCESS as i128,
        ),
        (
            "TAG_IFD_POLLING_THREAD_KILLABLE",
            TAG_IFD_POLLING_THREAD_KILLABLE as i128,
        ),
        (
            "TAG_IFD_STOP_POLLING_THREAD",
            TAG_IFD_STOP_POLLING_THREAD as i128,
        ),
        (
            "TAG_IFD_POLLING_THREAD_WITH_TIMEOUT",
            TAG_IFD_POLLING_THREAD_WITH_TIMEOUT as i128,
        ),
        ("SCARD_ATTR_ATR_STRING", SCARD_ATTR_ATR_STRING as i128),
        ("SCARD_PROTOCOL_T1", SCARD_PROTOCOL_T1 as i128),
        ("sizeof(DWORD)", size_of::<Dword>() as i128),
        ("sizeof(RESPONSECODE)", size_of::<ResponseCode>() as i128),
        (
            "sizeof(SCARD_IO_HEADER)",
            size_of::<kazasu_ifd::ffi::ScardIoHeader>() as i128,
        ),
    ];
    let header = std::path::Path::new("/usr/include/PCSC/ifdhandler.h");
    if !header.exists() {
        assert!(
            !must_run(),
            "{} is missing: install libpcsclite-dev",
            header.display()
        );
        eprintln!("skipped: no {} (install libpcsclite-dev)", header.display());
        return;
    }
    let dir = std::env::temp_dir().join(format!("kazasu-ifd-constants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = String::from(
        "#include <stdio.h>\n#include <PCSC/wintypes.h>\n#include <PCSC/pcsclite.h>\n#include <PCSC/ifdhandler.h>\n#include <PCSC/reader.h>\nint main(void) {\n",
    );
    for (name, _) in &names {
        c.push_str(&format!(
            "  printf(\"%s %lld\\n\", \"{name}\", (long long)({name}));\n"
        ));
    }
    c.push_str("  return 0;\n}\n");
    std::fs::write(dir.join("probe.c"), c).unwrap();
    let built = std::process::Command::new("cc")
        .current_dir(&dir)
        .args(["-I/usr/include/PCSC", "probe.c", "-o", "probe"])
        .output();
    let built = match built {
        Ok(o) => o,
        Err(e) => {
            assert!(!must_run(), "no C compiler (cc): {e}");
            eprintln!("skipped: no C compiler ({e})");
            return;
        }
    };
    assert!(
        built.status.success(),
        "the probe does not compile: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = std::process::Command::new(dir.join("probe"))
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut wrong = Vec::new();
    for ((name, ours), line) in names.iter().zip(printed.lines()) {
        let theirs: i128 = line.rsplit(' ').next().unwrap().parse().unwrap();
        if theirs != *ours {
            wrong.push(format!(
                "{name}: the header says {theirs}, the driver {ours}"
            ));
        }
    }
    assert_eq!(printed.lines().count(), names.len(), "{printed}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
